"""The objective: a list of named, weighted loss terms, summed; what the optimiser minimises at one scale.

Each term reads one thing, a feature layer or the image itself, and says how far it is from its target,
relative to the target's size (losses.py); its weight scales that. The loops never look inside a term: the
whole image's evaluation (`Objective.__call__`) and the tiled one (`Objective.tiled`) both just walk the list.
So a new term is a `Term` subclass here and a builder in TERMS: a region of the picture with its own painting
is a term whose statistics count each position by its mask; a video frame held to the previous one is a term
whose target is that frame; weights changed mid-run are terms rebuilt with other weights.

In tiles, a term on a layer gives one tile's statistics (`sums`), which add up over the tiles, and its loss
from their totals (`loss_from_sums`). A term on the image needs no network, so it is computed on the whole
image, which is in memory anyway.

Terms are named "group" or "group:member" ("content", "style:relu1_1", "tv"): events, charts and the CLI read
the names, and `group_totals` sums a group. It knows the losses and the tiles' geometry; not the optimiser,
the schedule or events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .config import Settings
from .features import FeatureExtractor
from .losses import EPS, StyleLoss, content_loss, total_variation
from .regions import Region, layer_mask
from .targets import Targets
from .tiling import Tile, Tiler


@dataclass(frozen=True, eq=False, kw_only=True)
class Term:
    """One weighted loss term on `layer`'s features, or on the image itself where `layer` is None."""

    name: str
    layer: str | None
    weight: float
    target: Any = None

    def value(self, found: torch.Tensor) -> torch.Tensor:
        """The weighted term, from the whole image's features at `layer` (or the image)."""
        return self.loss(found) * self.weight

    def value_from_sums(self, sums: tuple[torch.Tensor, ...], tiler: Tiler) -> torch.Tensor:
        """The weighted term, from the tiles' `sums` added up."""
        return self.loss_from_sums(sums, tiler) * self.weight

    def loss(self, found: torch.Tensor) -> torch.Tensor:
        """The unweighted relative fp32 scalar: 0 at the target."""
        raise NotImplementedError

    def sums(self, found: torch.Tensor, tile: Tile) -> tuple[torch.Tensor, ...]:
        """Statistics of one tile's features at `layer` that add up over the tiles (terms on a layer only)."""
        raise NotImplementedError(f"the {self.name} term cannot be computed in tiles")

    def loss_from_sums(self, sums: tuple[torch.Tensor, ...], tiler: Tiler) -> torch.Tensor:
        """`loss` from the whole image's statistics, the tiles' `sums` added up (terms on a layer only)."""
        raise NotImplementedError(f"the {self.name} term cannot be computed in tiles")


class ContentTerm(Term):
    """The photo's features at one layer: losses.content_loss, whose target is the whole image's features."""

    def loss(self, found: torch.Tensor) -> torch.Tensor:
        return content_loss(found, self.target)

    def sums(self, found: torch.Tensor, tile: Tile) -> tuple[torch.Tensor, ...]:
        target = self.target[(..., *tile.place(self.layer))]
        return (((found.float() - target).pow(2) * tile.weights(self.layer)).sum(),)

    def loss_from_sums(self, sums: tuple[torch.Tensor, ...], tiler: Tiler) -> torch.Tensor:
        count = self.target.shape[1] * tiler.count(self.layer)  # content_loss's mean: over channels and positions
        return sums[0] / count / (self.target.pow(2).mean() + EPS)


@dataclass(frozen=True, eq=False, kw_only=True)
class StyleTerm(Term):
    """The paintings' style at one layer, measured by a style loss against its summary of them (`target`)."""

    style_loss: StyleLoss

    def loss(self, found: torch.Tensor) -> torch.Tensor:
        return self.style_loss(found, self.target)

    def sums(self, found: torch.Tensor, tile: Tile) -> tuple[torch.Tensor, ...]:
        weights = tile.weights(self.layer)
        if self.style_loss.additive:
            return self.style_loss.sums(found, weights)
        # A sorting loss is no sum over positions: the tile's own loss, counted for its share of the positions.
        return (self.style_loss(tile.core(found, self.layer), self.target) * weights.sum(),)

    def loss_from_sums(self, sums: tuple[torch.Tensor, ...], tiler: Tiler) -> torch.Tensor:
        count = tiler.count(self.layer)
        return self.style_loss.from_sums(sums, count, self.target) if self.style_loss.additive else sums[0] / count


