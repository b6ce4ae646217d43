"""The whole step as one CUDA graph per scale: forward, backward, the L-BFGS update and the guard's checks
replayed with a single launch.

At 512 px a GPU step is a few hundred small kernels whose launches cost more than their work
(../shared/notes/performance.md: the network alone 3.6 ms launched one by one, 1.7 ms as a graph). A graph
replays the kernels on the very tensors they were recorded on, so the step must keep its state in place (the
guard and DeviceLBFGS do) and read nothing on the host (tests/test_no_sync.py). A capture is made after a few
eager steps (CUDA's advice: warm up on a side stream, so libraries settle their workspaces first), and made
again whenever what it recorded is replaced: a restarted optimiser, or an objective rebuilt by steering. If a
capture fails, the run goes on eagerly and says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

import torch

from .guard import GuardedOptimiser
from .lbfgs import DeviceLBFGS

log = logging.getLogger(__name__)

WARMUP_STEPS = 2  # eager steps before a capture: the first L-BFGS step has its own shape, the second settles


def on_side_stream(work: Callable[[], None]) -> None:
    """Run `work` on a side stream, as CUDA's graph notes ask of the steps before a capture (libraries allocate
    their workspaces there, not in the capture)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        work()
    torch.cuda.current_stream().wait_stream(side)


def cuda_capture(work: Callable[[], torch.Tensor]) -> tuple[Callable[[], None], torch.Tensor]:
    """Record `work` as a CUDA graph: (replay, the tensor its result is written to on every replay). Recording
    runs nothing; the caller replays once for the step being captured."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        result = work()
    return graph.replay, result


class GraphedSteps:
    """Steps of `guard`, each `work` (the guard's `advance` on the run's evaluation), eager until a graph of them
    is captured by `capture`, then replayed. `recorded()` names what a capture depends on; when it changes, the
    next steps warm up and capture again."""

    def __init__(self, guard: GuardedOptimiser, evaluate: Callable[[], torch.Tensor],
                 recorded: Callable[[], Hashable],
                 capture: Callable[[Callable[[], torch.Tensor]], tuple[Callable[[], None], torch.Tensor]] = cuda_capture
                 ) -> None:
        self.guard, self.evaluate, self.recorded, self.capture = guard, evaluate, recorded, capture
        self.replay: Callable[[], None] | None = None
        self.result: torch.Tensor | None = None
        self.key: Hashable = None
        self.warm = 0  # eager steps since what is recorded last changed
        self.failed = False
        self.captures = 0

    def step(self, number: int) -> None:
        key = (id(self.guard.optimizer), self.recorded())
        if key != self.key:
            self.key, self.replay, self.warm = key, None, 0
        if self.replay is None and not self.failed and self.warm >= WARMUP_STEPS:
            self.record()
        if self.replay is None:
            self.warm += 1
            eager = lambda: self.guard.step(self.evaluate, number)  # noqa: E731
            on_side_stream(eager) if self.guard.x.is_cuda else eager()
            return
        self.replay()
        self.guard.file(number, self.result)  # copied in stream order, before the next replay overwrites it

    def record(self) -> None:
        optimiser = self.guard.optimizer
        if isinstance(optimiser, DeviceLBFGS):
            optimiser.static = True  # one shape for every step: all history slots
        try:
            self.replay, self.result = self.capture(lambda: self.guard.advance(self.evaluate))
            self.captures += 1
        except torch.OutOfMemoryError:
            raise  # the engine reports it with a sentence, as it does for an eager step
        except RuntimeError as error:  # something in the step cannot be captured: stay eager
            log.warning("The step could not be captured as a CUDA graph (%s); going on without one.", error)
            self.failed, self.replay = True, None
