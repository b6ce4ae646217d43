"""Regions: which painting goes where (Gatys et al. 2017, "Controlling Perceptual Factors in NST").

A region map is an image of the photo's shape, one colour per region. Each region is painted from its own
paintings, or keeps the photo. In the objective a region is a set of terms whose statistics count each feature
position by the region's mask at that layer (losses.StyleLoss.guided): the map is taken to each layer's grid by
area pooling (soft borders), eroded by one feature position so a deep layer's positions that also see the
neighbouring region do not carry its style over the border (the bleeding a max-pooled mask gives), and each
region's statistics are divided by its own mass, so a small region counts as much as a large one. A region that
keeps the photo has no style term: a term on the pixels holds it to the photo (objective.HoldPixelsTerm).

Painted maps have antialiased edges and brush blends: every pixel goes to the nearest of the region colours (the
colours named in the plan, and every colour that covers at least MIN_SHARE of the map).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .errors import NSTError, SettingsError
from .images import decode_image
from .names import block_of
from .tiling import stride_of

MIN_SHARE = 0.01  # a colour covering less of the map than this is an edge or a stray touch, not a region
MAX_REGIONS = 8
MAX_STRENGTH = 10.0  # a region's style strength: a multiple of the style weight for that region alone
ERODED_FROM_BLOCK = 3  # layer masks are eroded from relu3 on (layer_mask)
ASPECT_TOLERANCE = 0.03  # a map this much off the photo's shape (relative) is for another photo


@dataclass(frozen=True)
class Region:
    """One colour of the map and what paints it: indices into the run's paintings, or () to keep the photo; its
    strength multiplies the style weight in it (steerable during a run)."""

    colour: tuple[int, int, int]
    paintings: tuple[int, ...]
    strength: float = 1.0

    @property
    def keeps_photo(self) -> bool:
        return not self.paintings

    @property
    def label(self) -> str:
        return hex_colour(self.colour)


@dataclass(frozen=True)
class RegionPlan:
    """A region map and its regions, each pixel of `labels` the index of its region."""

    labels: np.ndarray  # (H, W) int at the map's own size
    regions: tuple[Region, ...]
    map_image: Image.Image  # as given, for the recipe
    # A painting's own map, by the painting's index (neural-doodle, STROTSS): a region of the photo is painted from
    # the part of that painting under the same colour ("sky from sky"); the whole painting where it has none.
    painting_maps: dict[int, RegionPlan] = field(default_factory=dict)

    def painting_mask(self, painting: int, colour: tuple[int, int, int], size: tuple[int, int],
                      device: torch.device | str = "cpu") -> torch.Tensor | None:
        """The (1, 1, height, width) mask of `colour` on painting `painting` used at `size`, if its map has one."""
        own = self.painting_maps.get(painting)
        colours = [region.colour for region in own.regions] if own is not None else []
        if colour not in colours:
            return None
        index = colours.index(colour)
        return own.pixel_masks(size, device)[index:index + 1]

    def with_strengths(self, strengths: Mapping[str, float]) -> RegionPlan:
        """The plan with these regions' ("#rrggbb") strengths; colours it lacks are left out."""
        checked = {hex_colour(parse_colour(label)): check_strength(value) for label, value in strengths.items()}
        return replace(self, regions=tuple(replace(region, strength=checked.get(region.label, region.strength))
                                           for region in self.regions))

    def check_paintings(self, count: int) -> None:
        """Every region's paintings are among the run's `count` paintings (a caller's mistake, not a user's)."""
        if any(index >= count for region in self.regions for index in region.paintings):
            raise SettingsError(f"A region names a painting the run does not have (it has {count}).")

    def to_recipe(self) -> dict[str, Any]:
        """What a recipe records: each region's colour and paintings ("photo" where it keeps the photo), and the
        map itself as its regions' labels, a palette PNG in base64 (a few kilobytes: flat colours compress)."""
        labels = Image.fromarray(self.labels.astype(np.uint8), mode="P")
        labels.putpalette([v for region in self.regions for v in region.colour])
        buffer = io.BytesIO()
        labels.save(buffer, format="PNG", optimize=True)
        recipe = {"regions": [{"colour": region.label, "paintings": list(region.paintings) or "photo",
                               **({"strength": region.strength} if region.strength != 1 else {})}
                              for region in self.regions],
                  "map_png": base64.b64encode(buffer.getvalue()).decode("ascii")}
        if self.painting_maps:
            recipe["painting_maps"] = {str(index): own.to_recipe()["map_png"]
                                       for index, own in self.painting_maps.items()}
        return recipe

    def pixel_masks(self, size: tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
        """(R, 1, height, width) soft masks at an image of `size` (width, height), summing to 1 at every pixel."""
        width, height = size
        onehot = (torch.from_numpy(self.labels)[None] == torch.arange(len(self.regions))[:, None, None]).float()
        if self.labels.shape[0] >= height and self.labels.shape[1] >= width:  # shrinking: each pixel's share
            masks = F.interpolate(onehot[:, None], size=(height, width), mode="area")
        else:
            masks = F.interpolate(onehot[:, None], size=(height, width), mode="bilinear", align_corners=False)
        return (masks / masks.sum(0, keepdim=True).clamp_min(1e-6)).to(device)


def check_strength(value: float) -> float:
    value = float(value)
    if not 0 <= value <= MAX_STRENGTH:  # NaN fails this too
        raise SettingsError(f"A region's strength must be between 0 and {MAX_STRENGTH:g}, not {value:g}.")
    return value


def hex_colour(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#rrggbb' (or 'rrggbb') -> (r, g, b)."""
    digits = text.strip().removeprefix("#")
    if len(digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise SettingsError(f"A region colour looks like '#ff8800', not {text.strip()!r}.")
    return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def make_plan(map_image: Image.Image, photo_size: tuple[int, int], named: dict[tuple[int, int, int], tuple[int, ...]],
              default: tuple[int, ...], of: str = "photo") -> RegionPlan:
    """The plan for `map_image` over a photo of `photo_size`: `named` colours painted by their paintings (() keeps
    the photo), every other colour of the map by `default`. One sentence for a map that does not fit (`of` says
    what it maps: the photo, or a painting)."""
    check_shape(map_image.size, photo_size, of)
    pixels = np.asarray(map_image.convert("RGB"), dtype=np.int32)
    flat = pixels.reshape(-1, 3)
    found, counts = np.unique(flat, axis=0, return_counts=True)
    common = [tuple(int(v) for v in c) for c, n in zip(found, counts) if n >= MIN_SHARE * len(flat)]
    colours = list(named) + [c for c in common if c not in named]
    if len(colours) > MAX_REGIONS:
        raise SettingsError(f"The region map has {len(colours)} colours; paint it with at most {MAX_REGIONS}.")
    palette = np.array(colours, dtype=np.int32)
    labels = np.argmin(((flat[:, None, :] - palette[None]) ** 2).sum(-1), axis=1).reshape(pixels.shape[:2])
    present = np.bincount(labels.ravel(), minlength=len(colours))
    for colour in named:
        if present[colours.index(colour)] < MIN_SHARE * len(flat):
            raise SettingsError(f"The region map has no {hex_colour(colour)} region to paint; its colours are "
                                f"{', '.join(hex_colour(c) for c in common)}.")
    regions = tuple(Region(c, named.get(c, default)) for c in colours)
    return RegionPlan(labels.astype(np.int64), regions, map_image)


def read_recorded(recorded: Mapping[str, Any]) -> tuple[Image.Image, tuple[Region, ...], dict[int, Image.Image]]:
    """A recipe's regions (RegionPlan.to_recipe) read back: the map, each region as recorded (strength too), and
    the paintings' own maps by painting index; one sentence for regions that cannot be read."""
    try:
        regions = tuple(Region(parse_colour(region["colour"]),
                               () if region["paintings"] == "photo" else tuple(int(i) for i in region["paintings"]),
                               check_strength(region.get("strength", 1.0)))
                        for region in recorded["regions"])
        map_image = decode_image(base64.b64decode(recorded["map_png"], validate=True))
        own = {int(index): decode_image(base64.b64decode(data, validate=True))
               for index, data in recorded.get("painting_maps", {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error, NSTError):
        raise SettingsError("The recipe's regions could not be read: it was not made here, or it was changed.") \
            from None
    return map_image, regions, own


def plan_from_recipe(recorded: Mapping[str, Any], photo_size: tuple[int, int],
                     painting_sizes: Sequence[tuple[int, int]]) -> RegionPlan:
    """A recipe's regions as a plan again, over a photo of `photo_size` and paintings of `painting_sizes` (the
    run's, in its order); one sentence for regions that cannot be read or do not fit."""
    map_image, regions, own = read_recorded(recorded)
    plan = make_plan(map_image, photo_size, {region.colour: region.paintings for region in regions}, ())
    plan = plan.with_strengths({region.label: region.strength for region in regions})
    plan.check_paintings(len(painting_sizes))
    if any(index >= len(painting_sizes) for index in own):
        raise SettingsError(f"The recipe maps a painting the run does not have (it has {len(painting_sizes)}).")
    return replace(plan, painting_maps={index: make_plan(image, painting_sizes[index], {}, (), of="painting")
                                        for index, image in own.items()})


def check_shape(map_size: tuple[int, int], photo_size: tuple[int, int], of: str = "photo") -> None:
    map_aspect, photo_aspect = map_size[0] / map_size[1], photo_size[0] / photo_size[1]
    if abs(map_aspect / photo_aspect - 1) > ASPECT_TOLERANCE:
        raise SettingsError(f"The region map is {map_size[0]}×{map_size[1]} but the {of} is "
                            f"{photo_size[0]}×{photo_size[1]}: draw the map over the {of}, at its shape.")


def positions_inside(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) features -> those where the (1, 1, H, W) mask is at least a half, as (1, C, n, 1): a painting's
    region, summarised by any style loss as if it were a painting of its own. All of them where none is inside."""
    inside = mask.reshape(-1) >= 0.5
    return features.flatten(2)[:, :, inside, None] if bool(inside.any()) else features


def layer_mask(pixel_mask: torch.Tensor, layer: str) -> torch.Tensor:
    """A (1, 1, H, W) pixel mask -> the share of each of `layer`'s feature positions inside the region (area
    pooling, as the layer's grid floors the image), eroded by one position from relu3 on; a region too small to
    survive erosion at a deep layer keeps its pooled mask rather than vanish there.

    relu1 and relu2 positions see a few pixels each, so they barely reach over a border; eroded too, a band a few
    pixels wide along every border had no region's colour and texture and showed as a pale line (looked at on the
    split-at-the-horizon case at 3x: gone without their erosion)."""
    stride = stride_of(layer)
    pooled = F.avg_pool2d(pixel_mask, stride) if stride > 1 else pixel_mask
    if block_of(layer) < ERODED_FROM_BLOCK:
        return pooled
    eroded = -F.max_pool2d(-pooled, 3, stride=1, padding=1)  # max_pool2d pads with -inf: the picture's edge stays
    return eroded if eroded.sum() >= 1 else pooled
