"""Steering: the weights moved while a run paints (issue 23).

Weights are the settings' style, content and TV weights, and each region's strength ("strength:#rrggbb"). A front
end calls `Steering.set` from any thread while the run goes on; before each step the run takes what was
set since the step before (`due`), rebuilds its objective with the new weights and goes on from the same image,
and records the change in its schedule. A recipe's schedule, given back (`Steering(schedule)`), applies the same
changes at the same steps, so a steered picture can be made again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace

from .config import Settings
from .errors import SettingsError
from .regions import check_strength, hex_colour, parse_colour

STEERABLE = ("style_weight", "content_weight", "tv_weight")
STRENGTH = "strength:"  # "strength:#rrggbb": the strength of the region of that colour (regions.Region.strength)


def checked(values: Mapping[str, float]) -> dict[str, float]:
    """The steerable weights in `values`, each within its setting's range (one sentence otherwise)."""
    strengths = {name: value for name, value in values.items() if name.startswith(STRENGTH)}
    weights = {name: value for name, value in values.items() if name not in strengths}
    unknown = sorted(set(weights) - set(STEERABLE))
    if unknown:
        raise SettingsError(f"Only {', '.join(STEERABLE)} and regions' strengths can change during a run, not "
                            f"{', '.join(unknown)}.")
    replace(Settings(), **weights)  # the settings' own checks: finite, in range
    strengths = {STRENGTH + hex_colour(parse_colour(name.removeprefix(STRENGTH))): check_strength(value)
                 for name, value in strengths.items()}
    return {**{name: float(value) for name, value in weights.items()}, **strengths}


def split(changes: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Checked changes -> (settings' weights, regions' strengths by "#rrggbb")."""
    weights = {name: value for name, value in changes.items() if not name.startswith(STRENGTH)}
    return weights, {name.removeprefix(STRENGTH): value for name, value in changes.items() if name not in weights}


class Steering:
    """Weight changes for a run: `set` live from another thread, and/or a recipe's `schedule` replayed."""

    def __init__(self, schedule: Iterable[Mapping[str, float]] = ()) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, float] = {}
        self._planned: dict[int, dict[str, float]] = {}
        self.applied: list[dict[str, float]] = []  # the run's changes so far, {"step": N, name: value, ...} each
        for change in schedule:
            values = {name: value for name, value in change.items() if name != "step"}
            self._planned[int(change["step"])] = checked(values)

    def __getstate__(self) -> dict:
        """A copy in another process (ZeroGPU runs a job in one) takes the schedule; what is set here later does
        not reach it."""
        with self._lock:
            return {"planned": dict(self._planned), "live": dict(self._live), "applied": list(self.applied)}

    def __setstate__(self, state: dict) -> None:
        self._lock = threading.Lock()
        self._planned, self._live, self.applied = state["planned"], state["live"], state["applied"]

    def set(self, **values: float) -> None:
        """From the next step on, use these weights (the latest value of each wins)."""
        values = checked(values)
        with self._lock:
            self._live.update(values)

    def due(self, step: int) -> dict[str, float]:
        """The changes to apply before `step`: the schedule's for that step, then those set since the last call."""
        with self._lock:
            live, self._live = self._live, {}
        return {**self._planned.pop(step, {}), **live}

    def record(self, step: int, changes: dict[str, float]) -> None:
        """The run applied `changes` before `step` (a recipe's schedule; a stopped run's download has it too)."""
        self.applied.append({"step": step, **changes})
