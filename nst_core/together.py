"""Several runs of the same size as one batch: one pass of the network for all their images a step.

On a GPU a 512 px step is too small to fill the card, so four visitors' images in one batch cost 1.58x less each
than one at a time (docs/gpu.md, bench.batching); on a CPU the network is already arithmetic-bound and a batch
buys nothing. Each run keeps everything of its own, its objective, optimiser and guard, and only the network's
pass is shared: so one run stopping (`Together.stop`), giving up or failing ends that run alone, and the others
go on. The runs must agree on what shapes the batch: their scales' sizes and steps, the network and precision.

The runs are driven in lockstep (`engine._Run.lockstep`): each pauses before each step; when all are paused, the
batch is evaluated, and each run's step then takes its own share of the result.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .config import Settings
from .engine import Progress, _Run, prepare_run
from .errors import NSTError, SettingsError
from .schedule import split_iterations

# What must be equal for runs to share a batch: the shape of every step, and the network that computes it.
SHARED_SETTINGS = ("iterations", "scale_step_ratio", "weights", "weights_convention", "pooling", "precision",
                   "device", "border", "tile_size")


@dataclass
class Request:
    """One run's arguments, as `stylize_iter` takes them."""

    content: Any
    styles: Any
    settings: Settings
    options: dict[str, Any] = field(default_factory=dict)  # init_image, regions, steering


class Together:
    """Runs `requests` as one batch; iterate for (index of the request, its event), or (index, error) where a run
    failed (an NSTError with the visitor's sentence: the others go on)."""

    def __init__(self, requests: Sequence[Request], *, backbone: Any = None) -> None:
        self.runs: dict[int, _Run] = {}
        self.events: dict[int, Iterator[Progress | None]] = {}
        shapes = set()
        for index, request in enumerate(requests):
            run, sizes = prepare_run(request.content, request.styles, request.settings, backbone=backbone,
                                     **request.options)
            if any(max(size) > run.s.tile_size for size in sizes):
                raise SettingsError("Runs in tiles cannot share a batch; run them one at a time.")
            run.lockstep = True
            self.runs[index] = run
            self.events[index] = run.events(sizes)
            shares = split_iterations(run.s.iterations, len(sizes), run.s.scale_step_ratio)
            shapes.add((tuple(sizes), tuple(shares), tuple(getattr(run.s, name) for name in SHARED_SETTINGS),
                        id(run.extract.backbone)))
        if len(shapes) > 1:
            raise SettingsError("Runs share a batch only when their sizes, steps, network and precision agree.")

    def stop(self, index: int) -> None:
        """End run `index` now (its visitor pressed Stop); the others go on."""
        events = self.events.pop(index, None)
        if events is not None:
            events.close()
            self.runs.pop(index).release()

    def __iter__(self) -> Iterator[tuple[int, Progress | NSTError]]:
        try:
            while self.events:
                for index in list(self.events):
                    if index in self.events:  # (not stopped while another run's event was being shown)
                        for event in self.advance(index):
                            yield index, event
                if self.events:  # every run still going is paused before its next step
                    self.evaluate(list(self.events))
        finally:
            for index in list(self.events):
                self.stop(index)

    def advance(self, index: int) -> Iterator[Progress | NSTError]:
        """Run `index` up to its next pause (its events on the way), or to its end."""
        try:
            for event in self.events[index]:
                if event is None:
                    return
                yield event
        except NSTError as error:
            yield error
        self.stop(index)  # ended (or stopped while it was showing its last event)

    def evaluate(self, indices: list[int]) -> None:
        """The step's values of every poised run in one pass of the network; each run's next `evaluate` takes its
        own (its gradient is in its image's .grad already)."""
        runs = [self.runs[index] for index in indices]
        images = [run.tensors["x"] for run in runs]
        for image in images:
            if image.grad is not None:
                image.grad.zero_()
        layers = frozenset().union(*(run.objective.layers for run in runs))
        found = runs[0].extract(torch.cat(images), layers)
        values = [run.objective.from_features(image, {name: maps[k:k + 1] for name, maps in found.items()})
                  for k, (run, image) in enumerate(zip(runs, images))]
        torch.stack([value[0] for value in values]).sum().backward()  # the runs' terms do not mix: own gradients
        for run, value in zip(runs, values):
            run.evaluate = evaluated(value.detach())


def evaluated(values: torch.Tensor):
    """A run's `evaluate` for a step whose values the batch has computed."""
    return lambda x: values
