"""This visitor's results from every tab: each picture with its settings and the film of its run, newest last.

Kept in the server process per browser session and bounded (a few entries each, a few dozen sessions), so a class
can put any two side by side and replay any run as a time-lapse. Knows nothing about Gradio.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from PIL import Image

from nst_core.lru import LRU
from nst_core.timelapse import Film

PER_SESSION = 8
SESSIONS = 64
THUMBNAIL = 384  # pictures are kept at most this size: enough for the strip and a side-by-side


@dataclass(frozen=True)
class Entry:
    image: Image.Image
    caption: str  # a few words: the tab and the settings that matter
    settings: dict[str, Any]  # JSON-ready; compared key by key
    film: Film | None


class History:
    def __init__(self, per_session: int = PER_SESSION, sessions: int = SESSIONS) -> None:
        self.per_session = per_session
        self.lock = threading.Lock()  # a session's list is read and changed in several steps
        self.items: LRU[str, list[Entry]] = LRU(sessions)

    def add(self, session: str, image: Image.Image, caption: str, settings: dict[str, Any],
            film: Film | None) -> bool:
        """Record a result; False if it is the one recorded last (a run stopped before it showed anything new)."""
        small = image.copy()
        small.thumbnail((THUMBNAIL, THUMBNAIL))
        with self.lock:
            entries = self.items.setdefault(session, list)
            if entries and entries[-1].caption == caption and entries[-1].image.tobytes() == small.tobytes():
                return False
            entries.append(Entry(small, caption, dict(settings), film))
            del entries[:-self.per_session]
            return True

    def entries(self, session: str) -> list[Entry]:
        with self.lock:
            return list(self.items.get(session) or ())


def differences(a: dict[str, Any], b: dict[str, Any], *, shared_only: bool = False) -> list[tuple[str, Any, Any]]:
    """(name, a's value, b's value) for every setting the two do not share; `shared_only`: only among the settings
    both have (two kinds of result have few: a Stylize run and an Explain view listed some 25 "— →" rows)."""
    names = set(a) & set(b) if shared_only else set(a) | set(b)
    return [(name, a.get(name), b.get(name)) for name in sorted(names) if a.get(name) != b.get(name)]