@dataclass(frozen=True, eq=False, kw_only=True)
class RegionStyleTerm(StyleTerm):
    """One region's paintings at one layer (regions.py): the statistics count each position by the region's mask
    there and are divided by its mass (StyleLoss.guided)."""

    mask: torch.Tensor  # (1, 1, h, w): the region's share of each of the whole image's positions at `layer`

    def loss(self, found: torch.Tensor) -> torch.Tensor:
        return self.style_loss.guided(found, self.mask, self.target)

    def sums(self, found: torch.Tensor, tile: Tile) -> tuple[torch.Tensor, ...]:
        inside = self.mask[(..., *tile.place(self.layer))]
        counted = tile.weights(self.layer) * inside
        if self.style_loss.additive:  # the mask's mass adds up over the tiles too
            return (*self.style_loss.sums(found, counted), counted.sum())
        # Sorting: the tile's own region loss, counted for its share of the region's positions.
        core_inside = tile.core(inside, self.layer)
        share = (tile.core(counted, self.layer) * (core_inside >= 0.5)).sum()
        return self.style_loss.guided(tile.core(found, self.layer), core_inside, self.target) * share, share

    def loss_from_sums(self, sums: tuple[torch.Tensor, ...], tiler: Tiler) -> torch.Tensor:
        if self.style_loss.additive:
            return self.style_loss.from_sums(sums[:-1], sums[-1], self.target)
        return sums[0] / sums[1].clamp_min(EPS)


@dataclass(frozen=True, eq=False, kw_only=True)
class HoldPixelsTerm(Term):
    """Pixels held to a picture (`target`) where `mask` says: the pixels' squared difference from it, counted by
    the mask and relative to the picture's energy. Regions that keep the photo are held to the photo (they have
    no style term; this holds their colours too, which the content layer alone does not); a clip's frame is held
    to the last painted frame moved along the scene's motion, where that motion is reliable (nst_core/flow.py)."""

    mask: torch.Tensor  # (1, 1, H, W)

    def loss(self, image: torch.Tensor) -> torch.Tensor:
        error = ((image.float() - self.target).pow(2) * self.mask).sum() / (self.mask.sum() * image.shape[1] + EPS)
        return error / (self.target.pow(2).mean() + EPS)


class TotalVariationTerm(Term):
    """Speckle in the image itself (no target: 0 for a flat image)."""

    def loss(self, found: torch.Tensor) -> torch.Tensor:
        return total_variation(found)


