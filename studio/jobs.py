"""Who computes when, and what a running job sends back.

- `JobBoard`: one job per browser session, first come first served on the server's compute slots. Gradio's
  queue has no per-visitor limit, so one visitor's extra jobs would lock a classroom out; a session's second
  job is refused at once instead, which frees its queue slot immediately.
- `Frame`: what a job yields. Plain values only: on ZeroGPU the job runs in a forked worker process and every
  yielded value is pickled on its way back.
- `on_gpu`: the ZeroGPU wrapper (`spaces.GPU` with a duration computed from the job's arguments); the job
  runs as it is where the `spaces` package is absent.
- `Keepsakes`: the last picture each session was shown, and a film of its latest run, kept in the server process
  (never in the GPU worker, which is gone after Stop on ZeroGPU), so Stop can offer it as a PNG and any run can
  become a time-lapse.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from PIL import Image

from nst_core.timelapse import Film

Job = TypeVar("Job", bound=Callable[..., Any])
WAIT_POLL = 0.25  # seconds between looks at the board while waiting for a slot


@dataclass(frozen=True)
class Frame:
    """One update of a running job."""

    status: str  # Markdown for the status line
    image: Image.Image | None = None  # a new picture (never one sent before: a re-sent file breaks downloads)
    rows: tuple[dict, ...] = ()  # new rows for the loss chart
    step: int = 0
    done: bool = False
    recipe: dict[str, Any] | None = None  # with a picture: how it was made
    output_size: tuple[int, int] | None = None  # the size the finished picture will have
    meta: dict[str, Any] = field(default_factory=dict)  # anything else a tab needs (a view's numbers, say)


class JobBoard:
    """Who runs and who waits: one job per session, first come first served on `slots`."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.lock = threading.Lock()
        self.waiting: deque[str] = deque()
        self.running: set[str] = set()
        self.sessions: dict[str, str] = {}  # ticket -> session

    def join(self, session: str) -> str | None:
        """A ticket for the session's job, or None if the session already has one."""
        with self.lock:
            if session in self.sessions.values():
                return None
            ticket = uuid.uuid4().hex
            self.sessions[ticket] = session
            self.waiting.append(ticket)
            return ticket

    def try_start(self, ticket: str) -> bool:
        with self.lock:
            free = self.slots - len(self.running)
            if ticket in list(self.waiting)[:max(free, 0)]:
                self.waiting.remove(ticket)
                self.running.add(ticket)
                return True
            return False

    def ahead_of(self, ticket: str) -> int:
        with self.lock:
            return len(self.running) + (self.waiting.index(ticket) if ticket in self.waiting else 0)

    def leave(self, ticket: str) -> None:
        with self.lock:
            self.running.discard(ticket)
            with contextlib.suppress(ValueError):
                self.waiting.remove(ticket)
            self.sessions.pop(ticket, None)

    def wait_for_slot(self, ticket: str) -> Iterator[str]:
        """Yield a status line now and then until the ticket may start (a yield is where Stop can act)."""
        while not self.try_start(ticket):
            ahead = self.ahead_of(ticket)
            yield f"The studio is busy: {ahead} job{'s' if ahead != 1 else ''} ahead of yours…"
            time.sleep(WAIT_POLL)


class Keepsakes:
    """The last picture each key (a session, or a session's tab) was shown, with its recipe and the size the finished
    one would have, and the film of its latest run. Bounded: the oldest keys drop out."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self.items: OrderedDict[str, tuple[Image.Image, dict, tuple[int, int], int]] = OrderedDict()
        self.films: OrderedDict[str, Film] = OrderedDict()
        self.lock = threading.Lock()

    def begin(self, key: str) -> None:
        """A new run starts: its film starts empty (the last picture stays until the run shows one)."""
        with self.lock:
            self.films[key] = Film()
            self._bound()

    def keep(self, key: str, image: Image.Image, recipe: dict, output_size: tuple[int, int], step: int, *,
             total: int | None = None) -> None:
        with self.lock:
            self.items[key] = (image, recipe, output_size, step)
            self.items.move_to_end(key)
            film = self.films.setdefault(key, Film())
            self.films.move_to_end(key)
            self._bound()
        if total is None:
            total = int(recipe.get("settings", {}).get("iterations", step))
        film.add(image, step, total)  # compresses: outside the lock

    def _bound(self) -> None:
        for items in (self.items, self.films):
            while len(items) > self.capacity:
                items.popitem(last=False)

    def last(self, key: str) -> tuple[Image.Image, dict, tuple[int, int], int] | None:
        with self.lock:
            return self.items.get(key)

    def film(self, key: str) -> Film | None:
        """The frames of the key's latest run (None if it never ran)."""
        with self.lock:
            return self.films.get(key)


def on_gpu(duration: Callable[..., int]) -> Callable[[Job], Job]:
    """ZeroGPU's `spaces.GPU(duration=...)` where the `spaces` package is installed (a no-op off ZeroGPU)."""
    try:
        import spaces
    except ImportError:
        return lambda job: job
    return spaces.GPU(duration=duration)


def session_of(request: Any) -> str:
    return getattr(request, "session_hash", None) or "anonymous"
