"""Big images in tiles: crops of the image with a margin of context, and the windows that say how much each
of a crop's pixels counts.

The network never sees more than one tile (a core plus a margin of context) at once, so memory is bounded by
the tile size, not the image; how the objective's loss and gradient are computed from the tiles is in
objective.py (`Objective.tiled`). Tiles overlap; their windows ramp across the overlap and sum to one at every
pixel (a partition of unity), so no position counts twice and there is no seam to see; the margin gives the
network the context beyond the window, so the features inside it are the untiled ones (up to what lies beyond
the margin's reach). Crops start on the deepest layer's stride, so every layer's grid lines up.

It knows the backbone's strides; not the terms, the optimiser, the schedule or events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .features import FeatureExtractor
from .names import block_of

ALIGN = 16  # crops start on multiples of the deepest pooling stride, so every layer's grid lines up
MARGIN = 96  # pixels of context around a tile's window (VGG's relu5_1 sees ~100 px in each direction)
OVERLAP = 64  # pixels over which neighbouring windows cross-fade


@dataclass(frozen=True)
class Tile:
    """A crop of the image (with its margin) and the window that says how much each of its pixels counts."""

    top: int
    left: int
    bottom: int
    right: int
    window: torch.Tensor  # (1, 1, bottom - top, right - left), 0 in the margin

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        return image[..., self.top:self.bottom, self.left:self.right]

    def weights(self, layer: str) -> torch.Tensor:
        """The window at `layer`'s resolution: the share of each feature position that is this tile's."""
        stride = stride_of(layer)
        return F.avg_pool2d(self.window, stride) if stride > 1 else self.window

    def place(self, layer: str) -> tuple[slice, slice]:
        """Where this tile's features at `layer` sit in the whole image's feature map."""
        stride = stride_of(layer)
        top, left = self.top // stride, self.left // stride
        return (slice(top, top + (self.bottom - self.top) // stride),
                slice(left, left + (self.right - self.left) // stride))

    def core(self, features: torch.Tensor, layer: str) -> torch.Tensor:
        """The tile's features where its window is not zero (its margin cut off)."""
        rows, cols = torch.nonzero(self.weights(layer)[0, 0] > 0, as_tuple=True)
        return features[..., rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def stride_of(layer: str) -> int:
    """How many pixels one feature position of `layer` spans along a side (1 for relu1_x, 16 for relu5_x)."""
    return 2 ** (block_of(layer) - 1)


class Tiler:
    """The tiles of a height x width image: windows of about `size` pixels a side, plus margins."""

    def __init__(self, height: int, width: int, size: int, *, overlap: int = OVERLAP, margin: int = MARGIN,
                 device: torch.device | str = "cpu") -> None:
        self.height, self.width = height, width
        rows, cols = _spans(height, size, overlap, margin), _spans(width, size, overlap, margin)
        self.tiles = [Tile(top, left, bottom, right, torch.outer(down, across)[None, None].to(device))
                      for top, bottom, down in rows for left, right, across in cols]

    def count(self, layer: str) -> int:
        """Feature positions of the whole image at `layer`."""
        stride = stride_of(layer)
        return (self.height // stride) * (self.width // stride)


def _spans(length: int, size: int, overlap: int, margin: int) -> list[tuple[int, int, torch.Tensor]]:
    """Along one side: (crop start, crop end, window over the crop) per tile. Windows are 1 inside their
    core, ramp to 0 across the overlap with a neighbour, and are normalised to sum to one at every pixel."""
    if length <= size:
        return [(0, length, torch.ones(length))]
    if overlap == 0:  # disjoint cores on the alignment grid: every feature position belongs to one tile
        step = max(ALIGN, size // ALIGN * ALIGN)
        starts = list(range(0, length, step))
        if len(starts) > 1 and length - starts[-1] < ALIGN:
            starts.pop()  # a remainder thinner than the deepest stride holds no relu5 position: the last tile takes it
        ends = [*starts[1:], length]
    else:
        count = math.ceil((length - overlap) / (size - overlap))
        starts = [round(i * (length - size) / (count - 1)) for i in range(count)]
        ends = [start + size for start in starts]
    position = torch.arange(length, dtype=torch.float64) + 0.5
    windows = []
    for i, (start, end) in enumerate(zip(starts, ends)):
        window = ((position >= start) & (position < end)).double()
        if overlap:
            if i > 0:
                window = window * ((position - start) / overlap).clamp(max=1)
            if i < len(starts) - 1:
                window = window * ((end - position) / overlap).clamp(max=1)
        windows.append(window)
    windows = torch.stack(windows)
    windows = (windows / windows.sum(0)).float()
    spans = []
    for start, end, window in zip(starts, ends, windows):
        top = max(0, start - margin) // ALIGN * ALIGN
        bottom = min(length, end + margin)
        spans.append((top, bottom, window[top:bottom]))
    return spans


def tile_features(extract: FeatureExtractor, tiler: Tiler, image: torch.Tensor, layer: str) -> list[torch.Tensor]:
    """The features of `image` at `layer`, as each disjoint tile's core (for style targets): no position twice."""
    with torch.no_grad():
        return [tile.core(extract(tile.crop(image), [layer])[layer], layer) for tile in tiler.tiles]


def blended_features(extract: FeatureExtractor, tiler: Tiler, image: torch.Tensor, layer: str) -> torch.Tensor:
    """The whole image's features at `layer`, assembled from the tiles' windows (for content targets)."""
    whole = None
    with torch.no_grad():
        for tile in tiler.tiles:
            features = extract(tile.crop(image), [layer])[layer].float()
            if whole is None:
                stride = stride_of(layer)
                whole = features.new_zeros(1, features.shape[1], tiler.height // stride, tiler.width // stride)
            whole[(..., *tile.place(layer))] += features * tile.weights(layer)
    return whole
