"""One item of a batch (batch.py): a photo or a clip's segment, painted wherever its task runs (here or in a Ray
worker: ray_runner.py) into a payload that comes back here, where `store` writes it whole.

An item's payload is all of its output, so a worker needs no access to OUT_DIR, and a worker lost halfway
leaves nothing behind: Ray runs the item again and no one has to tidy up.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from .engine import make_recipe
from .errors import NSTError
from .fast.apply import fast_recipe, output_size
from .images import decode_image, resize_to, save_png
from .segments import Segment, check_plan, paint_segment
from .video import FastPainter, SlowPainter, open_clip

PHOTO_SIZE, CLIP_SIZE = 512, 256  # the default longest sides: the engine's, and the video command's

Painter = FastPainter | SlowPainter


@dataclass(frozen=True)
class Job:
    """What every item is painted with, besides the painter: for the sizes and the recipes."""

    style: str
    method: str
    size: int | None = None  # None: each kind's default
    segment_frames: int = 48
    overlap: int = 8

    def __post_init__(self) -> None:
        check_plan(self.segment_frames, self.overlap)  # before any work, even where no clip is given

    def recipe(self, painter: Painter, photo: Image.Image, painting: Image.Image, source: Path) -> dict:
        """How `painting` was made from `photo` (a file's, or a clip's first frame)."""
        if self.method == "fast":
            made = fast_recipe(painter.model, photo, painting)
        else:
            settings = replace(painter.settings, size=max(painting.size))
            made = make_recipe(settings, photo, [painter.painting], painting.size)
        return {**made, "style": self.style, "method": self.method, "size": max(painting.size),
                "source": source.name}


@dataclass(frozen=True)
class PhotoItem:
    source: Path
    output: Path

    @property
    def name(self) -> str:
        return self.source.name

    def paint(self, painter: Painter, job: Job) -> bytes:
        """The painting as a PNG carrying its recipe."""
        photo = decode_image(self.source)
        frame = resize_to(photo, output_size(photo.size, job.size or PHOTO_SIZE))
        # With no last frame a painter paints a photo on its own: the fast network's one pass (as stylize_fast),
        # or engine.stylize with the painting; one call for both methods, and one seam for a test's painter.
        painting = Image.fromarray(painter.paint(frame, None, None))
        png = io.BytesIO()
        save_png(painting, png, job.recipe(painter, photo, painting, self.source))
        return png.getvalue()

    def store(self, png: bytes) -> None:
        with written_whole(self.output) as temporary:
            temporary.write_bytes(png)


@dataclass(frozen=True)
class SegmentItem:
    segment: Segment
    output: Path

    @property
    def name(self) -> str:
        return self.segment.name

    def paint(self, painter: Painter, job: Job) -> np.ndarray:
        return paint_segment(self.segment, open_clip(self.segment.clip), painter, job.size or CLIP_SIZE)

    def store(self, paintings: np.ndarray) -> None:
        self.output.parent.mkdir(exist_ok=True)
        with written_whole(self.output) as temporary:
            np.save(temporary, paintings)


Item = PhotoItem | SegmentItem


@dataclass(frozen=True)
class Outcome:
    item: Item
    payload: bytes | np.ndarray | None  # what `item.store` takes; None where it failed
    error: str | None = None  # one sentence
    seconds: float = 0.0


def attempt(item: Item, painter: Painter, job: Job) -> Outcome:
    """One item painted, wherever it runs; a failure the user can understand is its outcome, not an exception
    (so Ray does not retry it: only a lost worker is retried)."""
    started = time.perf_counter()
    try:
        return Outcome(item, item.paint(painter, job), seconds=time.perf_counter() - started)
    except NSTError as error:
        return Outcome(item, None, str(error))
    except OSError as error:
        return Outcome(item, None, f"It could not be read ({error.strerror or error}).")


@contextmanager
def written_whole(path: Path) -> Iterator[Path]:
    """A temporary name beside `path` to write to, renamed to `path` once written: `path` is there whole or not at
    all, which is what lets a rerun take it as done. The suffix stays (numpy and ffmpeg choose formats by it)."""
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
