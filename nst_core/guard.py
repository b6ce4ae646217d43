"""The guarded optimiser: one image optimised by L-BFGS (or Adam) that can neither blow up nor stall.

L-BFGS runs one function evaluation per `step()` without line search. Raw, it was seen to take a step
that multiplied the loss by 1e11, to turn bf16 features into NaN, and to freeze for a whole run; so every
step is checked: a step is kept inside a trust region, a non-finite or exploding loss rolls back to the best
image so far and restarts the optimiser with half the step size, and a loss frozen for several steps
restarts it too. It knows the image and a function that evaluates it; not the losses, scales or events.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)

LBFGS_HISTORY = 20  # each pair costs two image-sized buffers; 20 is plenty for this problem
LBFGS_MEMORY = 1 << 30  # ...but big images get fewer pairs, so the history stays within about 1 GiB
STALL_STEPS = 4  # this many identical losses in a row means the optimiser is stuck
MAX_PIXEL_STEP = 0.3  # trust region: no step moves a pixel further than this (pixels span 0..1)
MAX_FAILURES = 5  # rollbacks in a row before the run gives up and returns its best image
BLOWUP = 100.0  # a loss this many times the best so far is a divergence (L-BFGS's early steps may overshoot 10x)


def lbfgs_history(image: torch.Tensor) -> int:
    """Curvature pairs to keep for an image this big: LBFGS_HISTORY, fewer where they would exceed LBFGS_MEMORY."""
    pair_bytes = 2 * image.numel() * image.element_size()
    return max(3, min(LBFGS_HISTORY, LBFGS_MEMORY // pair_bytes))


class GuardedOptimiser:
    """Steps of an optimiser on `x` (a leaf tensor), each checked; the best evaluated image is kept.

    `divergences` counts rollbacks over the whole run (every scale): each halves the step size of the fresh
    optimiser, so a restart cannot cycle through the same failure.
    """

    def __init__(self, x: torch.Tensor, optimizer: str, learning_rate: float, divergences: int = 0) -> None:
        self.x, self.kind, self.learning_rate = x, optimizer, learning_rate
        self.divergences = divergences
        self.best_loss = math.inf
        self.best = x.detach().clone()
        self.previous: float | None = None
        self.frozen = self.failures = 0
        self.optimizer = self.fresh()

    def fresh(self) -> torch.optim.Optimizer:
        damping = 0.5 ** self.divergences
        if self.kind == "adam":
            return torch.optim.Adam([self.x], lr=self.learning_rate * damping)
        # No early exits (tolerances 0): the checks in `step` decide when progress has stopped.
        return torch.optim.LBFGS([self.x], lr=damping, max_iter=1, history_size=lbfgs_history(self.x),
                                 tolerance_grad=0.0, tolerance_change=0.0)

    def objective_changed(self, restart: bool) -> None:
        """The loss now measures something else (weights steered): earlier losses no longer compare with the next
        ones (a raised weight read as divergence), so the best image starts again from here; `restart` also
        drops the optimiser's memory of the old objective."""
        self.best_loss, self.previous, self.frozen = math.inf, None, 0
        self.best.copy_(self.x.detach())
        if restart:
            self.optimizer = self.fresh()

    @property
    def gave_up(self) -> bool:
        return self.failures >= MAX_FAILURES

    def step(self, evaluate: Callable[[], torch.Tensor], number: int) -> tuple[list[float], str | None]:
        """One step. `evaluate()` fills x.grad and returns the detached loss terms (total first).
        Returns the terms as floats and a message if the step was rolled back."""
        terms = torch.zeros(())

        def closure() -> torch.Tensor:
            nonlocal terms
            self.optimizer.zero_grad(set_to_none=True)
            terms = evaluate()
            return terms[0]

        evaluated = self.x.detach().clone()  # the point whose loss this step measures
        self.optimizer.step(closure)
        self.limit_step(evaluated)
        values = terms.tolist()
        loss, message = values[0], None
        if not math.isfinite(loss) or loss > BLOWUP * self.best_loss:
            what = "a non-finite loss" if not math.isfinite(loss) else "a diverging loss"
            self.divergences += 1
            self.failures += 1
            message = f"Step {number}: {what}; rolled back to the last good image and restarted the optimiser."
        else:
            self.failures = 0
            if loss < self.best_loss:
                self.best_loss = loss
                self.best.copy_(evaluated)
            same = self.previous is not None and abs(loss - self.previous) <= 1e-9 * abs(loss)
            self.frozen = self.frozen + 1 if same else 0
            self.previous = loss
            if self.frozen >= STALL_STEPS:
                message = f"Step {number}: the loss stopped changing; restarted the optimiser from the best image."
        if message:
            log.warning(message)
            self.x.data.copy_(self.best)
            self.optimizer = self.fresh()
            self.previous, self.frozen = None, 0
        return values, message

    def limit_step(self, before: torch.Tensor) -> None:
        """Keep the step just taken inside the trust region.

        L-BFGS's second step is scaled by curvature measured over its tiny first step and can be
        enormous (loss x1e11 seen at style weight 1e5); it then wastes steps recovering, or yields NaN in
        bf16. Shrinking the step, and L-BFGS's record of it (state["t"]), keeps its curvature pairs true.
        Adam's pixels are simply kept in range.
        """
        x = self.x
        with torch.no_grad():
            if self.kind == "adam":
                x.clamp_(0, 1)
                return
            biggest = (x - before).abs().max().item()
            if biggest > MAX_PIXEL_STEP:
                factor = MAX_PIXEL_STEP / biggest
                x.copy_(before + (x - before) * factor)
                self.optimizer.state[x]["t"] = self.optimizer.state[x]["t"] * factor

    def result(self) -> torch.Tensor:
        """The best evaluated image; the step just taken is unevaluated, so it is used only if nothing was."""
        return (self.best if math.isfinite(self.best_loss) else self.x.detach()).clone()
