"""The layer view's pictures can be read from the back of a room: the Gram matrix has a key and named axes, and the
feature maps' channel numbers are a quarter of a tile high (on the tiny seeded network)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from nst_core.explain import VIEWS

from .conftest import gradient_image, tiny_backbone

PAPER = (255, 255, 255)


def panels(layer: str = "relu2_1") -> dict[str, Image.Image]:
    events = list(VIEWS["layers"](gradient_image(80, 60, seed=1), layer=layer, size=64, backbone=tiny_backbone()))
    return {panel.name: panel.image for panel in events[-1].panels}


def ink(region: np.ndarray) -> int:
    """Dark grey pixels (text) in an RGB region; the colour ramp's dark end is purple, not grey."""
    region = region.astype(int)
    return int(((region.max(axis=2) < 100) & (region.max(axis=2) - region.min(axis=2) < 40)).sum())


def test_the_gram_matrix_has_a_key_and_names_its_channels_along_both_axes():
    """The heatmap was a bare coloured square: which channels, and does bright mean more or less?"""
    last = panels()
    gram = np.asarray(last["relu2_1_gram"])
    assert (gram == PAPER).all(axis=2).mean() > 0.1, "no margins around the matrix"
    height, width = gram.shape[:2]
    assert ink(gram[height // 4:, : width // 8]) > 50, "no channel names along the left"
    assert ink(gram[: height // 6, :]) > 100, "no key and channel names along the top"


def test_the_busiest_channels_numbers_are_a_quarter_of_a_tile_high():
    """"#239" was drawn a seventh of a 96 px tile high: ~11 px on a projector, unreadable from a seat."""
    sheet = np.asarray(panels()["relu2_1_maps"])
    band = (sheet[:, :, 0] == 17) & (sheet[:, :, 1] == 24) & (sheet[:, :, 2] == 39)  # the label's dark band
    rows = np.where(band[:, : sheet.shape[1] // 4].any(axis=1))[0]  # the first column of tiles
    starts = rows[np.concatenate([[True], np.diff(rows) > 1])]
    assert len(starts) >= 2, "expected two rows of tiles or more"
    tile = starts[1] - starts[0]  # from one tile's label to the next one's, below it
    height = int(np.sum((rows >= starts[0]) & (rows < starts[1])))
    assert height >= tile / 4, (height, tile)
