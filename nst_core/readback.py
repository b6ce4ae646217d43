"""Small device values brought to the host without making the host wait for each: the steps' loss terms.

Each push starts a non-blocking copy into host memory (pinned on a GPU, so the copy is asynchronous) and
returns at once; `take` hands over what was pushed, every `every` pushes, waiting only for the newest copy
(stream order makes the older ones done too). So a GPU run waits for the device once per `every` steps instead
of once a step. On a CPU a copy is immediate, and `every` is 1.
"""

from __future__ import annotations

from collections.abc import Hashable

import torch


class Readback:
    def __init__(self, device: torch.device, every: int) -> None:
        self.every = max(1, every)
        self.on_gpu = device.type == "cuda"
        self.pending: list[tuple[Hashable, torch.Tensor]] = []
        self.copied: torch.cuda.Event | None = None

    def push(self, key: Hashable, values: torch.Tensor) -> None:
        """Start copying `values` (a small 1-d tensor) to the host, filed under `key`."""
        host = torch.empty(values.shape, dtype=values.dtype, pin_memory=self.on_gpu)
        host.copy_(values.detach(), non_blocking=self.on_gpu)
        if self.on_gpu:
            self.copied = torch.cuda.Event()
            self.copied.record()
        self.pending.append((key, host))

    def take(self, flush: bool = False) -> list[tuple[Hashable, list[float]]]:
        """(key, values) of every push so far, oldest first, once `every` are waiting or when `flush`; else []."""
        if not self.pending or (len(self.pending) < self.every and not flush):
            return []
        if self.copied is not None:
            self.copied.synchronize()
        flat = torch.cat([host for _, host in self.pending]).tolist()  # one read, of host memory
        taken, start = [], 0
        for key, host in self.pending:
            taken.append((key, flat[start:start + len(host)]))
            start += len(host)
        self.pending.clear()
        return taken
