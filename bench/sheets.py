"""Pictures of the picture bench: contact sheets (torchvision's make_grid plus labels) and a Pareto plot,
drawn with Pillow alone. It knows images and numbers; not how they were made."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid

from nst_core.images import to_pil, to_tensor

LABEL_HEIGHT = 30
PALETTE = ("#111827", "#2563eb", "#ea580c", "#16a34a", "#7c3aed", "#db2777", "#0891b2", "#ca8a04", "#65a30d",
           "#9ca3af")


def font(size: int = 12) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def square(image: Image.Image, side: int, inset: Image.Image | None = None) -> torch.Tensor:
    """The image centred on a white square of `side` (aspect kept), the painting small in its corner."""
    canvas = Image.new("RGB", (side, side), "white")
    scale = side / max(image.size)
    fitted = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                          Image.Resampling.LANCZOS)
    canvas.paste(fitted, ((side - fitted.width) // 2, (side - fitted.height) // 2))
    if inset is not None:
        thumb = side // 4
        small = inset.resize((thumb, max(1, round(inset.height * thumb / inset.width))), Image.Resampling.LANCZOS)
        canvas.paste(small, (0, side - small.height))
    return to_tensor(canvas)[0]


def contact_sheet(tiles: list[tuple[Image.Image, Image.Image | None, str]], columns: int, title: str,
                  side: int = 256) -> Image.Image:
    """A grid of (image, painting inset or None, caption) tiles under a title line."""
    grid = make_grid(torch.stack([square(image, side, inset) for image, inset, _ in tiles]), nrow=columns,
                     padding=4, pad_value=1.0)
    pictures = to_pil(grid[None])
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (pictures.width, pictures.height + rows * LABEL_HEIGHT + 24), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((6, 4), title, fill="black", font=font(15))
    cell = side + 4
    for i, (_, _, caption) in enumerate(tiles):
        row, column = divmod(i, columns)
        sheet.paste(pictures.crop((column * cell, row * cell, (column + 1) * cell + 4, (row + 1) * cell + 4)),
                    (column * cell, 24 + row * (cell + LABEL_HEIGHT)))
        draw.multiline_text((column * cell + 6, 24 + row * (cell + LABEL_HEIGHT) + cell + 1), caption,
                            fill="black", font=font(11), spacing=1)
    return sheet


def pareto_plot(points: dict[str, list[tuple[float, float]]], means: dict[str, tuple[float, float]],
                path: Path, title: str) -> None:
    """Structure kept (x, right is better) against style distance (y, drawn so up is better): one colour per
    method, a small dot per pair and a large labelled dot for the method's mean over the panel."""
    width, height, margin = 900, 640, 70
    every = [p for pts in points.values() for p in pts] + list(means.values())
    xs, ys = [p[0] for p in every], [p[1] for p in every]
    x0, x1 = min(xs) - 0.03, max(xs) + 0.03
    y0, y1 = min(ys) - 0.03, max(ys) + 0.03
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)

    def at(x: float, y: float) -> tuple[float, float]:  # y: lower distance drawn higher
        return (margin + (x - x0) / (x1 - x0) * (width - 2 * margin - 160),
                margin + (y - y0) / (y1 - y0) * (height - 2 * margin))

    left, top = at(x0, y0)
    right, bottom = at(x1, y1)
    draw.rectangle((left, top, right, bottom), outline="#6b7280")
    for k in range(6):
        x = x0 + (x1 - x0) * k / 5
        y = y0 + (y1 - y0) * k / 5
        px, _ = at(x, y0)
        _, py = at(x0, y)
        draw.line((px, bottom, px, bottom + 5), fill="#6b7280")
        draw.text((px - 14, bottom + 8), f"{x:.2f}", fill="black", font=font(12))
        draw.line((left - 5, py, left, py), fill="#6b7280")
        draw.text((left - 44, py - 7), f"{y:.2f}", fill="black", font=font(12))
    draw.text((left, height - 30), "structure kept (gradient correlation with the photo); right is better",
              fill="black", font=font(13))
    draw.text((8, 20), "style distance (sliced Wasserstein, VGG relu1_1-4_1; photo = 1); up is better",
              fill="black", font=font(13))
    draw.text((left, 4), title, fill="black", font=font(14))
    for i, (name, pts) in enumerate(points.items()):
        colour = PALETTE[i % len(PALETTE)]
        for x, y in pts:
            px, py = at(x, y)
            draw.ellipse((px - 3, py - 3, px + 3, py + 3), outline=colour)
        mx, my = at(*means[name])
        draw.ellipse((mx - 7, my - 7, mx + 7, my + 7), fill=colour)
        draw.text((mx + 9, my - 7), name, fill=colour, font=font(13))
        draw.ellipse((right + 20, top + 20 * i, right + 30, top + 20 * i + 10), fill=colour)
        draw.text((right + 36, top + 20 * i - 3), name, fill="black", font=font(12))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def tick_step(top: float) -> float:
    """The step of five round ticks (1, 2 or 5 times a power of ten) that reach at least `top`: labels that say
    exactly where a line is (0.37 had been labelled 0.4)."""
    power = 10 ** math.floor(math.log10(top / 5))
    return next(power * m for m in (1, 2, 5, 10) if 5 * power * m >= top)


def line_plot(series: dict[str, list[float]], path: Path, title: str, x_label: str, y_label: str,
              first_x: int = 1, x_step: int = 1) -> None:
    """One line per series (value k drawn at x = first_x + k * x_step), a colour each, with a legend; y from 0."""
    width, height, margin = 900, 440, 70
    longest = max(len(values) for values in series.values())
    step = tick_step(max(max(values) for values in series.values()) * 1.1 or 1.0)
    top_value, decimals = 5 * step, max(0, -math.floor(math.log10(step) + 1e-9))
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = margin, 60, width - 220, height - margin

    def at(k: float, value: float) -> tuple[float, float]:
        return (left + k / max(longest - 1, 1) * (right - left), bottom - value / top_value * (bottom - top))

    draw.rectangle((left, top, right, bottom), outline="#6b7280")
    for k in range(6):
        value = top_value * k / 5
        _, py = at(0, value)
        draw.line((left - 5, py, left, py), fill="#6b7280")
        draw.text((left - 40, py - 7), f"{value:.{decimals}f}", fill="black", font=font(12))
    for k in range(0, longest, max(1, longest // 12)):
        px, _ = at(k, 0)
        draw.line((px, bottom, px, bottom + 5), fill="#6b7280")
        draw.text((px - 6, bottom + 8), str(first_x + k * x_step), fill="black", font=font(12))
    draw.text((left, 8), title, fill="black", font=font(14))
    draw.text((left, height - 30), x_label, fill="black", font=font(13))
    draw.text((8, top - 24), y_label, fill="black", font=font(13))
    for i, (name, values) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        draw.line([at(k, v) for k, v in enumerate(values)], fill=colour, width=2)
        draw.line((right + 20, top + 24 * i + 6, right + 40, top + 24 * i + 6), fill=colour, width=3)
        draw.text((right + 46, top + 24 * i), name, fill="black", font=font(12))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
