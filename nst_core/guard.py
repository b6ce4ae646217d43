"""The guarded optimiser: one image optimised by L-BFGS (or Adam) that can neither blow up nor stall.

L-BFGS runs one function evaluation per `step()` without line search. Raw, it was seen to take a step
that multiplied the loss by 1e11, to turn bf16 features into NaN, and to freeze for a whole run; so every
step is checked: a step is kept inside a trust region, a non-finite or exploding loss rolls back to the best
image so far and restarts the optimiser with half the step size, and a loss frozen for several steps
restarts it too. It knows the image and a function that evaluates it; not the losses, scales or events.

On a GPU a step must not wait for the device (lbfgs.py says why), so the checks are split: the trust region, the
verdict on each step (finite? not exploding?) and the best image so far are kept on the device, with no host
read; the steps' values come back through a `Readback` every few steps, and only then does the host act on a
verdict (roll back, restart) or on a stall. A divergence is therefore caught a few steps late on a GPU, and the
steps in between, taken from the bad image, are discarded with it. On a CPU the values are read every step.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch

from .lbfgs import DeviceLBFGS
from .readback import Readback

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

    `step` queues a step and returns nothing; `judged` gives back the steps whose values have been read, each
    with its loss terms and a message if it was rolled back or restarted. `read_every` steps are read together
    (1: each step at once); `steps`, where known, is how many steps it will take. `divergences` counts rollbacks
    over the whole run (every scale): each halves the step size of the fresh optimiser, so a restart cannot cycle
    through the same failure.
    """

    def __init__(self, x: torch.Tensor, optimizer: str, learning_rate: float, divergences: int = 0,
                 read_every: int = 1, steps: int | None = None) -> None:
        self.x, self.kind, self.learning_rate = x, optimizer, learning_rate
        # L-BFGS's buffers are allocated whole: no more pairs than the steps that can fill them
        self.history = min(lbfgs_history(x), steps or LBFGS_HISTORY)
        self.divergences = divergences
        self.best_loss = torch.full((), math.inf, device=x.device)
        self.best = x.detach().clone()
        self.evaluated = x.detach().clone()  # the point whose loss the current step measures
        # A bad step seen on the device since the last restart: the host has not acted on it yet, so the image
        # is on an abandoned path, and `sound_image` gives the best one instead.
        self.tainted = torch.zeros((), dtype=torch.bool, device=x.device)
        self.previous: float | None = None
        self.frozen = self.failures = 0
        self.generation = 0  # restarts so far: a step read after a restart belongs to the abandoned path
        self.readback = Readback(x.device, read_every)
        self.optimizer = self.fresh()

    def fresh(self) -> torch.optim.Optimizer | DeviceLBFGS:
        damping = 0.5 ** self.divergences
        if self.kind == "adam":
            return torch.optim.Adam([self.x], lr=self.learning_rate * damping, capturable=self.x.is_cuda)
        return DeviceLBFGS(self.x, lr=damping, history=self.history)

    def objective_changed(self, restart: bool) -> None:
        """The loss now measures something else (weights steered): earlier losses no longer compare with the next
        ones (a raised weight read as divergence), so the best image starts again from here; `restart` also
        drops the optimiser's memory of the old objective."""
        self.previous, self.frozen = None, 0
        self.best_loss.fill_(math.inf)
        self.best.copy_(self.x.detach())
        self.tainted.fill_(False)
        if restart:
            self.optimizer = self.fresh()

    @property
    def gave_up(self) -> bool:
        return self.failures >= MAX_FAILURES

    def step(self, evaluate: Callable[[], torch.Tensor], number: int) -> None:
        """Queue step `number`: `evaluate()` sets x.grad (in place, where it exists: a CUDA graph keeps its address)
        and returns the detached loss terms (total first). Nothing here reads a value on the host; the terms reach
        `judged` through the readback."""
        self.file(number, self.advance(evaluate))

    def file(self, number: int, row: torch.Tensor) -> None:
        """Send step `number`'s row (from `advance`) back to the host, to be judged when read."""
        self.readback.push((number, self.generation), row)

    def advance(self, evaluate: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The step's work on the device, all of it (what a CUDA graph captures): evaluate, update, keep in the
        trust region, judge. Returns [terms..., verdict], unread."""
        terms = torch.zeros(())

        def closure() -> torch.Tensor:
            nonlocal terms
            terms = evaluate()
            return terms[0]

        self.evaluated.copy_(self.x.detach())
        self.optimizer.step(closure)
        self.limit_step()
        return torch.cat([terms, self.verdict(terms[0]).unsqueeze(0)])

    def verdict(self, loss: torch.Tensor) -> torch.Tensor:
        """1 where this step's loss is non-finite or exploding, 2 where its move made the image non-finite, else 0;
        a good step better than the best so far becomes the best. On the device, unread."""
        bad_loss = ~torch.isfinite(loss) | (loss > BLOWUP * self.best_loss)
        bad_move = ~torch.isfinite(self.x.detach()).all()
        better = ~bad_loss & (loss < self.best_loss)
        self.best.copy_(torch.where(better, self.evaluated, self.best))
        self.best_loss.copy_(torch.where(better, loss, self.best_loss))
        self.tainted.logical_or_(bad_loss | bad_move)
        return torch.where(bad_loss, 1.0, torch.where(bad_move, 2.0, 0.0)).to(loss.dtype)

    def sound_image(self) -> torch.Tensor:
        """The image after the last step, or the best one where a step since the last restart went bad: what an
        average of the steps may take in."""
        return torch.where(self.tainted, self.best, self.x.detach())

    def judged(self, flush: bool = False) -> list[tuple[int, list[float], str | None]]:
        """The steps read back since the last call (all of them when `flush`), as (number, terms, message),
        the checks that need the host applied to each: rolled back or restarted, with the message why."""
        read = []
        for (number, generation), values in self.readback.take(flush):
            *terms, bad = values
            read.append((number, terms, self.judge(terms[0], int(bad), number) if generation == self.generation
                         else None))
        return read

    def judge(self, loss: float, bad: int, number: int) -> str | None:
        message = None
        if bad:
            what = ("a non-finite step" if bad == 2 else "a non-finite loss" if not math.isfinite(loss)
                    else "a diverging loss")
            self.divergences += 1
            self.failures += 1
            message = f"Step {number}: {what}; rolled back to the last good image and restarted the optimiser."
        else:
            self.failures = 0
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
            self.tainted.fill_(False)
            self.generation += 1
        return message

    def limit_step(self) -> None:
        """Keep the step just taken inside the trust region, on the device.

        L-BFGS's second step is scaled by curvature measured over its tiny first step and can be
        enormous (loss x1e11 seen at style weight 1e5); it then wastes steps recovering, or yields NaN in
        bf16. Shrinking the step, and L-BFGS's record of it, keeps its curvature pairs true.
        Adam's pixels are simply kept in range.
        """
        x = self.x
        with torch.no_grad():
            if self.kind == "adam":
                x.clamp_(0, 1)
                return
            moved = x - self.evaluated
            factor = (MAX_PIXEL_STEP / moved.abs().amax().clamp_min(1e-12)).clamp(max=1.0)
            x.copy_(self.evaluated + moved * factor)
            self.optimizer.shrink_last_step(factor)

    def result(self) -> torch.Tensor:
        """The best evaluated image; the step just taken is unevaluated, so it is used only if nothing was."""
        return torch.where(torch.isfinite(self.best_loss), self.best, self.x.detach()).clone()
