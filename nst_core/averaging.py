"""Iterate averaging: an exponential moving average of the images an optimiser visits.

Single steps flicker and carry speckle that the next step half undoes; the average keeps what the steps
agree on (crowsonkb/style-transfer-pytorch shows the same average, decay 0.99, for its Adam steps). It knows
tensors only: not the loss, not the optimiser.
"""

from __future__ import annotations

import torch


class IterateAverage:
    """A bias-corrected exponential moving average (Kingma & Ba's correction): the first reading is the
    first image itself, not a blend with zeros."""

    def __init__(self, image: torch.Tensor, decay: float) -> None:
        self.decay = decay
        self.total = torch.zeros_like(image)
        self.weight = 0.0
        self.update(image)

    def update(self, image: torch.Tensor) -> None:
        with torch.no_grad():
            self.total.mul_(self.decay).add_(image.detach(), alpha=1.0 - self.decay)
        self.weight = self.weight * self.decay + (1.0 - self.decay)

    def get(self) -> torch.Tensor:
        """The average so far, (1, 3, H, W) in [0, 1]."""
        return (self.total / self.weight).clamp(0, 1)
