"""The loss terms of style transfer: content, total variation, and the style losses behind one interface.

Every term is *relative*: divided by the size of its target. So a backbone whose features are all
scaled by a constant, an input convention with another value range, or another image size gives the
same loss values and the same picture for the same weights. Losses are computed in fp32 even when the
network runs in bf16.

A style loss is one class: `target` summarises the paintings' features at one layer (blended by weight),
`__call__` measures an image's features against that summary. Adding one means a subclass here, listed in
STYLE_LOSSES, and its name in `config.STYLE_LOSSES`. Three are here:
- gram (Gatys et al. 2015): which features fire together, as raw second moments;
- w2: the Wasserstein-2 distance between Gaussian fits (mean and covariance) of the features, the
  peer crowsonkb/style-transfer-pytorch's default; its matrix square root is made cheap (see W2Loss);
- sliced (Heitz et al., CVPR 2021): the whole distribution of the features along fixed random directions,
  matched by sorting; it also sees what a Gaussian cannot (several clusters of colours or strokes).

A loss whose statistics are sums over positions (`additive`: Gram and W2) can be computed in tiles
exactly: `sums` of each tile's features add up, and `from_sums` turns the total into the loss.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

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
    additive: ClassVar[bool] = False  # True: `sums` over tiles add up to the whole image's (Objective.tiled)

    @abstractmethod
    def target(self, features: list[torch.Tensor], weights: list[float]) -> Any:
        """The style at one layer, from each painting's (1, C, H, W) features and their blend weights."""

    @abstractmethod
    def __call__(self, features: torch.Tensor, target: Any) -> torch.Tensor:
        """A relative fp32 scalar: 0 when the styles match."""


    def sums(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """Statistics of (1, C, H, W) features that add up over tiles, each position counted by its
        (1, 1, H, W) weight (additive losses only)."""
        raise NotImplementedError(f"the {self.name} loss cannot be computed in tiles")

    def from_sums(self, sums: tuple[torch.Tensor, ...], count: int | torch.Tensor, target: Any) -> torch.Tensor:
        """The loss from the `sums` over `count` positions (additive losses only)."""
        raise NotImplementedError(f"the {self.name} loss cannot be computed in tiles")

    def guided(self, features: torch.Tensor, mask: torch.Tensor, target: Any) -> torch.Tensor:
        """The loss of one region (Gatys et al. 2017): the statistics count each position by its (1, 1, H, W)
        `mask` and are divided by the mask's mass, so a small region is held to the painting as firmly as a large
        one. For the additive losses that is their sums weighted by the mask."""
        return self.from_sums(self.sums(features, mask), mask.sum(), target)


class GramLoss(StyleLoss):
    """Gatys et al.: the squared difference of Gram matrices, relative to the target Gram's energy."""

    name = "gram"
    additive = True

    def target(self, features: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
        total = sum(weights)
        return sum(gram(f) * (w / total) for f, w in zip(features, weights))

    def __call__(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.from_gram(gram(features), target)

    def sums(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        return (_outer_sums(features, weights) / features.shape[1],)

    def from_sums(self, sums: tuple[torch.Tensor, ...], count: int | torch.Tensor,
                  target: torch.Tensor) -> torch.Tensor:
        return self.from_gram(sums[0] / count, target)

    @staticmethod
    def from_gram(image_gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (image_gram - target).pow(2).sum() / (target.pow(2).sum() + EPS)


@dataclass
class GaussianTarget:
    """A Gaussian fit of the paintings' features at one layer, with what W2 needs of it precomputed."""

    mean: torch.Tensor  # (C,)
    covariance: torch.Tensor  # (C, C)
    root: torch.Tensor  # covariance ** 1/2, from one eigendecomposition per scale
    energy: torch.Tensor  # |mean|^2 + trace(covariance): the loss is relative to it
    ridge: torch.Tensor  # added to every covariance's diagonal: keeps square roots differentiable


class _TraceSqrt(torch.autograd.Function):
    """trace(M ** 1/2) of a symmetric positive semi-definite M, by one eigendecomposition.

    Its gradient is M ** -1/2 / 2, from the same eigenvectors: no Newton-Schulz iterations and no
    differentiating through an eigensolver. Eigenvalues are floored at `floor` (the ridge), where the
    square root's slope would blow up.
    """

    @staticmethod
    def forward(ctx, matrix: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
        values, vectors = torch.linalg.eigh(matrix)
        roots = values.clamp_min(floor).sqrt()
        ctx.save_for_backward(vectors, roots)
        return roots.sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        vectors, roots = ctx.saved_tensors
        return grad * (vectors * (0.5 / roots)) @ vectors.transpose(-1, -2), None


class W2Loss(StyleLoss):
    """Wasserstein-2 distance between Gaussian fits of image and painting features (mean, covariance):

        |m - m_t|^2 + trace(S + S_t - 2 (S_t^1/2 S S_t^1/2)^1/2),  relative to |m_t|^2 + trace(S_t).

    The peer computes both square roots per step by Newton-Schulz iterations on C x C matrices (512 x 512
    at relu4_1 and relu5_1, ~3.5x a Gram step on a CPU). Here the painting's root comes from one
    eigendecomposition per scale, and the step's trace of a root from one more (see _TraceSqrt).
    Means and raw second moments blend linearly across paintings; covariances do not.
    """

    name = "w2"
    additive = True
    RIDGE = 1e-5  # relative to the mean feature variance

    def target(self, features: list[torch.Tensor], weights: list[float]) -> GaussianTarget:
        total = sum(weights)
        mean = sum(_mean(f) * (w / total) for f, w in zip(features, weights))
        raw = sum(gram(f)[0] * (f.shape[1] * w / total) for f, w in zip(features, weights))
        covariance = raw - torch.outer(mean, mean)
        ridge = self.RIDGE * covariance.diagonal().mean().clamp_min(EPS)
        covariance = covariance + ridge * torch.eye(len(mean), device=mean.device)
        values, vectors = torch.linalg.eigh(covariance.double())
        root = ((vectors * values.clamp_min(0).sqrt()) @ vectors.T).float()
        energy = mean.pow(2).sum() + covariance.diagonal().sum()
        return GaussianTarget(mean, covariance, root, energy, ridge)

    def __call__(self, features: torch.Tensor, target: GaussianTarget) -> torch.Tensor:
        return self.from_sums(self.sums(features), features[0, 0].numel(), target)

    def sums(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        flat = _at_least_fp32(features[0])
        totals = (flat * weights[0]).sum(dim=(1, 2)) if weights is not None else flat.sum(dim=(1, 2))
        return totals, _outer_sums(features, weights)[0]

    def from_sums(self, sums: tuple[torch.Tensor, ...], count: int | torch.Tensor,
                  target: GaussianTarget) -> torch.Tensor:
        mean = sums[0] / count
        covariance = sums[1] / count - torch.outer(mean, mean)
        covariance = covariance + target.ridge * torch.eye(len(mean), device=mean.device)
        cross = _TraceSqrt.apply(target.root @ covariance @ target.root, target.ridge ** 2)
        distance = (mean - target.mean).pow(2).sum() + covariance.diagonal().sum() \
            + target.covariance.diagonal().sum() - 2 * cross
        return distance.clamp_min(0) / (target.energy + EPS)


@dataclass
class SlicedTarget:
    """The paintings' feature distribution along fixed directions: sorted projections (quantiles)."""

    directions: torch.Tensor  # (C, P), unit columns, seeded: the same every step of a scale
    quantiles: torch.Tensor  # (P, Q) sorted projections of the paintings (blended quantile functions)
    energy: torch.Tensor  # mean square of the quantiles: the loss is relative to it


class SlicedLoss(StyleLoss):
    """Sliced Wasserstein distance (Heitz et al., CVPR 2021): project the features on C random unit
    directions, sort, and compare each sorted projection with the painting's, value for value.

    The directions are drawn once per scale from a fixed seed, so every L-BFGS step sees the same
    function (Heitz et al. draw new ones per step, which suits their Adam but breaks L-BFGS's curvature
    pairs). Different pixel counts compare through the painting's quantile function, interpolated; several
    paintings blend as a weighted mean of quantile functions (the 1D Wasserstein barycentre).
    """

    name = "sliced"
    SEED = 1234
    # A painting's quantile functions come from at most this many of its positions (a seeded sample): ample
    # for a quantile function, and it bounds the target's memory for big paintings (a 4096 px painting has 12.6
    # million relu1_1 positions: its projections, their order and the sorted copy come to about 13 GB by count).
    MAX_POSITIONS = 1 << 18

    def target(self, features: list[torch.Tensor], weights: list[float]) -> SlicedTarget:
        channels = features[0].shape[1]
        generator = torch.Generator().manual_seed(self.SEED + channels)
        directions = torch.randn(channels, channels, generator=generator)
        directions = (directions / directions.norm(dim=0, keepdim=True)).to(features[0].device)
        features = [_some_positions(f, self.MAX_POSITIONS, generator) for f in features]
        count = max(f[0, 0].numel() for f in features)
        total = sum(weights)
        quantiles = sum(_resample(_sorted(_projected(f, directions)), count) * (w / total)
                        for f, w in zip(features, weights))
        return SlicedTarget(directions, quantiles, quantiles.pow(2).mean())

    def __call__(self, features: torch.Tensor, target: SlicedTarget) -> torch.Tensor:
        projected = _sorted(_projected(features, target.directions))
        wanted = _resample(target.quantiles, projected.shape[1])
        return (projected - wanted).pow(2).mean() / (target.energy + EPS)

    def guided(self, features: torch.Tensor, mask: torch.Tensor, target: SlicedTarget) -> torch.Tensor:
        """The region's positions (mask at least a half: sorting has no soft weights), taken out before they are
        projected, against the painting's quantiles resampled to their number; 0 where the region has no
        position at this layer."""
        inside = mask.reshape(-1) >= 0.5
        if not bool(inside.any()):
            return features.new_zeros((), dtype=torch.float32)
        return self(features.flatten(2)[:, :, inside, None], target)


def _some_positions(features: torch.Tensor, limit: int, generator: torch.Generator) -> torch.Tensor:
    """(1, C, H, W) -> the features at `limit` positions drawn without replacement, as (1, C, limit, 1); all of
    them, unchanged, if there are no more than that."""
    count = features[0, 0].numel()
    if count <= limit:
        return features
    chosen = torch.randperm(count, generator=generator)[:limit].to(features.device)
    return features.flatten(2)[:, :, chosen, None]


def _outer_sums(features: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """(1, C, H, W) -> (1, C, C): the sum over positions of f fᵀ, each position counted by its weight."""
    if weights is not None:
        features = features * weights.sqrt()
    return gram(features) * features[0].numel()


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """bf16 features in fp32 (sums over many positions need it); fp64 (gradient checks) stays fp64."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _mean(features: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> (C,), at least fp32."""
    return _at_least_fp32(features[0]).mean(dim=(1, 2))


def _projected(features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) features on (C, P) directions -> (P, H*W) in fp32."""
    flat = _at_least_fp32(features[0]).reshape(features.shape[1], -1)
    return directions.T @ flat


def _sorted(rows: torch.Tensor) -> torch.Tensor:
    """(P, N) -> each row sorted ascending, differentiable (the gradient goes back through the permutation).

    The order is found outside autograd, on the CPU by numpy's argsort: for 64 rows of 49,152 (relu1_1 at 256 px,
    where the sort is most of the sliced loss's cost) 121 ms on one thread against torch's sort's 154 ms on two.
    (Splitting the rows over a thread pool halved that again, but its threads' allocations made the studio's
    memory grow in steps the soak test reads as a leak.)
    """
    with torch.no_grad():
        order = argsort_on_cpu(rows) if rows.device.type == "cpu" else rows.argsort(dim=1)
    return rows.gather(1, order)


def argsort_on_cpu(rows: torch.Tensor) -> torch.Tensor:
    """numpy's argsort of each row of a CPU tensor (the one host read a step makes, and only on a CPU, where
    reading waits for nothing)."""
    return torch.from_numpy(np.argsort(rows.detach().numpy(), axis=1))


def _resample(sorted_values: torch.Tensor, count: int) -> torch.Tensor:
    """(P, N) sorted values -> (P, count): the same quantile function read at `count` evenly spaced ranks."""
    if sorted_values.shape[1] == count:
        return sorted_values
    return F.interpolate(sorted_values[None], size=count, mode="linear", align_corners=False)[0]


STYLE_LOSSES: dict[str, type[StyleLoss]] = {cls.name: cls for cls in (GramLoss, W2Loss, SlicedLoss)}


def make_style_loss(name: str) -> StyleLoss:
    """The style loss called `name` (a Settings.style_loss choice)."""
    return STYLE_LOSSES[name]()
