"""Time-lapses of a run: the pictures it showed, in order, with the step counter burnt in, as an animated GIF
(Pillow) and an MP4 (H.264 through the ffmpeg that the imageio-ffmpeg package bundles).

A `Film` keeps a run's frames compressed and thinned to a fixed number as the run grows, so a long run costs
no more memory than a short one and its time-lapse still spans it evenly. Knows nothing about Gradio.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import NSTError

FRAME_CAPACITY = 48  # frames a film keeps; more are thinned to every other one
FILM_FRAMES = 24  # a film's frames at least, however short the run: a 40-step run previewed every 10 steps had 5
SECONDS = 6.0  # a time-lapse's length before its last frame
HOLD = 2.0  # seconds the finished picture stays on screen at the end
MIN_SIDE = 256  # small frames are enlarged (square pixels) so the counter stays readable


@dataclass(frozen=True)
class Shot:
    step: int
    total: int  # the run's length; 0 where it has none (a training that runs until its time is up)
    data: bytes  # the picture, WebP-compressed

    def image(self) -> Image.Image:
        with Image.open(io.BytesIO(self.data)) as img:
            return img.convert("RGB")


class Film:
    """The frames of one run: the first, every `every`-th one offered (at most `capacity` of those, `every`
    doubling whenever they would be more), and always the latest."""

    def __init__(self, capacity: int = FRAME_CAPACITY) -> None:
        self.capacity = capacity
        self.kept: list[Shot] = []
        self.latest: Shot | None = None
        self.every = 1
        self.offered = 0

    def add(self, image: Image.Image, step: int, total: int) -> None:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="WEBP", quality=90)
        self.latest = Shot(step, total, buffer.getvalue())
        if self.offered % self.every == 0:
            self.kept.append(self.latest)
            if len(self.kept) > self.capacity:
                self.kept = self.kept[::2]  # offered frames 0, 2e, 4e, ...: evenly spread again
                self.every *= 2
        self.offered += 1

    @property
    def shots(self) -> list[Shot]:
        if self.latest is None:
            return []
        return self.kept if self.kept[-1] is self.latest else [*self.kept, self.latest]

    def __len__(self) -> int:
        return len(self.shots)


def film_every(iterations: int, preview_every: int) -> int:
    """Every how many steps a run's film takes a frame: as often as its previews, and more often in a short run, so
    that it has FILM_FRAMES frames or more (every step for a run of FILM_FRAMES steps or fewer)."""
    return max(1, min(preview_every, iterations // FILM_FRAMES))


def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def with_counter(image: Image.Image, step: int, total: int) -> Image.Image:
    """The frame with "step N of M" (or "step N" where the total is 0) on a dark band along its bottom."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    size = max(12, out.width // 18)
    text = f"step {step} of {total}" if total else f"step {step}"
    band = size + size // 2
    draw.rectangle((0, out.height - band, out.width, out.height), fill=(17, 24, 39))
    draw.text((size // 2, out.height - band // 2), text, fill=(255, 255, 255), font=font(size), anchor="lm")
    return out


def frames(film: Film) -> Iterator[Image.Image]:
    """Every frame at the final frame's size (coarse-to-fine frames are smaller), even-sized, counter burnt in."""
    if not film.shots:
        raise NSTError("There is no run to make a time-lapse of yet; run something first.")
    last = film.shots[-1].image()
    scale = max(1, -(-MIN_SIDE // max(last.size)))
    size = (last.width * scale + (last.width * scale) % 2, last.height * scale + (last.height * scale) % 2)
    for shot in film.shots:
        picture = shot.image()
        resample = Image.Resampling.NEAREST if picture.size == last.size else Image.Resampling.BICUBIC
        yield with_counter(picture.resize(size, resample), shot.step, shot.total)


def write_gif(film: Film, path: str | Path) -> Path:
    # Pillow's own palette for an RGB frame took ~0.5 s a frame for a 820x420 sheet on a busy 2-core box (15 s for a
    # film, past what a class waits for); the fast octree palette is ~18x quicker and looks the same.
    pictures = [picture.quantize(256, method=Image.Quantize.FASTOCTREE) for picture in frames(film)]
    each = max(40, round(SECONDS * 1000 / len(pictures)))
    durations = [each] * (len(pictures) - 1) + [round(HOLD * 1000)]
    pictures[0].save(path, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0,
                     optimize=False)
    return Path(path)


def write_mp4(film: Film, path: str | Path) -> Path:
    """H.264 in yuv420p (what every browser and projector laptop plays), the last frame held for HOLD seconds."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise NSTError("The MP4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg); the GIF works "
                       "without it.") from None
    pictures = list(frames(film))
    fps = max(2, round(len(pictures) / SECONDS))
    writer = imageio_ffmpeg.write_frames(str(path), pictures[0].size, fps=fps, codec="libx264",
                                         pix_fmt_in="rgb24", pix_fmt_out="yuv420p", macro_block_size=2,
                                         output_params=["-movflags", "+faststart"], ffmpeg_log_level="error")
    writer.send(None)
    try:
        for picture in pictures + [pictures[-1]] * round(HOLD * fps):
            writer.send(np.ascontiguousarray(np.asarray(picture)))
    finally:
        writer.close()
    return Path(path)
