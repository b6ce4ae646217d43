"""Steering: the weights moved while a run paints (issue 23).

A front end calls `Steering.set` from any thread while the run goes on; before each step the run takes what was
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

STEERABLE = ("style_weight", "content_weight", "tv_weight")


def checked(values: Mapping[str, float]) -> dict[str, float]:
    """The steerable weights in `values`, each within its setting's range (one sentence otherwise)."""
    unknown = sorted(set(values) - set(STEERABLE))
    if unknown:
        raise SettingsError(f"Only {', '.join(STEERABLE)} can change during a run, not {', '.join(unknown)}.")
    replace(Settings(), **values)  # the settings' own checks: finite, in range
    return {name: float(value) for name, value in values.items()}


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
