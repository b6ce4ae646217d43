"""The one bounded least-recently-used map behind the model cache, the keepsakes, the history and the trained
networks: what it drops, and that it stays bounded when many threads write at once."""

from __future__ import annotations

import threading

import pytest

from nst_core.lru import LRU


def test_the_least_recently_used_key_drops_out_first():
    items = LRU(2)
    items.put("a", 1)
    items.put("b", 2)
    assert items.get("a") == 1  # now "b" is the least recently used
    items.put("c", 3)
    assert (items.get("a"), items.get("b"), items.get("c")) == (1, None, 3) and len(items) == 2


def test_writing_a_key_again_makes_it_recent_without_growing():
    items = LRU(2)
    items.put("a", 1)
    items.put("b", 2)
    items.put("a", 10)
    items.put("c", 3)
    assert (items.get("a"), items.get("b")) == (10, None)


def test_setdefault_makes_a_value_once_and_counts_as_a_use():
    items, made = LRU(2), []

    def make() -> list:
        made.append(1)
        return []

    first = items.setdefault("a", make)
    items.put("b", [])
    assert items.setdefault("a", make) is first and len(made) == 1
    items.put("c", [])  # "b" is the least recently used now
    assert items.get("b") is None and items.get("a") is first


def test_pop_takes_a_key_out():
    items = LRU(3)
    items.put("a", 1)
    assert items.pop("a") == 1 and items.pop("a") is None and len(items) == 0


def test_a_capacity_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        LRU(0)


def test_many_threads_writing_leave_it_bounded():
    items = LRU(16)

    def write(worker: int) -> None:
        for n in range(500):
            items.put((worker, n), n)
            items.setdefault((worker, n % 7), list)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(items) == 16
