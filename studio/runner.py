"""How every tab's long job runs, and how often it reports.

- `JobRunner.stream`: the stages every job goes through, whichever tab it is in (see its numbered comments).
- `user_errors`: an NSTError inside becomes the visitor's one sentence (gr.Error), never a traceback.
- `told`, `reported`: that sentence shown first as the status line, then raised (a job's failure, and a one-shot
  handler's): the page keeps what it showed, with no red "Error" badges; API clients get the error event.
- `status_update`: a tab's update that shows only a status line (while its job waits for a slot, or failed).
- `Throttle`: how often a streaming job sends an update and a new picture.

What a job computes and what its updates look like are the tab's; this module knows neither.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

import gradio as gr

from nst_core import NSTError
from nst_core.errors import NotDownloaded

from .controls import OFFLINE_WAY_OUT
from .jobs import JobBoard, session_of

Checked = TypeVar("Checked")
Update = TypeVar("Update")
UPDATE_INTERVAL = 0.1  # seconds between status updates: Stop is honoured at the next yield
PREVIEW_INTERVAL = 0.25  # at most 4 pictures a second: each is encoded, written and fetched by the browser
ONE_JOB = "You already have a job running; stop it or wait for it to finish."


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """An NSTError raised inside reaches the visitor as its one sentence (gr.Error, no traceback in the log)."""
    try:
        yield
    except NSTError as error:
        text = str(error)
        if isinstance(error, NotDownloaded):  # what to do instead, in a sentence short enough for a toast
            weights = f"The {error.source} weights" if error.source else "These weights"
            text = f"{weights} are not downloaded and this server could not fetch them; {OFFLINE_WAY_OUT}."
        raise gr.Error(text, print_exception=False) from None


class Failure:
    """What `told` caught: nothing (false), or the visitor's sentence as an update and as the error to raise."""

    def __init__(self) -> None:
        self.update: Any = None
        self.error: gr.Error | None = None

    def __bool__(self) -> bool:
        return self.error is not None


@contextlib.contextmanager
def told(show: Callable[[str], Any]) -> Iterator[Failure]:
    """Like `user_errors`, but the error is kept instead of raised, with `show(sentence)` (a status line), for a
    generator handler to yield the update first and raise the error after it."""
    failure = Failure()
    try:
        with user_errors():
            yield failure
    except gr.Error as error:
        failure.update, failure.error = show(error.message), error


def reported(show: Callable[[str], Update], compute: Callable[[], Update]) -> Iterator[Update]:
    """A one-shot handler's update, as a generator: `compute()`'s, or for a failure the visitor can act on, the
    status line `show(sentence)` and then the error, as `JobRunner.stream` does for a job (its event hides
    Gradio's progress overlays, or every output gets a red "Error" badge)."""
    with told(show) as failed:
        update = compute()
    if failed:
        yield failed.update
        raise failed.error
    yield update


def status_update(index: int, count: int) -> Callable[[str], tuple]:
    """For a handler with `count` outputs: the update that shows a status line as output `index` and leaves the
    others as they are (`JobRunner.stream`'s `waiting`)."""

    def update(line: str) -> tuple:
        return tuple(line if i == index else gr.skip() for i in range(count))

    return update


class JobRunner:
    """Runs each tab's jobs on this server's job board: one job per browser session across all tabs, first come
    first served on the compute slots."""

    def __init__(self, board: JobBoard) -> None:
        self.board = board

    def stream(self, request: Any, check: Callable[[], Checked],
               job: Callable[[Checked, str], Iterator[Update]], *, waiting: Callable[[str], Update],
               first: Callable[[Checked, str], Iterator[Update]] | None = None) -> Iterator[Update]:
        """A job's updates for a Gradio generator handler to yield from.

        `check()` turns the inputs into what the job takes (an NSTError: the visitor's mistake); `job(checked,
        session)` and `first(checked, session)` yield the tab's updates; `waiting(line)` is the update that shows
        only a status line: while the job waits for a compute slot, and what went wrong when it fails.

        A failure the visitor can act on is told twice: its sentence as the status line (every other output left
        as it was: the last picture stays), then as a gr.Error (the toast, and the API's error event). The tab's
        Run event hides Gradio's progress overlays (`studio.buttons.run_button`), which would otherwise mark every
        output of the event with a red "Error" badge over what it showed.
        """
        # 1. Check the inputs before the job takes a place: a mistake costs the visitor no wait.
        with told(waiting) as failed:
            checked = check()
        if failed:
            yield failed.update
            raise failed.error
        # 2. Take the session's one place on the board; a second job (from any tab) is refused at once.
        session = session_of(request)
        ticket = self.board.join(session)
        if ticket is None:
            yield waiting(ONE_JOB)
            raise gr.Error(ONE_JOB, print_exception=False)
        try:
            with told(waiting) as failed:
                # 3. What can be shown before a slot is free (a fast network's picture).
                if first is not None:
                    yield from first(checked, session)
                # 4. Wait for a compute slot, saying how many jobs are ahead (each yield is where Stop can act).
                for line in self.board.wait_for_slot(ticket):
                    yield waiting(line)
                # 5. The job itself.
                yield from job(checked, session)
        finally:
            # 6. Leave the board whatever happened: finished, failed, or stopped (Stop closes the generator).
            self.board.leave(ticket)
        if failed:  # 7. After leaving the board: the status line, then the error that ends the event.
            yield failed.update
            raise failed.error


class Due(NamedTuple):
    send: bool  # send an update now
    picture: bool  # with the event's new picture


class Throttle:
    """When a streaming job sends an update: at most every `update` seconds, and a new picture at most every
    `picture` seconds (pictures are dear: encoded, written and fetched), but the last event always, with its
    picture. Updates come often all the same, because Stop acts only at a yield."""

    def __init__(self, *, update: float = UPDATE_INTERVAL, picture: float = PREVIEW_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.update, self.picture, self.clock = update, picture, clock
        self.last_update = self.last_picture = -math.inf

    def due(self, *, picture: bool, last: bool = False, urgent: bool = False) -> Due:
        """`picture`: the event has a new picture; `last`: it is the job's last event; `urgent`: send it now
        whenever the last update was (a new best network to keep)."""
        now = self.clock()
        fresh = picture and (last or now - self.last_picture >= self.picture)
        send = fresh or last or urgent or now - self.last_update >= self.update
        if send:
            self.last_update = now
        if fresh:
            self.last_picture = now
        return Due(send, fresh)

