"""What a tab of the studio is: one module whose class declares the tab's layout, its wiring and the results it
puts in the history strip (`Tab`), built with what every tab shares (`Shared`).

The page builds itself from a list of tabs and the room records their `Result`s: neither names a tab.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import gradio as gr

from .batches import Batches
from .files import ServedFiles
from .keepsakes import Keepsakes
from .limits import Limits
from .runner import JobRunner


@dataclass(frozen=True)
class Shared:
    """What every tab is built with: this server's limits and job runner, the files it serves, its keepsakes, and
    how its Stylize runs are batched."""

    limits: Limits
    runner: JobRunner
    files: ServedFiles
    keepsakes: Keepsakes
    batches: Batches  # Stylize runs of one shape, computed together on a GPU


def recipe_settings(recipe: dict[str, Any]) -> dict[str, Any]:
    """The settings an engine recipe was made with (what most results are compared by)."""
    return recipe.get("settings", {})


def amount(value: float) -> str:
    """A number for a caption a class reads: 599.791 -> 600, 1530.2 -> 1,530, 0.0421 -> 0.0421 (no exponents, no
    digits beyond the three that matter)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def run_length(settings: dict[str, Any], step: int) -> str:
    """How far an optimisation got, for a caption: "150 steps", or "stopped at 40 of 150"."""
    total = settings.get("iterations", step)
    return f"{step} steps" if step >= total else f"stopped at {step} of {total}"


@dataclass(frozen=True)
class Result:
    """One kind of result a tab puts in the history strip: after each `event` (finished, failed or stopped), the
    picture the tab kept under `key(session)`, with a caption and the settings two results are compared by."""

    name: str  # the result's "tab" setting in the strip
    event: Any  # a Gradio event, as .click() or .then() return it
    key: Callable[[str], str]  # a session -> its keepsakes key for this kind of result
    caption: Callable[[dict[str, Any], int], str]  # (recipe, step) -> a few words under the picture
    settings: Callable[[dict[str, Any]], dict[str, Any]] = recipe_settings  # recipe -> JSON-ready settings


class Tab(Protocol):
    """A tab of the page. The page calls `layout` inside the tab's gr.Tab for every tab first, then `wire` for
    every tab (so a tab may wire another tab's components), then follows each tab's `history`."""

    title: str  # the tab's label
    id: str  # gr.Tab's id: an event that returns gr.Tabs(selected=id) brings the tab to the front

    def layout(self) -> None:
        """The tab's components."""

    def wire(self, tabs: gr.Tabs) -> None:
        """The tab's events; `tabs` is the page's tab set, for an event that brings another tab to the front."""

    def history(self) -> list[Result]:
        """What the tab puts in the history strip (its events exist once it is wired)."""
