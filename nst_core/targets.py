"""Content and style targets at one scale: what the optimised image is pulled towards.

Colour preservation happens here (Gatys et al. 2016): in luminance mode the photo and the paintings are
reduced to their brightness before their features are taken; in histogram mode the paintings are recoloured
to the photo's palette first. At a tiled scale (tiling.py) the photo's and the paintings' features are taken
a tile at a time, one style layer after another, so no image's features are ever all in memory at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from . import color
from .config import Settings
from .features import FeatureExtractor
from .images import fitted_size, resize_to, to_tensor
from .losses import StyleLoss
from .regions import RegionPlan, layer_mask, positions_inside
from .tiling import Tiler, blended_features, tile_features

MIN_STYLE_SIZE = 32  # a painting is never shrunk below this, whatever the style scale


@dataclass
class Targets:
    """One scale's targets, on the run's device. Images are (1, 3, H, W) in [0, 1]."""

    content: torch.Tensor  # the photo as optimised (its brightness alone in luminance mode)
    content_rgb: torch.Tensor  # the photo in colour, to recombine with a luminance result for display
    content_features: torch.Tensor  # at the content layer
    style: dict[str, Any]  # per style layer: the style loss's summary of the paintings
    styles: list[torch.Tensor]  # the paintings as used (resized, recoloured): the colours of init="style"
    # With a region map: each region's soft pixel mask (R, 1, H, W), and per region (by its colour, "#rrggbb")
    # the style loss's summary of its paintings alone (of their parts under its colour, where they have maps).
    masks: torch.Tensor | None = None
    region_style: dict[str, dict[str, Any]] = field(default_factory=dict)


def style_size(painting: tuple[int, int], longest: int, settings: Settings) -> tuple[int, int]:
    """The size a painting is used at for an output whose longest side is `longest`."""
    side = max(MIN_STYLE_SIZE, round(longest * settings.style_scale))
    return fitted_size(painting, side, min_short=settings.deepest_layer_side())


def prepare_targets(content: Image.Image, styles: list[Image.Image], blend: list[float], size: tuple[int, int],
                    settings: Settings, extractor: FeatureExtractor, style_loss: StyleLoss,
                    tiler: Tiler | None = None, plan: RegionPlan | None = None) -> Targets:
    """Targets for an output of `size` (width, height); in tiles where `tiler` (the output's tiles) is given;
    with a region `plan`, each region's masks and its paintings' style instead of all the paintings' blend."""
    device = extractor.device
    photo = to_tensor(resize_to(content, size)).to(device)
    paintings = [to_tensor(resize_to(img, style_size(img.size, max(size), settings))).to(device) for img in styles]
    if settings.preserve_color == "luminance":
        paintings = [color.match_luminance(p, photo) for p in paintings]
        optimised = color.luminance(photo)
    else:
        if settings.preserve_color == "histogram":
            paintings = [color.match_color(p, photo) for p in paintings]
        optimised = photo
    if tiler is not None:
        content_features = blended_features(extractor, tiler, optimised, settings.content_layer)
    else:
        with torch.no_grad():
            content_features = extractor(optimised, [settings.content_layer])[settings.content_layer].detach()
    if plan is None:
        style = paintings_style(paintings, blend, settings, extractor, style_loss)
        return Targets(optimised, photo, content_features, style, paintings)
    region_style = {}
    for region in plan.regions:
        if region.keeps_photo:
            continue
        chosen = [paintings[i] for i in region.paintings]
        masks = [plan.painting_mask(i, region.colour, (p.shape[-1], p.shape[-2]), device)
                 for i, p in zip(region.paintings, chosen)]
        region_style[region.label] = paintings_style(chosen, [blend[i] for i in region.paintings], settings,
                                                     extractor, style_loss, masks)
    return Targets(optimised, photo, content_features, {}, paintings, plan.pixel_masks(size, device), region_style)


def paintings_style(paintings: list[torch.Tensor], blend: list[float], settings: Settings,
                    extractor: FeatureExtractor, style_loss: StyleLoss,
                    masks: list[torch.Tensor | None] | None = None) -> dict[str, Any]:
    """Per style layer, the style loss's summary of the `paintings` (as used) blended by `blend`; where a painting
    has a (1, 1, H, W) mask (its own map's region), of its positions inside it alone."""
    masks = masks or [None] * len(paintings)
    if any(max(p.shape[-2:]) > settings.tile_size for p in paintings):
        # Too big to run at once: summarised whole, tile by tile (a painting's map is not used at such a scale).
        return tiled_style(paintings, blend, settings, extractor, style_loss)
    with torch.no_grad():
        per_layer: dict[str, list[torch.Tensor]] = {name: [] for name in settings.style_layers}
        for painting, mask in zip(paintings, masks):
            found = extractor(painting, settings.style_layers)
            for name in settings.style_layers:
                per_layer[name].append(found[name] if mask is None
                                       else positions_inside(found[name], layer_mask(mask, name)))
            del found
        return {name: style_loss.target(features, blend) for name, features in per_layer.items()}


def tiled_style(paintings: list[torch.Tensor], blend: list[float], settings: Settings, extractor: FeatureExtractor,
                style_loss: StyleLoss) -> dict[str, Any]:
    """Style targets where a painting is too big to run at once: each layer from disjoint tiles, every tile
    weighted by its share of its painting's positions (exact for the additive losses' statistics)."""
    style = {}
    for name in settings.style_layers:
        features, weights = [], []
        for painting, share in zip(paintings, blend):
            height, width = painting.shape[-2:]
            tiler = Tiler(height, width, settings.tile_size, overlap=0, device=painting.device)
            parts = tile_features(extractor, tiler, painting, name)
            if not style_loss.additive:  # one painting's tiles pool into one sample of positions, a mixture
                # (a list of parts would be blended like paintings, as a barycentre: narrower than the painting)
                parts = [torch.cat([part.flatten(2) for part in parts], dim=2)[:, :, None]]
            total = sum(part[0, 0].numel() for part in parts)
            features += parts
            weights += [share * part[0, 0].numel() / total for part in parts]
        style[name] = style_loss.target(features, weights)
    return style
