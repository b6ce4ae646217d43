"""Images at the edges: decode what users hand over, resize, convert to tensors, save with a recipe.

Decoding is strict because uploads come from strangers: an allowlist of formats, sizes checked from the
header before any pixel is decoded, every mode converted to 8-bit RGB the way a person would expect
(EXIF rotation applied, 16-bit scaled rather than clipped, transparency composited over white).
Inside the engine an image is a (1, 3, H, W) float tensor in [0, 1].
"""

from __future__ import annotations

import io
import json
import struct
import warnings
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from .errors import ImageError

# Pillow opens MPO (multi-picture phone JPEGs) through its JPEG opener; "MPO" has no opener of its own
# and naming it here makes Image.open raise KeyError for every file that is not a JPEG.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
MAX_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 48-megapixel phone photo is 8000x6000; bombs are far larger
RECIPE_KEY = "nst-recipe"

ImageSource = str | Path | bytes | Image.Image


def decode_image(source: ImageSource, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Any accepted upload -> a fresh 8-bit RGB PIL image with no metadata. Raises ImageError."""
    if isinstance(source, Image.Image):
        _check_pixels(source.size, max_pixels)
        return _to_rgb(source)
    data = _read_bytes(source, max_bytes)
    if not data:
        raise ImageError("The file is empty.")
    with warnings.catch_warnings():
        # Pillow only warns about decompression bombs below its hard limit; refuse them all.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
                _check_pixels(img.size, max_pixels)
                img.seek(0)  # animated images: the first frame
                img.load()
                return _to_rgb(img)
        except ImageError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise _unreadable(error, max_pixels) from None
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error) as error:
            raise ImageError("The image file is damaged or incomplete.") from error


def _unreadable(error: Exception, max_pixels: int) -> ImageError:
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return ImageError(f"The image is too large: at most {max_pixels // 1_000_000} megapixels are accepted.")
    return ImageError("This file is not an image we accept: use JPEG, PNG, WebP, GIF, BMP or TIFF.")


def _read_bytes(source: str | Path | bytes, max_bytes: int) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        try:
            if path.stat().st_size > max_bytes:
                raise _too_many_bytes(max_bytes)
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ImageError(f"There is no image file at {path.name or str(path)!r}.") from None
        except PermissionError:
            raise ImageError(f"The image file {path.name!r} cannot be read (permission denied).") from None
    if len(data) > max_bytes:
        raise _too_many_bytes(max_bytes)
    return data


def _too_many_bytes(max_bytes: int) -> ImageError:
    # Whole megabytes would read "at most 0 MB" for a limit under one megabyte.
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if max_bytes >= size:
            return ImageError(f"The file is too large: at most {round(max_bytes / size, 1):g} {unit} is accepted.")
    return ImageError(f"The file is too large: at most {max_bytes} bytes are accepted.")


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageError("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageError(
            f"The image is too large ({width}x{height}); at most {max_pixels // 1_000_000} megapixels are accepted.")


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB, upright, over white where transparent, with no metadata."""
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        img = _wide_to_l(img)
    if img.mode in ("1", "L", "P", "RGB") and "transparency" in img.info:
        img = img.convert("RGBA")  # a transparent colour (PNG tRNS, GIF) becomes alpha, so white below
    if img.mode in ("La", "RGBa"):
        img = img.convert(img.mode.upper())  # premultiplied alpha: Pillow converts La to nothing but LA
    if img.mode in ("LA", "PA"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    return _bare_rgb(img)


def _bare_rgb(img: Image.Image) -> Image.Image:
    """The RGB pixels alone: a new image carries no EXIF, ICC profile, transparency or text from the input."""
    clean = Image.new("RGB", img.size)
    clean.paste(img.convert("RGB"))
    return clean


def _wide_to_l(img: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale scaled to 8 bits (Pillow's own convert clips them to white)."""
    values = np.asarray(img, dtype=np.float64)
    top = 65535.0 if values.max(initial=0) > 255 or img.mode.startswith("I;16") else 255.0
    if img.mode == "F" and values.max(initial=0) <= 1.0:
        top = 1.0
    return Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


def fitted_size(size: tuple[int, int], longest: int, *, min_short: int = 0) -> tuple[int, int]:
    """(width, height) with the aspect ratio of `size`, the longest side `longest`, and the short side at
    least `min_short` (a very thin image grows along its long side instead of shrinking below it)."""
    width, height = size
    scale = longest / max(width, height)
    if min(width, height) * scale < min_short:
        scale = min_short / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_to(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """An antialiased (Lanczos) resize to exactly `size`; the image itself when it already has that size."""
    if size == img.size:
        return img
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def resize_longest(img: Image.Image, longest: int) -> Image.Image:
    """Resize so the longest side is `longest` pixels, keeping the aspect ratio (at least 1 px a side)."""
    return resize_to(img, fitted_size(img.size, longest))


def to_tensor(img: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL -> (1, 3, H, W) float32 in [0, 1]."""
    array = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) float (any device or dtype) -> 8-bit RGB PIL, clamped to [0, 1]."""
    array = tensor.detach()[0].float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")


def save_png(img: Image.Image, target: str | Path | BinaryIO, recipe: dict[str, Any]) -> None:
    """Write a PNG whose only metadata is the recipe (JSON in an iTXt chunk): no EXIF, no GPS."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(RECIPE_KEY, json.dumps(recipe, sort_keys=True))
    _bare_rgb(img).save(target, format="PNG", pnginfo=info)  # PNG save would copy ICC and tRNS from img.info


def read_recipe(source: str | Path | bytes) -> dict[str, Any] | None:
    """The recipe stored in a PNG by `save_png`, or None if the file has none."""
    data = _read_bytes(source, MAX_BYTES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # no pixels are decoded here
        try:
            with Image.open(io.BytesIO(data), formats=("PNG",)) as img:
                # save_png writes the recipe before the pixels, so the chunks read by open() hold it;
                # img.text would decode every pixel (a bomb, too) to look for chunks after them.
                text = img.info.get(RECIPE_KEY)
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError,
                IndexError, TypeError, struct.error):
            return None
    if not text:
        return None
    try:
        recipe = json.loads(text)
    except ValueError:
        return None
    return recipe if isinstance(recipe, dict) else None
