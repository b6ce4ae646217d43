"""The loss terms of style transfer: content, total variation, and the style losses behind one interface.

Every term is *relative*: divided by the size of its target. So a backbone whose features are all
scaled by a constant, an input convention with another value range, or another image size gives the
same loss values and the same picture for the same weights. Losses are computed in fp32 even when the
network runs in bf16.

A style loss is one class: `target` summarises the paintings' features at one layer (blended by weight),
`__call__` measures an image's features against that summary. Adding one means a subclass here, listed in
STYLE_LOSSES, and its name in `config.STYLE_LOSSES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch

from .features import gram

EPS = 1e-8


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared feature error relative to the target's energy (0 when equal, ~1 when unrelated)."""
    features, target = features.float(), target.float()
    return (features - target).pow(2).mean() / (target.pow(2).mean() + EPS)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels: penalises speckle."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


class StyleLoss(ABC):
    """How far an image's features at one layer are from the paintings' style there."""

    name: ClassVar[str]

    @abstractmethod
    def target(self, features: list[torch.Tensor], weights: list[float]) -> Any:
        """The style at one layer, from each painting's (1, C, H, W) features and their blend weights."""

    @abstractmethod
    def __call__(self, features: torch.Tensor, target: Any) -> torch.Tensor:
        """A relative fp32 scalar: 0 when the styles match."""


class GramLoss(StyleLoss):
    """Gatys et al.: the squared difference of Gram matrices, relative to the target Gram's energy."""

    name = "gram"

    def target(self, features: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
        total = sum(weights)
        return sum(gram(f) * (w / total) for f, w in zip(features, weights))

    def __call__(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (gram(features) - target).pow(2).sum() / (target.pow(2).sum() + EPS)


STYLE_LOSSES: dict[str, type[StyleLoss]] = {cls.name: cls for cls in (GramLoss,)}


def make_style_loss(name: str) -> StyleLoss:
    """The style loss called `name` (a Settings.style_loss choice)."""
    return STYLE_LOSSES[name]()
