"""What each layer sees: a picture's strongest feature maps at one layer, that layer's Gram matrix, and one
channel's map laid over the picture.

One forward pass through `nst_core.features`; the panels are yielded one by one as they are drawn.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..backbones import VGGFeatures, load_backbone
from ..config import default_weights
from ..errors import SettingsError
from ..features import FeatureExtractor, gram, pick_device
from ..images import ImageSource, decode_image, fitted_size, resize_to, to_tensor
from . import render
from .events import Sheet, ViewEvent

GRAM_CHANNELS = 64  # the heatmap shows the strongest channels' pairs: 512x512 cells would be a grey blur


def layers(image: ImageSource, *, layer: str = "relu3_1", channel: int | None = None, top: int = 16,
           size: int = 256, weights: str | None = None, backbone: VGGFeatures | None = None) -> Iterator[ViewEvent]:
    """The picture through the network's eyes at `layer`; `channel` (default: the most active) over the picture."""
    picture = decode_image(image)
    model = backbone or load_backbone(weights or default_weights())
    count = model.channels(layer)
    if channel is not None and not 0 <= channel < count:
        raise SettingsError(f"Channel must be between 0 and {count - 1} for {layer}, not {channel}.")
    if not 1 <= top <= 64:
        raise SettingsError(f"Show between 1 and 64 feature maps, not {top}.")
    shown = resize_to(picture, fitted_size(picture.size, size, min_short=16))
    sheet = Sheet("layers", 4)
    sheet.put("image", "the picture", shown)
    yield sheet.event(f"Looking at the picture through {layer}")

    extract = FeatureExtractor(model, pick_device("auto"), "fp32")
    with torch.no_grad():
        maps = extract(to_tensor(shown).to(extract.device), [layer])[layer][0].float().cpu()
    strength = maps.mean(dim=(1, 2))
    order = strength.argsort(descending=True)
    strongest = order[:top].tolist()
    sheet.numbers.update({"layer": layer, "channels": count, "map_size": [maps.shape[2], maps.shape[1]],
                          "top_channels": strongest, "top_mean_activation": [round(strength[c].item(), 4)
                                                                              for c in strongest]})
    sheet.step = 1
    sheet.put(f"{layer}_maps", f"{len(strongest)} busiest of {count} maps",
              render.feature_grid(maps[strongest], [f"#{c}" for c in strongest]))
    yield sheet.event(f"The {len(strongest)} feature maps of {layer} that fire most")

    energy = gram(maps.unsqueeze(0))[0]
    keep = energy.diagonal().argsort(descending=True)[:GRAM_CHANNELS]
    block = energy[keep][:, keep]
    off_diagonal = block - torch.diag(block.diagonal())
    pairs = off_diagonal.flatten().argsort(descending=True)[:6:2]  # symmetric: every pair appears twice
    sheet.numbers["strongest_pairs"] = [[int(keep[p // len(keep)]), int(keep[p % len(keep)])] for p in pairs.tolist()]
    sheet.step = 2
    sheet.put(f"{layer}_gram", f"Gram matrix ({len(keep)} strongest)",
              render.heatmap(block, [f"#{c}" for c in keep.tolist()]))
    yield sheet.event(f"The Gram matrix of {layer}: bright where two channels fire together")

    chosen = strongest[0] if channel is None else channel
    sheet.numbers["channel"] = chosen
    sheet.step = 3
    sheet.put(f"{layer}_ch{chosen}", f"where channel {chosen} fires", render.overlay(shown, maps[chosen]))
    yield sheet.event(f"Channel {chosen} of {layer} over the picture")
    sheet.step = 4
    yield sheet.event(f"Done: {layer} has {count} channels; each lights up for its own pattern.", done=True)
