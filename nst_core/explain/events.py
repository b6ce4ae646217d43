"""What a teaching view yields: immutable snapshots of its panels, and the helpers every view shares.

A view is a generator of `ViewEvent`s. Each event carries every panel as it stands (a panel that did not
change is the same object as before), the view's numbers so far, and a status line; the last one has
done=True. Closing the generator is the cancel signal. Nothing here knows about Gradio or files.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from PIL import Image

from ..engine import Progress


@dataclass(frozen=True)
class Panel:
    """One picture of a view."""

    name: str  # a file-name stem: the layer or setting it shows (relu3_1, noise, style-100_relu4_2)
    title: str  # a few words under it
    image: Image.Image
    settings: Mapping[str, Any] | None = None  # where a panel is a stylization: its Settings.to_dict()


@dataclass(frozen=True)
class ViewEvent:
    view: str
    panels: tuple[Panel, ...]
    step: int  # work done so far (optimiser steps of all its runs together)
    total: int
    status: str  # one plain line: what is happening now
    numbers: Mapping[str, Any] = field(default_factory=dict)  # JSON-ready: what the view measured
    done: bool = False


class Sheet:
    """The panels of one view as they fill in, in a fixed order; `event()` takes an immutable snapshot."""

    def __init__(self, view: str, total: int) -> None:
        self.view = view
        self.total = total
        self.step = 0
        self.panels: dict[str, Panel] = {}
        self.numbers: dict[str, Any] = {}

    def put(self, name: str, title: str, image: Image.Image, settings: Mapping[str, Any] | None = None) -> None:
        """Add a panel or replace its picture (it keeps its place)."""
        frozen = MappingProxyType(dict(settings)) if settings is not None else None
        self.panels[name] = Panel(name, title, image, frozen)

    def event(self, status: str, *, done: bool = False) -> ViewEvent:
        return ViewEvent(self.view, tuple(self.panels.values()), self.step, self.total, status,
                         MappingProxyType(copy.deepcopy(self.numbers)), done)


def round_robin(runs: Mapping[str, Iterator[Progress]]) -> Iterator[tuple[str, Progress]]:
    """One step of each engine run in turn until every run is done, so that all their panels fill in together.

    Closing this generator closes every run (each frees its memory in its own `finally`).
    """
    live = dict(runs)
    try:
        while live:
            for key in list(live):
                try:
                    yield key, next(live[key])
                except StopIteration:
                    del live[key]
    finally:
        for run in runs.values():
            run.close()