@dataclass(frozen=True)
class Objective:
    """The terms of one scale, in the order events list them."""

    terms: tuple[Term, ...]

    def __post_init__(self) -> None:
        if len(set(self.names)) != len(self.names):  # events key the values by name: one would hide another
            raise ValueError(f"two terms share a name: {self.names}")

    @property
    def names(self) -> list[str]:
        return [term.name for term in self.terms]

    @property
    def layers(self) -> frozenset[str]:
        """The feature layers the terms read."""
        return frozenset(term.layer for term in self.terms if term.layer is not None)

    def __call__(self, image: torch.Tensor, extract: FeatureExtractor) -> torch.Tensor:
        """[total, each term...] at the whole `image`, differentiable."""
        return self.from_features(image, extract(image, self.layers))

    def from_features(self, image: torch.Tensor, found: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """[total, each term...] from the image's features at `self.layers` (computed once for a batch of
        images: together.py)."""
        return self.stack({term.name: term.value(image if term.layer is None else found[term.layer])
                           for term in self.terms})

    def tiled(self, x: torch.Tensor, tiler: Tiler, extract: FeatureExtractor) -> torch.Tensor:
        """[total, each term...] at x (detached), with the gradient added to x.grad: the same values as the whole
        image at once would give, the network run one tile at a time, in two passes over the tiles:
         1. without gradients: each tile's statistics (`Term.sums`, weighted by its window) add up to the whole
            image's; from them come the terms and their gradient with respect to the statistics (autograd on
            small tensors);
         2. each tile again, with gradients, backpropagating the inner product of that gradient with the tile's
            own statistics: the pixels' gradients add up, tile by tile, to the whole image's gradient.
        """
        tiled = [term for term in self.terms if term.layer is not None]

        def statistics(tile: Tile) -> list[tuple[torch.Tensor, ...]]:
            feats = extract(tile.crop(x), self.layers)
            return [term.sums(feats[term.layer], tile) for term in tiled]

        with torch.no_grad():  # pass 1: the whole image's statistics
            totals = None
            for tile in tiler.tiles:
                parts = statistics(tile)
                totals = parts if totals is None else [tuple(a + b for a, b in zip(t, p))
                                                       for t, p in zip(totals, parts)]
        leaves = [tuple(t.detach().requires_grad_(True) for t in part) for part in totals]
        with torch.enable_grad():
            values = {term.name: term.value_from_sums(part, tiler) for term, part in zip(tiled, leaves)}
            flat = [t for part in leaves for t in part]
            grads = torch.autograd.grad(torch.stack(list(values.values())).sum(), flat, allow_unused=True)
            # Terms on the image itself need no network: the whole image is in memory, so they take it at once.
            on_image = {term.name: term.value(x) for term in self.terms if term.layer is None}
            if on_image:
                torch.stack(list(on_image.values())).sum().backward()
        values.update(on_image)
        grads = [torch.zeros_like(t) if g is None else g for t, g in zip(flat, grads)]
        for tile in tiler.tiles:  # pass 2: each tile's share of the gradient, through the network
            with torch.enable_grad():
                parts = [t for part in statistics(tile) for t in part]
                sum((g * p).sum() for g, p in zip(grads, parts)).backward()
        return self.stack(values).detach()

    def stack(self, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """[total, each term...] from the terms' values by name, as one tensor: one host sync reads them all."""
        ordered = [values[name] for name in self.names]
        return torch.stack([torch.stack(ordered).sum(), *ordered])


def group_of(name: str) -> str:
    return name.partition(":")[0]


def group_totals(terms: Mapping[str, float | None]) -> dict[str, float | None]:
    """Term values summed by group ("style" for every "style:..."), in order of first appearance; a group with
    a missing value (None: not finite) has none."""
    totals: dict[str, float | None] = {}
    for name, value in terms.items():
        group = group_of(name)
        before = totals.get(group, 0.0)
        totals[group] = None if before is None or value is None else before + value
    return totals


# --- the terms a run's settings ask for --------------------------------------------------------------------

# The photo's regions against their pixels, per unit of content weight: a pixel error of a few percent of the
# photo's energy outweighs what the neighbours' style pulls over the border.
KEEP_PHOTO_WEIGHT = 100.0


@dataclass(frozen=True)
class Held:
    """A picture to hold the run to (1, 3, H, W) in [0, 1], where `mask` (1, 1, H, W) says, with `weight` per unit
    of content weight."""

    picture: torch.Tensor
    mask: torch.Tensor
    weight: float

    def at_size(self, height: int, width: int) -> Held:
        if self.picture.shape[-2:] == (height, width):
            return self
        resized = [F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)
                   for t in (self.picture, self.mask)]
        return Held(*resized, self.weight)

    def to(self, device: torch.device) -> Held:
        return Held(self.picture.to(device), self.mask.to(device), self.weight)


@dataclass(frozen=True)
class ScaleContext:
    """What a term's builder may read: the run's settings and one scale's targets."""

    settings: Settings
    targets: Targets
    style_loss: StyleLoss  # the one that made targets.style
    finer: int  # scales above the coarsest (the style layers' weights change with it, see Settings.layer_weights)
    regions: tuple[Region, ...] = ()  # a region map's regions, in the order of targets.masks
    held: Held | None = None  # a picture the run is held to (the last frame of a clip), at this scale's size


def content_terms(at: ScaleContext) -> list[Term]:
    s = at.settings
    return [ContentTerm(name="content", layer=s.content_layer, weight=s.content_weight,
                        target=at.targets.content_features)]


def style_terms(at: ScaleContext) -> list[Term]:
    s = at.settings
    if at.regions:
        return region_style_terms(at)
    return [StyleTerm(name=f"style:{layer}", layer=layer, weight=s.style_weight * share,
                      target=at.targets.style[layer], style_loss=at.style_loss)
            for layer, share in s.layer_weights(at.finer).items()]


def region_style_terms(at: ScaleContext) -> list[Term]:
    """Each painted region's terms, named "style:#rrggbb:layer", each weighted as a plain run's times the region's
    strength: at strength 1 every region is as much a painting as the whole picture would be."""
    s, targets = at.settings, at.targets
    return [RegionStyleTerm(name=f"style:{region.label}:{layer}", layer=layer,
                            weight=s.style_weight * share * region.strength,
                            target=targets.region_style[region.label][layer], style_loss=at.style_loss,
                            mask=layer_mask(targets.masks[index:index + 1], layer))
            for index, region in enumerate(at.regions) if not region.keeps_photo
            for layer, share in s.layer_weights(at.finer).items()]


def keep_photo_terms(at: ScaleContext) -> list[Term]:
    kept = [index for index, region in enumerate(at.regions) if region.keeps_photo]
    if not kept:
        return []
    mask = at.targets.masks[kept].sum(0, keepdim=True)
    return [HoldPixelsTerm(name="keep", layer=None, weight=KEEP_PHOTO_WEIGHT * at.settings.content_weight,
                          target=at.targets.content, mask=mask)]


def temporal_terms(at: ScaleContext) -> list[Term]:
    held = at.held
    if held is None:
        return []
    return [HoldPixelsTerm(name="temporal", layer=None, weight=held.weight * at.settings.content_weight,
                           target=held.picture, mask=held.mask)]


def tv_terms(at: ScaleContext) -> list[Term]:
    weight = at.settings.tv_weight
    return [TotalVariationTerm(name="tv", layer=None, weight=weight)] if weight else []  # off: not computed


TermBuilder = Callable[[ScaleContext], list[Term]]
TERMS: list[TermBuilder] = [content_terms, style_terms, keep_photo_terms, temporal_terms, tv_terms]


def build_objective(at: ScaleContext) -> Objective:
    """Every builder's terms, in TERMS' order."""
    return Objective(tuple(term for make in TERMS for term in make(at)))
