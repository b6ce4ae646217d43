"""Who computes when, and what a running job sends back.

- `JobBoard`: one job per browser session, first come first served on the server's compute slots. Gradio's
  queue has no per-visitor limit, so one visitor's extra jobs would lock a classroom out; a session's second
  job is refused at once instead, which frees its queue slot immediately.
- `Frame`: what a job yields. Plain values only: on ZeroGPU the job runs in a forked worker process and every
  yielded value is pickled on its way back.
(The ZeroGPU wrapper of a job is `zerogpu.on_gpu`.)
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

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


def session_of(request: Any) -> str:
    return getattr(request, "session_hash", None) or "anonymous"
