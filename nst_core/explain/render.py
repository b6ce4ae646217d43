"""Pictures for the teaching views: feature maps, Gram heatmaps, overlays, bars and labelled contact sheets.

Only drawing: tensors and numbers in, PIL images out. Knows nothing about networks or Gradio.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid

from ..images import to_pil, to_tensor

# A perceptually ordered dark-blue -> teal -> yellow ramp (viridis' end points and three stops between):
# dark is "silent", bright is "firing strongly", and it stays readable in greyscale and on a projector.
RAMP = torch.tensor([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]) / 255.0
INK = (17, 24, 39)
PAPER = (255, 255, 255)


@functools.lru_cache(maxsize=8)
def font(size: int) -> ImageFont.ImageFont:
    """Pillow's bundled font at `size` px (no system fonts needed)."""
    return ImageFont.load_default(size=size)


def colormap(values: torch.Tensor) -> torch.Tensor:
    """(H, W) values in [0, 1] -> (3, H, W) colours along RAMP."""
    position = values.clamp(0, 1) * (len(RAMP) - 1)
    low = position.floor().long().clamp(max=len(RAMP) - 2)
    t = (position - low).unsqueeze(-1)
    rgb = RAMP[low] * (1 - t) + RAMP[low + 1] * t
    return rgb.permute(2, 0, 1)


def normalised(values: torch.Tensor) -> torch.Tensor:
    """Scaled to [0, 1] by its own maximum (a silent map stays black)."""
    top = values.max()
    return values / top if top > 0 else torch.zeros_like(values)


def enlarge(tensor: torch.Tensor, side: int) -> torch.Tensor:
    """(C, H, W) enlarged with square pixels until its longest side is at least `side` (so cells stay visible)."""
    factor = max(1, round(side / max(tensor.shape[-2:])))
    return tensor.repeat_interleave(factor, -2).repeat_interleave(factor, -1)


def fitting(draw: ImageDraw.ImageDraw, text: str, width: int, size: int) -> ImageFont.ImageFont:
    """The font at `size` px, or smaller until `text` fits in `width` pixels."""
    while size > 8 and draw.textlength(text, font=font(size)) > width - 4:
        size -= 1
    return font(size)


