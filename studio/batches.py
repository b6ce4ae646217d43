"""Visitors' Stylize runs of the same shape computed as one batch on a GPU (nst_core.together).

On a GPU a 512 px step does not fill the card, so runs that start together share the network's pass (four at
512 px: 1.58x less each, docs/gpu.md). A run waits up to GATHER_SECONDS for others of its shape (sizes, steps,
network, precision); those that come form a batch, computed in a thread of its own, and each visitor's job reads
its own run's events from a queue. A visitor's Stop ends only their run; a run that fails fails alone. Off a GPU
(the network is already arithmetic-bound on a CPU) and on ZeroGPU (each call runs in a process of its own) every
run is computed alone, as before.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from nst_core import Settings
from nst_core.engine import Progress, plan_scales, stylize_iter
from nst_core.errors import OutOfMemory
from nst_core.images import decode_image
from nst_core.together import SHARED_SETTINGS, Request, Together

from .zerogpu import on_zero_gpu

GATHER_SECONDS = 0.5  # how long a run waits for others of its shape: a visitor does not notice it
END = object()  # what a seat's queue holds after its run's last event


def batch_size(asked: int) -> int:
    """The most runs in one batch here: `asked` on a GPU server, 1 (alone) on a CPU or on ZeroGPU."""
    return asked if torch.cuda.is_available() and not on_zero_gpu() else 1


@dataclass
class Seat:
    """One visitor's run in a batch: its request, the queue its events come through, and whether it was stopped."""

    request: Request
    events: queue.Queue = field(default_factory=queue.Queue)
    stopped: threading.Event = field(default_factory=threading.Event)


@dataclass
class Group:
    seats: list[Seat] = field(default_factory=list)
    full: threading.Event = field(default_factory=threading.Event)


class Batches:
    """Runs of the same shape, gathered for GATHER_SECONDS into batches of at most `size`."""

    def __init__(self, size: int, gather: float = GATHER_SECONDS) -> None:
        self.size, self.gather = size, gather
        self.lock = threading.Lock()
        self.forming: dict[Hashable, Group] = {}

    def events(self, content: Any, styles: Any, settings: Settings, *, backbone: Any,
               **options: Any) -> Iterator[Progress]:
        """The run's events, as `stylize_iter` gives them, computed in a batch where others of its shape come."""
        key = self.shape(content, settings) if self.size > 1 else None
        if key is None:
            yield from stylize_iter(content, styles, settings, backbone=backbone, **options)
            return
        seat = self.take_seat(key, Request(content, styles, settings, options), backbone)
        try:
            while (item := seat.events.get()) is not END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            seat.stopped.set()  # finished, failed or stopped: the batch drops the run at its next step

    @staticmethod
    def shape(content: Any, settings: Settings) -> Hashable | None:
        """What runs must share to be batched; None for a run in tiles, which is computed alone."""
        sizes = plan_scales(decode_image(content).size, settings)
        if any(max(size) > settings.tile_size for size in sizes):
            return None
        return tuple(sizes), tuple(getattr(settings, name) for name in SHARED_SETTINGS)

    def take_seat(self, key: Hashable, request: Request, backbone: Any) -> Seat:
        seat = Seat(request)
        with self.lock:
            group = self.forming.get(key)
            if group is None:
                group = self.forming[key] = Group()
                threading.Thread(target=self.run, args=(key, group, backbone), daemon=True,
                                 name="nst-batch").start()
            group.seats.append(seat)
            if len(group.seats) >= self.size:
                del self.forming[key]  # the next run of this shape starts a batch of its own
                group.full.set()
        return seat

    def run(self, key: Hashable, group: Group, backbone: Any) -> None:
        """Gather, then compute the batch, handing each run's events to its seat."""
        group.full.wait(self.gather)
        with self.lock:
            if self.forming.get(key) is group:
                del self.forming[key]
        seats = group.seats
        try:
            together = Together([seat.request for seat in seats], backbone=backbone)
            for index, event in together:
                seats[index].events.put(event)
                for other, seat in enumerate(seats):
                    if seat.stopped.is_set() and other in together.runs:
                        together.stop(other)
        except torch.OutOfMemoryError:
            self.tell(seats, OutOfMemory("The GPU ran out of memory painting several pictures at once; run again."))
        except Exception as error:  # noqa: BLE001 - the batch's failure must reach its visitors, not die here
            self.tell(seats, error)
        finally:
            for seat in seats:
                seat.events.put(END)

    @staticmethod
    def tell(seats: list[Seat], error: BaseException) -> None:
        for seat in seats:
            seat.events.put(error)
