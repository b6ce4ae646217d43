"""Strict decoding of uploads: every mode to 8-bit RGB, EXIF rotation, refusals without decoding, recipes.

Every test image is built in memory (files only under tmp_path); the whole module runs in a few seconds.
"""

from __future__ import annotations

import io
import json
import os
import resource
import struct
import subprocess
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import EpsImagePlugin, ExifTags, Image, ImageFile, PngImagePlugin

from nst_core.errors import ImageError
from nst_core.images import (
    MAX_PIXELS,
    RECIPE_KEY,
    decode_image,
    read_recipe,
    resize_longest,
    save_png,
    to_pil,
    to_tensor,
)

FUZZ = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
quiet_pillow = pytest.mark.filterwarnings("ignore::UserWarning")  # "Corrupt EXIF data" from mutated files


# ---------------------------------------------------------------- helpers


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    """Incompressible pixels, so that cutting a file in half cuts through its pixel data."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def close(pixel, expected, tol: int = 3) -> bool:
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(pixel, expected))


def assert_rgb(img: Image.Image, size: tuple[int, int] | None = None) -> None:
    assert isinstance(img, Image.Image)
    assert img.mode == "RGB"
    if size is not None:
        assert img.size == size
    assert not img.info
    assert not img.getexif()


def assert_plain(error: BaseException, *, hidden: tuple[str, ...] = ()) -> str:
    """A message for people: one short sentence, no traceback, no paths (a file's bare name is fine)."""
    message = str(error)
    assert message, "empty message"
    assert "\n" not in message and "\r" not in message
    assert "Traceback" not in message and 'File "' not in message
    assert "/" not in message and "\\" not in message
    assert len(message) <= 160
    assert message[0].isupper() and message.endswith(".")
    for text in hidden:
        assert text not in message
    return message


QUICK: list[float] = []  # seconds: this machine's decode of an ordinary photo (decode_reference)


@pytest.fixture(scope="module", autouse=True)
def decode_reference() -> float:
    """The yardstick for "refused quickly": how long this machine takes, now, to decode an ordinary 3000x2000
    photo. A refusal reads a header, never a bomb's pixels, so it must take less; fixed seconds do not work (a
    45-megapixel refusal took 0.54 s on a loaded two-core box, a quarter of the 2 s once asserted). Measured before
    any test's `no_pixel_decoding` forbids decoding."""
    data = encode(Image.linear_gradient("L").resize((3000, 2000)).convert("RGB"), "PNG")
    start = time.perf_counter()
    decode_image(data)
    QUICK[:] = [time.perf_counter() - start]
    return QUICK[0]


def quick(seconds: float) -> bool:
    return seconds < QUICK[0]


def refuse(source, **kwargs) -> str:
    """decode_image must raise ImageError quickly; returns its (checked) message."""
    start = time.perf_counter()
    with pytest.raises(ImageError) as caught:
        decode_image(source, **kwargs)
    took = time.perf_counter() - start
    assert quick(took), f"the refusal took {took:.2f} s, longer than decoding a 6-megapixel photo ({QUICK[0]:.2f} s)"
    return assert_plain(caught.value)


def patch_ihdr(png: bytes, width: int, height: int) -> bytes:
    """Make a tiny PNG claim to be width x height: new IHDR size and a matching CRC."""
    assert png[12:16] == b"IHDR"
    data = struct.pack(">II", width, height) + png[24:29]
    return png[:16] + data + struct.pack(">I", zlib.crc32(b"IHDR" + data)) + png[33:]


def patch_bmp(bmp: bytes, width: int, height: int) -> bytes:
    assert bmp[:2] == b"BM"
    return bmp[:18] + struct.pack("<ii", width, height) + bmp[26:]


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fail the test if any pixel data is decoded (or Ghostscript is started)."""

    def forbidden(*args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", forbidden)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(subprocess, "check_call", forbidden)


# ---------------------------------------------------------------- modes


def test_rgb_png_is_decoded_exactly():
    img = noise(17, 9)
    out = decode_image(encode(img, "PNG"))
    assert_rgb(out, (17, 9))
    assert np.array_equal(np.asarray(out), np.asarray(img))


def test_l_mode():
    img = Image.new("L", (5, 4), 77)
    for source in (img, encode(img, "PNG")):
        out = decode_image(source)
        assert_rgb(out, (5, 4))
        assert out.getpixel((2, 2)) == (77, 77, 77)


def test_la_mode_transparent_becomes_white():
    img = Image.new("LA", (4, 2), (100, 255))
    img.putpixel((0, 0), (0, 0))
    for source in (img, encode(img, "PNG")):
        out = decode_image(source)
        assert out.getpixel((0, 0)) == (255, 255, 255)
        assert out.getpixel((1, 1)) == (100, 100, 100)


def palette_image() -> Image.Image:
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 200, 30, 40, 10, 220, 30] + [0] * (253 * 3))
    img.putpixel((0, 0), 0)
    img.putpixel((3, 3), 2)
    return img


def test_palette_mode():
    img = palette_image()
    for source in (img, encode(img, "PNG"), encode(img, "GIF"), encode(img, "BMP")):
        out = decode_image(source)
        assert_rgb(out, (4, 4))
        assert out.getpixel((1, 1)) == (200, 30, 40)
        assert out.getpixel((0, 0)) == (0, 0, 0)
        assert out.getpixel((3, 3)) == (10, 220, 30)


def test_palette_with_transparency_becomes_white():
    img = palette_image()
    for data in (encode(img, "PNG", transparency=0), encode(img, "GIF", transparency=0)):
        out = decode_image(data)
        assert out.getpixel((0, 0)) == (255, 255, 255)  # index 0 is transparent black
        assert out.getpixel((1, 1)) == (200, 30, 40)


def test_rgb_png_with_transparent_colour_becomes_white():
    img = Image.new("RGB", (3, 1), (0, 0, 0))
    img.putpixel((2, 0), (9, 8, 7))
    out = decode_image(encode(img, "PNG", transparency=(0, 0, 0)))
    assert out.getpixel((0, 0)) == (255, 255, 255)
    assert out.getpixel((2, 0)) == (9, 8, 7)


def test_rgba_half_transparent_red_becomes_pink():
    img = Image.new("RGBA", (3, 3), (255, 0, 0, 128))
    img.putpixel((0, 0), (0, 0, 255, 0))
    img.putpixel((1, 0), (0, 0, 255, 255))
    for source in (img, encode(img, "PNG"), encode(img, "WEBP", lossless=True), encode(img, "TIFF")):
        out = decode_image(source)
        assert_rgb(out, (3, 3))
        assert close(out.getpixel((2, 2)), (255, 128, 128), tol=2), out.getpixel((2, 2))
        assert out.getpixel((0, 0)) == (255, 255, 255)
        assert out.getpixel((1, 0)) == (0, 0, 255)


def test_cmyk_cyan_becomes_cyan():
    img = Image.new("CMYK", (8, 8), (255, 0, 0, 0))
    for source, tol in ((img, 0), (encode(img, "TIFF"), 0), (encode(img, "JPEG", quality=95), 6)):
        out = decode_image(source)
        assert_rgb(out, (8, 8))
        assert close(out.getpixel((4, 4)), (0, 255, 255), tol), out.getpixel((4, 4))


def test_16_bit_grey_png_is_scaled_not_clipped():
    values = np.array([[0, 256, 32768, 65535]], dtype=np.uint16)
    img = Image.fromarray(values)
    assert img.mode.startswith("I;16")
    for source in (img, encode(img, "PNG"), encode(img, "TIFF")):
        out = decode_image(source)
        assert_rgb(out, (4, 1))
        assert [out.getpixel((x, 0))[0] for x in range(4)] == [0, 1, 128, 255]
        assert out.getpixel((2, 0)) == (128, 128, 128)


def test_dark_16_bit_png_stays_dark():
    # All values <= 255 in a 16-bit file are still 16-bit values: nearly black, not full 8-bit grey.
    img = Image.fromarray(np.full((2, 2), 200, dtype=np.uint16))
    assert decode_image(encode(img, "PNG")).getpixel((0, 0)) == (1, 1, 1)


def test_32_bit_integer_mode():
    wide = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.int32))
    narrow = Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32))
    assert wide.mode == narrow.mode == "I"
    for source in (wide, encode(wide, "TIFF")):
        assert [decode_image(source).getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]
    for source in (narrow, encode(narrow, "TIFF")):
        assert [decode_image(source).getpixel((x, 0))[0] for x in range(3)] == [0, 100, 255]


def test_float_mode():
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    bytes_range = Image.fromarray(np.array([[0.0, 100.0, 255.0]], dtype=np.float32))
    assert unit.mode == bytes_range.mode == "F"
    for source in (unit, encode(unit, "TIFF")):
        assert [decode_image(source).getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]
    for source in (bytes_range, encode(bytes_range, "TIFF")):
        assert [decode_image(source).getpixel((x, 0))[0] for x in range(3)] == [0, 100, 255]


def test_one_bit_mode():
    img = Image.new("1", (4, 2), 0)
    img.putpixel((1, 0), 1)
    for source in (img, encode(img, "PNG"), encode(img, "BMP"), encode(img, "TIFF")):
        out = decode_image(source)
        assert_rgb(out, (4, 2))
        assert out.getpixel((0, 0)) == (0, 0, 0)
        assert out.getpixel((1, 0)) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["YCbCr", "LAB", "HSV", "RGBX", "RGBa", "La", "PA", "I;16B"])
def test_other_modes_become_rgb(mode):
    img = Image.new("RGB", (3, 2), (120, 60, 30))
    try:
        img = img.convert(mode)
    except ValueError:
        img = Image.new(mode, (3, 2))
    assert_rgb(decode_image(img), (3, 2))


# ---------------------------------------------------------------- EXIF orientation


def oriented_jpeg(orientation: int, *, gps: bool = False) -> bytes:
    """40x20 white JPEG, red block in the top-left corner of the stored pixels."""
    img = Image.new("RGB", (40, 20), (255, 255, 255))
    img.paste((255, 0, 0), (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = orientation
    if gps:
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
        ifd[ExifTags.GPS.GPSLatitude] = (48.0, 31.0, 12.0)
    return encode(img, "JPEG", exif=exif, quality=95)


@pytest.mark.parametrize(
    ("orientation", "size", "red_at"),
    [
        (1, (40, 20), (5, 5)),  # as stored
        (3, (40, 20), (35, 15)),  # 180 degrees: bottom right
        (6, (20, 40), (15, 5)),  # 90 degrees clockwise: top right
        (8, (20, 40), (5, 35)),  # 90 degrees anticlockwise: bottom left
    ],
)
def test_exif_orientation_is_applied_and_dropped(orientation, size, red_at):
    data = oriented_jpeg(orientation, gps=True)
    assert Image.open(io.BytesIO(data)).getexif()[0x0112] == orientation
    out = decode_image(data)
    assert_rgb(out, size)
    assert "exif" not in out.info
    assert len(out.getexif()) == 0
    assert close(out.getpixel(red_at), (255, 0, 0), tol=20), out.getpixel(red_at)
    width, height = size
    opposite = (width - 1 - red_at[0], height - 1 - red_at[1])
    assert close(out.getpixel(opposite), (255, 255, 255), tol=20)


def test_decoded_image_drops_icc_and_text():
    img = Image.new("RGB", (4, 4), (1, 2, 3))
    img.info["icc_profile"] = b"not a real profile"
    out = decode_image(img)
    assert out.info == {}
    assert out.getpixel((0, 0)) == (1, 2, 3)


# ---------------------------------------------------------------- formats


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    out = decode_image(data)
    assert_rgb(out, (6, 6))
    assert close(out.getpixel((3, 3)), (255, 0, 0), tol=0)


def test_animated_webp_uses_first_frame():
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert close(decode_image(data).getpixel((3, 3)), (255, 0, 0), tol=0)


def test_mpo_multi_picture_jpeg_uses_first_picture():
    first, second = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    data = encode(first, "MPO", save_all=True, append_images=[second])
    assert close(decode_image(data).getpixel((4, 4)), (255, 0, 0), tol=6)


@pytest.mark.parametrize(
    ("fmt", "params", "exact"),
    [
        ("PNG", {}, True),
        ("JPEG", {"quality": 95}, False),
        ("WEBP", {"lossless": True}, True),
        ("WEBP", {"quality": 90}, False),
        ("BMP", {}, True),
        ("TIFF", {}, True),
        ("TIFF", {"compression": "tiff_lzw"}, True),
        ("GIF", {}, False),
    ],
)
def test_accepted_formats(fmt, params, exact, tmp_path):
    img = Image.new("RGB", (12, 7), (30, 140, 220))
    img.paste((250, 250, 10), (0, 0, 6, 7))
    data = encode(img, fmt, **params)
    path = tmp_path / f"picture.{fmt.lower()}"
    path.write_bytes(data)
    for source in (data, path, str(path)):
        out = decode_image(source)
        assert_rgb(out, (12, 7))
        tol = 0 if exact else 12
        assert close(out.getpixel((9, 3)), (30, 140, 220), tol), out.getpixel((9, 3))
        assert close(out.getpixel((2, 3)), (250, 250, 10), tol), out.getpixel((2, 3))


def test_format_is_sniffed_not_taken_from_the_name(tmp_path):
    path = tmp_path / "actually_a_png.jpg"
    path.write_bytes(encode(Image.new("RGB", (3, 3), (5, 6, 7)), "PNG"))
    assert decode_image(path).getpixel((1, 1)) == (5, 6, 7)


# ---------------------------------------------------------------- tiny and thin images


@pytest.mark.parametrize("size", [(1, 1), (1, 2000), (2000, 1)])
def test_tiny_and_thin_images(size):
    img = Image.new("RGB", size, (10, 20, 30))
    for fmt in ("PNG", "JPEG", "WEBP", "BMP"):
        out = decode_image(encode(img, fmt))
        assert_rgb(out, size)
    for longest in (1, 2, 64, 512, 3000):
        resized = resize_longest(decode_image(img), longest)
        assert min(resized.size) >= 1
        assert max(resized.size) == longest
        tensor = to_tensor(resized)
        assert tensor.shape == (1, 3, resized.size[1], resized.size[0])


def test_resize_longest_keeps_aspect_and_returns_same_size_unchanged():
    img = Image.new("RGB", (400, 300))
    assert resize_longest(img, 200).size == (200, 150)
    assert resize_longest(img, 800).size == (800, 600)
    assert resize_longest(img, 400) is img


# ---------------------------------------------------------------- refusals


BOMB_SIZES = [(12000, 12000), (16000, 16000), (7000, 7000), (1, 2_000_000_000), (0x7FFFFFFF, 0x7FFFFFFF)]


@pytest.mark.parametrize("size", BOMB_SIZES)
def test_png_bomb_refused_without_decoding(size, no_pixel_decoding):
    data = patch_ihdr(encode(Image.new("RGB", (2, 2)), "PNG"), *size)
    assert len(data) < 200
    message = refuse(data)
    assert "too large" in message
    assert f"{MAX_PIXELS // 1_000_000} megapixels" in message


@pytest.mark.parametrize("size", [(12000, 12000), (16000, 16000)])
def test_bmp_bomb_refused_without_decoding(size, no_pixel_decoding):
    data = patch_bmp(encode(Image.new("RGB", (2, 2)), "BMP"), *size)
    assert "too large" in refuse(data)


def test_custom_pixel_limit_is_named_in_message(no_pixel_decoding):
    data = patch_ihdr(encode(Image.new("RGB", (2, 2)), "PNG"), 12000, 12000)
    message = refuse(data, max_pixels=5_000_000)
    assert "5 megapixels" in message
    small = encode(Image.new("RGB", (3000, 2000)), "PNG")
    assert "5 megapixels" not in refuse(small, max_pixels=1_000_000)


def test_bomb_peak_memory_stays_low():
    datas = [patch_ihdr(encode(Image.new("RGB", (2, 2)), "PNG"), *size) for size in BOMB_SIZES]
    datas += [patch_bmp(encode(Image.new("RGB", (2, 2)), "BMP"), 16000, 16000)]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    tracemalloc.start()
    try:
        for data in datas:
            with pytest.raises(ImageError):
                decode_image(data)
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert traced_peak < 200 * 1024 * 1024
    assert rss_grown < 200 * 1024


def test_file_over_max_bytes_refused(tmp_path):
    data = encode(noise(40, 40), "PNG")
    path = tmp_path / "big.png"
    path.write_bytes(data)
    for source in (data, path):
        message = refuse(source, max_bytes=100)
        assert "too large" in message
        assert "0 MB" not in message  # a limit under one megabyte must not read "at most 0 MB"
        assert "100 bytes" in message
    assert "2 KB" in refuse(data, max_bytes=2048)
    assert "1 MB" in refuse(b"\0" * (1024 * 1024 + 1), max_bytes=1024 * 1024)
    assert_rgb(decode_image(data, max_bytes=len(data)))


def test_default_size_limit_message():
    message = refuse(b"\x89PNG" + b"\0" * (30 * 1024 * 1024))
    assert "30 MB" in message


@quiet_pillow
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_truncated_files_refused(fmt, tmp_path):
    data = encode(noise(96, 96), fmt)
    for cut in (len(data) // 2, len(data) * 3 // 4, 20, 8, 3):  # (the last byte or two may be spare)
        message = refuse(data[:cut])
        assert message in {
            "The image file is damaged or incomplete.",
            "This file is not an image we accept: use JPEG, PNG, WebP, GIF, BMP or TIFF.",
        }
    path = tmp_path / f"half.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    assert_plain(pytest.raises(ImageError, decode_image, path).value, hidden=(str(tmp_path),))


def test_empty_refused(tmp_path):
    assert refuse(b"") == "The file is empty."
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert refuse(path) == "The file is empty."


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>\n'
HTML = b"<!DOCTYPE html>\n<html><body><img src='x.png'></body></html>\n"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\nnewpath 0 0 moveto showpage\n%%EOF\n"
EPS_BINARY = b"\xc5\xd0\xd3\xc6" + struct.pack("<IIIIII", 30, len(EPS), 0, 0, 0, 0) + b"\xff\xff" + EPS
NOT_ACCEPTED = {
    "text.png": b"hello, this is just some text pretending to be a PNG\n" * 5,
    "drawing.svg": SVG,
    "drawing.png": SVG,
    "page.html": HTML,
    "document.pdf": PDF,
    "figure.eps": EPS,
    "figure.jpg": EPS_BINARY,
    "photo.ppm": b"P6\n4 4\n255\n" + b"\x80" * 48,  # readable by Pillow, but not on the allowlist
    "photo.ico": encode(Image.new("RGB", (16, 16)), "ICO"),
    "photo.psd": b"8BPS\x00\x01" + b"\0" * 40,
}


@pytest.mark.parametrize("name", sorted(NOT_ACCEPTED))
def test_not_an_accepted_image_refused(name, tmp_path, no_pixel_decoding):
    data = NOT_ACCEPTED[name]
    path = tmp_path / name
    path.write_bytes(data)
    expected = "This file is not an image we accept: use JPEG, PNG, WebP, GIF, BMP or TIFF."
    assert refuse(data) == expected
    assert refuse(path) == expected


def test_missing_path_refused(tmp_path):
    path = tmp_path / "sub" / "nope.png"
    for source in (path, str(path)):
        with pytest.raises(ImageError) as caught:
            decode_image(source)
        message = assert_plain(caught.value, hidden=(str(tmp_path),))
        assert "nope.png" in message


def test_directory_path_refused(tmp_path):
    folder = tmp_path / "folder.png"
    folder.mkdir()
    for source in (folder, str(folder), tmp_path):
        with pytest.raises(ImageError) as caught:
            decode_image(source)
        assert_plain(caught.value, hidden=(str(tmp_path),))
    # a path that runs through a file as if it were a folder
    afile = tmp_path / "file.png"
    afile.write_bytes(b"x")
    with pytest.raises(ImageError) as caught:
        decode_image(afile / "inner.png")
    assert_plain(caught.value, hidden=(str(tmp_path),))


def test_image_object_too_large_refused():
    img = Image.new("1", (9000, 5000))  # 45 megapixels, about 5 MB in mode "1"
    assert "too large" in refuse(img)


# ---------------------------------------------------------------- tensors


def test_tensor_round_trip_is_exact():
    img = noise(23, 11, seed=3)
    tensor = to_tensor(img)
    assert tensor.shape == (1, 3, 11, 23)
    assert tensor.dtype == torch.float32
    assert 0.0 <= tensor.min().item() and tensor.max().item() <= 1.0
    back = to_pil(tensor)
    assert back.mode == "RGB" and back.size == (23, 11)
    assert np.array_equal(np.asarray(back), np.asarray(img))
    assert torch.equal(to_tensor(back), tensor)


def test_to_pil_clamps_and_accepts_other_dtypes():
    tensor = torch.tensor([[[[-1.0, 2.0]], [[0.5, 0.0]], [[1.0, 0.25]]]], requires_grad=True)
    out = to_pil(tensor)
    assert out.getpixel((0, 0)) == (0, 128, 255)
    assert out.getpixel((1, 0)) == (255, 0, 64)
    assert to_pil(tensor.detach().double()).getpixel((0, 0)) == (0, 128, 255)
    assert to_pil(tensor.detach().half()).getpixel((1, 0)) == (255, 0, 64)


# ---------------------------------------------------------------- recipes


RECIPE = {"content": "tübingen.jpg", "styles": ["starry.jpg"], "steps": 300, "weights": [1.0, 1e5], "seed": None}


def png_metadata(data: bytes) -> tuple[list[bytes], Image.Image]:
    """The chunk types of a PNG file, and the file opened."""
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        chunks.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return chunks, Image.open(io.BytesIO(data))


def test_recipe_round_trip(tmp_path):
    img = noise(10, 6)
    buf = io.BytesIO()
    save_png(img, buf, RECIPE)
    assert read_recipe(buf.getvalue()) == RECIPE
    path = tmp_path / "result.png"
    save_png(img, path, RECIPE)
    assert read_recipe(path) == RECIPE
    assert read_recipe(str(path)) == RECIPE
    assert np.array_equal(np.asarray(decode_image(path)), np.asarray(img))
    with Image.open(path) as saved:
        assert json.loads(saved.info[RECIPE_KEY]) == RECIPE


def test_png_without_recipe_gives_none():
    assert read_recipe(encode(noise(4, 4), "PNG")) is None
    buf = io.BytesIO()
    save_png(noise(4, 4), buf, {"a": 1})
    other = buf.getvalue().replace(RECIPE_KEY.encode(), b"other-recip")  # same length, CRC now wrong
    assert read_recipe(other) is None


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_non_png_gives_none(fmt):
    assert read_recipe(encode(Image.new("RGB", (4, 4)), fmt)) is None


@pytest.mark.parametrize("data", [b"", b"not an image", SVG, PDF, b"\x89PNG\r\n\x1a\n"])
def test_junk_gives_no_recipe(data):
    assert read_recipe(data) is None


def test_recipe_that_is_not_an_object_gives_none():
    for text in ("[1, 2]", "not json", '"text"', ""):
        info = PngImagePlugin.PngInfo()
        info.add_itxt(RECIPE_KEY, text)
        buf = io.BytesIO()
        Image.new("RGB", (2, 2)).save(buf, "PNG", pnginfo=info)
        assert read_recipe(buf.getvalue()) is None


def test_read_recipe_does_not_decode_a_bomb(no_pixel_decoding):
    buf = io.BytesIO()
    save_png(Image.new("RGB", (2, 2)), buf, RECIPE)
    for size in ((12000, 12000), (16000, 16000), (0x7FFFFFFF, 0x7FFFFFFF)):
        start = time.perf_counter()
        result = read_recipe(patch_ihdr(buf.getvalue(), *size))
        assert result in (None, RECIPE)
        assert quick(time.perf_counter() - start)


def test_truncated_png_recipe_is_still_read_or_none():
    buf = io.BytesIO()
    save_png(noise(64, 64), buf, RECIPE)
    data = buf.getvalue()
    assert read_recipe(data[: len(data) // 2]) in (None, RECIPE)


def test_saved_png_has_no_exif_even_from_a_gps_photo():
    source = Image.open(io.BytesIO(oriented_jpeg(1, gps=True)))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the photo really carries a location
    assert "exif" in source.info
    source.info["icc_profile"] = b"not a real profile"
    for img in (source, decode_image(oriented_jpeg(6, gps=True))):
        buf = io.BytesIO()
        save_png(img, buf, RECIPE)
        chunks, saved = png_metadata(buf.getvalue())
        assert b"eXIf" not in chunks
        assert b"iCCP" not in chunks
        assert b"tRNS" not in chunks
        assert set(chunks) <= {b"IHDR", b"IDAT", b"IEND", b"iTXt"}
        assert "exif" not in saved.info
        assert len(saved.getexif()) == 0
        assert read_recipe(buf.getvalue()) == RECIPE


def test_save_png_ignores_carried_transparency():
    img = Image.new("RGB", (2, 1), (0, 0, 0))
    img.info["transparency"] = (0, 0, 0)
    buf = io.BytesIO()
    save_png(img, buf, {})
    assert decode_image(buf.getvalue()).getpixel((0, 0)) == (0, 0, 0)


# ---------------------------------------------------------------- fuzzing


def seeds() -> list[bytes]:
    rgba = Image.new("RGBA", (9, 7), (200, 10, 30, 128))
    grey16 = Image.fromarray(np.arange(63, dtype=np.uint16).reshape(7, 9) * 1000)
    photo = noise(9, 7, seed=5)
    return [
        encode(photo, "PNG"),
        encode(rgba, "PNG"),
        encode(palette_image(), "PNG", transparency=0),
        encode(grey16, "PNG"),
        encode(photo, "JPEG", quality=80),
        encode(photo, "JPEG", quality=80, progressive=True),
        oriented_jpeg(6, gps=True),
        encode(palette_image(), "GIF", transparency=0),
        encode(photo, "WEBP", lossless=True),
        encode(photo, "WEBP", quality=70),
        encode(photo, "BMP"),
        encode(photo, "TIFF"),
        encode(grey16, "TIFF", compression="tiff_lzw"),
    ]


SEEDS = seeds()


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, len(data)))
        data[start:end] = draw(st.binary(max_size=16))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def decodes_or_refuses(data: bytes) -> None:
    try:
        out = decode_image(data, max_pixels=4_000_000)
    except ImageError as error:
        assert_plain(error)
        return
    assert out.mode == "RGB"
    assert out.size[0] >= 1 and out.size[1] >= 1


@quiet_pillow
@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data):
    decodes_or_refuses(data)


@quiet_pillow
@FUZZ
@given(st.sampled_from([s[:16] for s in SEEDS]), st.binary(max_size=2048))
def test_fuzz_valid_header_random_body(header, body):
    decodes_or_refuses(header + body)


@quiet_pillow
@FUZZ
@given(mutated())
def test_fuzz_mutated_images(data):
    decodes_or_refuses(data)


@quiet_pillow
@FUZZ
@given(mutated())
def test_fuzz_read_recipe(data):
    try:
        result = read_recipe(data)
    except ImageError as error:
        assert_plain(error)
        return
    assert result is None or isinstance(result, dict)


def test_fuzz_seeds_are_valid():
    for data in SEEDS:
        assert_rgb(decode_image(data))


def open_handles(path: Path) -> int:
    """How many of this process's file descriptors point at `path` (Linux's /proc/self/fd)."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            count += Path(os.readlink(fd)) == path
        except OSError:  # the descriptor listdir itself used, closed by now
            pass
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc/self/fd to see open files")
def test_path_source_is_not_left_open(tmp_path):
    path = (tmp_path / "photo.png").resolve()
    save_png(noise(5, 5), path, RECIPE)
    with open(path, "rb"):
        assert open_handles(path) == 1  # the check sees a handle that is open
    assert open_handles(path) == 0
    assert decode_image(path).size == (5, 5) and read_recipe(path) == RECIPE
    assert open_handles(path) == 0  # neither left one open (on Linux unlinking it would have worked anyway)
