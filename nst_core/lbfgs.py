"""L-BFGS whose every number stays on the image's device: a step never waits for the GPU.

It takes the steps `torch.optim.LBFGS(max_iter=1, tolerance_grad=0, tolerance_change=0)` takes (one function
evaluation a step, no line search: the engine's use), but torch's step reads values on the host several times
(the loss, `if ys > 1e-10`, the direction test, and each history pair's coefficient passed as `alpha=`), and each
read makes the CPU wait for the GPU, which at 512 px costs more than the network. Here the curvature pairs live
in preallocated ring buffers, the decisions are `torch.where`s, and the coefficients are tensors, so a step is
only queued work: nothing in it reads a tensor on the host (tests/test_no_sync.py counts), and the same buffers
serve every step, as a CUDA graph needs.

Where it departs from torch's: a direction that does not descend (torch skips the step but still records it
as taken, so its next curvature pair measures a move that never happened) is recorded as a step of length 0,
whose pair is then rejected like any other without curvature.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

CURVATURE_FLOOR = 1e-10  # a pair whose y·s is below this has no usable curvature (torch's threshold)


class DeviceLBFGS:
    """Fixed-step L-BFGS on one leaf tensor `x`, with `history` curvature pairs and step size `lr`."""

    def __init__(self, x: torch.Tensor, lr: float, history: int) -> None:
        self.x, self.lr, self.history = x, lr, history
        size = x.numel()
        self.old_steps = x.new_zeros(history, size)  # s: the moves taken
        self.old_dirs = x.new_zeros(history, size)  # y: the gradient changes they caused
        self.rho = x.new_zeros(history)  # 1 / y·s; 0 in an empty slot, which makes the slot a no-op
        self.head = torch.zeros((), dtype=torch.long, device=x.device)  # the slot the next pair goes to
        self.h_diag = x.new_ones(())  # the initial inverse Hessian's scale, y·s / y·y of the newest pair
        self.direction = x.new_zeros(size)
        self.t = x.new_zeros(())  # the length of the last move along `direction`
        self.previous_grad = x.new_zeros(size)
        self.offered = 0  # pairs offered so far: a bound, known without reading the GPU, on the pairs held
        self.started = False
        # Every slot in every step (empty ones cost a little), so a step's work has one shape: a CUDA graph's.
        self.static = False

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Evaluate `closure` (it fills x.grad) and move x; returns the closure's result, unread."""
        with torch.enable_grad():
            loss = closure()
        with torch.no_grad():
            grad = self.x.grad.reshape(-1)
            # State changes in place: a CUDA graph replays reads and writes of these very buffers.
            if not self.started:
                self.started = True
                self.direction.copy_(grad.neg())
                # torch's first step: at most lr, shorter when the gradient is large
                self.t.copy_((1.0 / grad.abs().sum()).clamp(max=1.0) * self.lr)
            else:
                self.remember(grad)
                self.direction.copy_(self.two_loop(grad))
                self.t.fill_(self.lr)
            self.t.mul_(grad.dot(self.direction) <= 0)  # no descent: no move
            self.previous_grad.copy_(grad)
            self.x.view(-1).add_(self.direction * self.t)
        return loss

    def shrink_last_step(self, factor: torch.Tensor) -> None:
        """The caller scaled the move just taken by `factor` (a trust region): the next pair must measure the
        move as it was made."""
        self.t.mul_(factor)

    def remember(self, grad: torch.Tensor) -> None:
        """Store the pair of the last move, unless it shows no curvature (y·s too small)."""
        y = grad - self.previous_grad
        s = self.direction * self.t
        ys = y.dot(s)
        accept = ys > CURVATURE_FLOOR
        slot = self.head.view(1)
        for buffer, value in ((self.old_dirs, y), (self.old_steps, s)):
            kept = torch.where(accept, value, buffer.index_select(0, slot)[0])
            buffer.index_copy_(0, slot, kept.unsqueeze(0))
        self.rho.index_copy_(0, slot, torch.where(accept, 1.0 / ys, self.rho.index_select(0, slot)[0]).view(1))
        self.h_diag.copy_(torch.where(accept, ys / y.dot(y), self.h_diag))
        self.head.copy_(torch.where(accept, (self.head + 1) % self.history, self.head))
        self.offered += 1

    def two_loop(self, grad: torch.Tensor) -> torch.Tensor:
        """The L-BFGS direction -H·grad by the two-loop recursion over the pairs, newest first. Only the newest
        `offered` slots can hold a pair; an empty or rejected slot has rho 0 and changes nothing."""
        used = self.history if self.static else min(self.history, self.offered)
        order = (self.head - 1 - torch.arange(used, device=self.head.device)) % self.history
        q = grad.neg()
        alphas = []
        for i in range(used):
            slot = order[i:i + 1]
            rho = self.rho.index_select(0, slot)
            alpha = self.old_steps.index_select(0, slot)[0].dot(q) * rho
            q.sub_(self.old_dirs.index_select(0, slot)[0] * alpha)
            alphas.append(alpha)
        r = q.mul_(self.h_diag)
        for i in reversed(range(used)):
            slot = order[i:i + 1]
            beta = self.old_dirs.index_select(0, slot)[0].dot(r) * self.rho.index_select(0, slot)
            r.add_(self.old_steps.index_select(0, slot)[0] * (alphas[i] - beta))
        return r
