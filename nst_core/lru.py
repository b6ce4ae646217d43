"""A dict bounded to a number of keys, the least recently used dropped first.

The engine's model cache and the studio's per-session stores (keepsakes, history, trained networks) each keep a
few things per key for a server that runs for weeks: this bounds them all the same way. Knows nothing about
what it holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most `capacity` keys; reading or writing a key makes it the most recently used. Safe across threads
    (Gradio runs handlers on several), each call on its own."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            self._bound()

    def setdefault(self, key: K, make: Callable[[], V]) -> V:
        """The key's value, or a new one from `make()` stored under it, in one step."""
        with self._lock:
            if key not in self._items:
                self._items[key] = make()
            self._items.move_to_end(key)
            value = self._items[key]
            self._bound()
            return value

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _bound(self) -> None:
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