def label(image: Image.Image, text: str, size: int) -> Image.Image:
    """`text` in the top-left corner on a dark band, readable over any picture."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    box = draw.textbbox((0, 0), text, font=font(size))
    draw.rectangle((0, 0, box[2] + size // 2, box[3] + size // 3), fill=INK)
    draw.text((size // 4, 0), text, fill=PAPER, font=font(size))
    return out


def feature_grid(maps: torch.Tensor, names: list[str], *, tile: int = 96, columns: int = 4) -> Image.Image:
    """(K, H, W) feature maps, each scaled by its own maximum, as a grid of coloured tiles named `names`."""
    tiles = []
    for values, name in zip(maps, names):
        picture = to_pil(enlarge(colormap(normalised(values)), tile).unsqueeze(0))
        # A quarter of the tile's height: at a seventh, "#239" was ~11 px on a projected screen, unreadable from a seat.
        tiles.append(to_tensor(label(picture, name, max(12, picture.height // 4)))[0])
    same = max(t.shape[-2] for t in tiles), max(t.shape[-1] for t in tiles)
    tiles = [F.interpolate(t.unsqueeze(0), size=same, mode="nearest")[0] for t in tiles]
    return to_pil(make_grid(tiles, nrow=columns, padding=3, pad_value=1.0).unsqueeze(0))


def heatmap(matrix: torch.Tensor, names: list[str] | None = None, *, side: int = 256) -> Image.Image:
    """A (C, C) Gram matrix as a heatmap; the square root spreads the few strong pairs from the many weak.

    With `names` (the channels, in the matrix's order) it gets what a class needs to read it: a colour key on top
    ("apart" to "together"), and along both axes the name of every eighth channel or so, with an empty band below
    for the gallery's caption. Without axes the picture was a coloured square nobody in the room could read."""
    values = normalised(matrix.clamp(min=0)).sqrt()
    cells = to_pil(enlarge(colormap(values), side).unsqueeze(0))
    if not names:
        return cells
    size = max(14, cells.width // 14)
    text = font(size)
    probe = ImageDraw.Draw(cells)
    left = max(round(probe.textlength(name, font=text)) for name in names) + size
    key, ticks = 2 * size, size + size // 2
    top, bottom = key + ticks, 2 * size
    picture = Image.new("RGB", (left + cells.width + size, top + cells.height + bottom), PAPER)
    picture.paste(cells, (left, top))
    draw = ImageDraw.Draw(picture)
    # The key: the ramp between its two words.
    apart, together = "apart", "together"
    start = left + round(draw.textlength(apart, font=text)) + size // 2
    end = left + cells.width - round(draw.textlength(together, font=text)) - size // 2
    ramp = to_pil(colormap(torch.linspace(0, 1, max(2, end - start)).expand(size, -1)).unsqueeze(0))
    picture.paste(ramp, (start, size // 2))
    draw.text((left, size), apart, fill=INK, font=text, anchor="lm")
    draw.text((left + cells.width, size), together, fill=INK, font=text, anchor="rm")
    # The axes: every `every`-th channel's name, as many as fit side by side.
    cell = cells.width / len(names)
    widest = max(draw.textlength(name, font=text) for name in names) + size // 2
    every = max(1, math.ceil(widest / cell))
    for i in range(0, len(names), every):
        middle = left + (i + 0.5) * cell
        draw.text((middle, top - 2), names[i], fill=INK, font=text, anchor="md")
        draw.text((left - size // 3, top + (i + 0.5) * cell), names[i], fill=INK, font=text, anchor="rm")
    return picture


def overlay(image: Image.Image, values: torch.Tensor) -> Image.Image:
    """One feature map (H', W') over a greyed copy of `image`: colour where the channel fires."""
    photo = to_tensor(image)[0]
    grey = photo.mean(0, keepdim=True).expand(3, -1, -1) * 0.6 + 0.2
    strength = F.interpolate(normalised(values)[None, None], size=photo.shape[-2:], mode="bilinear",
                             align_corners=False)[0, 0].clamp(0, 1)
    mixed = grey * (1 - strength) + colormap(strength) * strength
    return to_pil(mixed.unsqueeze(0))


def bars(items: list[tuple[str, float, tuple[int, int, int]]], *, width: int = 480, height: int = 300) -> Image.Image:
    """A bar per (label, value, colour), each with its value and label above it (a gallery's caption covers the
    bottom of a picture): big enough for the back of a room."""
    picture = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(picture)
    size = max(12, height // 11)
    text = font(size)
    top = max((value for _, value, _ in items), default=0) or 1.0
    slot = width // max(1, len(items))
    base, room = height - height // 6, height - height // 6 - 2 * size - 16
    for i, (name, value, colour) in enumerate(items):
        x0, x1 = i * slot + slot // 5, (i + 1) * slot - slot // 5
        y0 = base - round(room * value / top)
        draw.rectangle((x0, y0, x1, base), fill=colour)
        label_font = fitting(draw, name, slot, size)
        draw.text(((x0 + x1) // 2, y0 - 4), f"{value:.3g}", fill=INK, font=text, anchor="md")
        draw.text(((x0 + x1) // 2, y0 - 8 - size), name, fill=INK, font=label_font, anchor="md")
    draw.line((0, base, width, base), fill=INK, width=2)
    return picture


def contact_sheet(panels: list[tuple[str, Image.Image]], *, columns: int | None = None,
                  tile: int = 192) -> Image.Image:
    """Titled panels side by side (rows of `columns`), each fitted into a `tile`-pixel square."""
    columns = columns or min(len(panels), 5)
    caption = tile // 7
    tiles = []
    for title, picture in panels:
        cell = Image.new("RGB", (tile, tile + caption), PAPER)
        scale = tile / max(picture.size)
        # Small pictures grow with square pixels (a 64 px texture stays crisp), large ones shrink smoothly.
        resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
        fitted = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                                resample)
        cell.paste(fitted, ((tile - fitted.width) // 2, (tile - fitted.height) // 2))
        draw = ImageDraw.Draw(cell)
        draw.text((tile // 2, tile + caption // 2), title, fill=INK, font=fitting(draw, title, tile, tile // 11),
                  anchor="mm")
        tiles.append(to_tensor(cell)[0])
    return to_pil(make_grid(tiles, nrow=columns, padding=4, pad_value=1.0).unsqueeze(0))
