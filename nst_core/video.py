"""Painting a clip: every frame out, at the clip's frame rate, with its sound, and without flicker.

    python -m nst_core.video CLIP STYLE -o OUT.mp4 [--size N] [--method fast|slow] [--no-temporal]

STYLE is a gallery name, a painting file or a fast-network file (.pt). `fast` (the default where a network
exists for the style) puts each frame through the network, then blends in the last painted frame moved along
the scene's motion where that motion is reliable (flow.py). `slow` optimises each frame with the engine,
starting from the last painted frame moved along the motion and held to it there by a temporal term (Ruder et
al. 2016), with fewer steps after the first frame. `--no-temporal` paints each frame on its own: the flickering
baseline. Either way the temporal error (how much a painted frame differs from the last one moved along the
motion) is measured per frame and summed up at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from .command import run_command
from .config import Settings
from .engine import resolve_backbone, stylize
from .errors import NSTError
from .fast.apply import (
    MAX_SIDE,
    MODELS,
    model_for_painting,
    one_style,
    output_size,
    paint_tensor,
    resolve_model,
    shipped_styles,
)
from .fast.model import FastModel, ModelError
from .flow import Motion, blend, motion, temporal_error
from .gallery import resolve_style_source
from .images import decode_image, to_pil, to_tensor
from .objective import Held

KEEP = 0.7  # fast: how much of the moved last frame a reliable pixel keeps (the rest is this frame's painting)
TEMPORAL_WEIGHT = 50.0  # slow: the temporal term per unit of content weight, as the kept regions' term is weighed
NEXT_FRAME_STEPS = 1 / 3  # slow: after the first frame, this share of the steps (it starts from the last frame)


class ClipError(NSTError):
    """A clip that cannot be read."""


@dataclass(frozen=True)
class Clip:
    path: Path
    fps: float
    count: int  # frames, as the container says (a guess for some files: every frame read is written)
    size: tuple[int, int]  # (width, height)


def open_clip(path: str | Path) -> Clip:
    """The clip's frame rate, length and size; one sentence for a file that is not a readable video."""
    path = Path(path)
    if not path.is_file():
        raise ClipError(f"There is no video file at {path.name!r}.")
    # FFmpeg, inside OpenCV, would print its own complaint about a bad file ("moov atom not found") beside ours.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    capture = cv2.VideoCapture(str(path))
    try:
        fps, count = capture.get(cv2.CAP_PROP_FPS), int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        readable = capture.isOpened() and capture.read()[0]
    finally:
        capture.release()
    if not readable or fps <= 0 or min(size) <= 0:
        raise ClipError(f"The file {path.name!r} is not a video this studio can read (try an MP4, WebM or MOV).")
    return Clip(path, fps, count, size)


def read_frames(clip: Clip, start: int = 0) -> Iterator[Image.Image]:
    """The clip's frames from index `start` on. The ones before are grabbed and dropped, never converted: seeking
    by frame number is not exact in every container."""
    capture = cv2.VideoCapture(str(clip.path))
    try:
        for _ in range(start):
            if not capture.grab():
                return
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()


def painted_size(clip: Clip, size: int) -> tuple[int, int]:
    """The frames' painted size: longest side `size`, both sides even (H.264 in yuv420p needs them so)."""
    if not 32 <= size <= MAX_SIDE:
        raise NSTError(f"The painted frames' size must be between 32 and {MAX_SIDE} px, not {size}.")
    width, height = output_size(clip.size, size)  # (a fast network's lower limit on the short side too)
    return width - width % 2, height - height % 2


# --- the painters: a frame in, its painting out ------------------------------------------------------------

class FastPainter:
    """A fast network per frame; the last frame moved along the motion blended in where it is reliable."""

    def __init__(self, model: FastModel) -> None:
        self.model = one_style(model)

    def paint(self, frame: Image.Image, last: np.ndarray | None, moved: Motion | None) -> np.ndarray:
        painted = np.asarray(to_pil(paint_tensor(self.model, to_tensor(frame))))
        return painted if last is None else blend(painted, last, moved, KEEP)


class SlowPainter:
    """The engine per frame; after the first, started from the last frame moved along the motion and held to it
    where the motion is reliable, with fewer steps."""

    def __init__(self, painting: Image.Image, settings: Settings) -> None:
        self.painting, self.settings = painting, settings
        self.backbone = resolve_backbone(settings)

    def paint(self, frame: Image.Image, last: np.ndarray | None, moved: Motion | None) -> np.ndarray:
        settings = replace(self.settings, size=max(frame.size))
        if last is None:
            return np.asarray(stylize(frame, self.painting, settings, backbone=self.backbone))
        warped = moved.warp(last)
        held = Held(torch.from_numpy(warped).permute(2, 0, 1)[None].float() / 255,
                    torch.from_numpy(moved.reliable)[None, None], TEMPORAL_WEIGHT)
        # Where the past says nothing (just come into view, or hidden before), the frame's own photo is the start:
        # the last painting smeared there would take more steps to repaint than a photo does.
        reliable = moved.reliable[..., None]
        start = (reliable * warped + (1 - reliable) * np.asarray(frame)).round().astype(np.uint8)
        steps = max(1, round(settings.iterations * NEXT_FRAME_STEPS))
        return np.asarray(stylize(frame, self.painting, replace(settings, iterations=steps, coarse_to_fine=False),
                                  backbone=self.backbone, init_image=Image.fromarray(start), held=held))


# --- the clip ------------------------------------------------------------------------------------------------

@dataclass
class Report:
    frames: int = 0
    seconds: float = 0.0
    errors: list[float] = field(default_factory=list)  # the temporal error of each frame after the first

    @property
    def mean_error(self) -> float:
        return float(np.mean(self.errors)) if self.errors else 0.0


@dataclass(frozen=True)
class Painted:
    """One painted frame: its index in the clip, the painting, and its temporal error (None for a first frame)."""

    index: int
    painting: np.ndarray
    error: float | None


def painted_frames(clip: Clip, painter: FastPainter | SlowPainter, size: int, *, temporal: bool = True,
                   start: int = 0, stop: int | None = None,
                   last_painting: np.ndarray | None = None) -> Iterator[Painted]:
    """The frames `start` to `stop` (the end) of `clip`, painted at `size`. `last_painting`, the painting of frame
    `start - 1`, carries the temporal step on from an earlier run over the frames before (a ZeroGPU call, a
    segment): without it frame `start` is painted afresh."""
    width, height = painted_size(clip, size)
    if last_painting is not None and start > 0:
        before = next(read_frames(clip, start - 1), None)
        last_frame = None if before is None else np.asarray(before.resize((width, height), Image.Resampling.LANCZOS))
    else:
        last_frame = last_painting = None
    for index, frame in enumerate(read_frames(clip, start), start=start):
        if stop is not None and index >= stop:
            return
        frame = frame.resize((width, height), Image.Resampling.LANCZOS)
        pixels = np.asarray(frame)
        moved = motion(last_frame, pixels) if last_frame is not None else None
        painting = painter.paint(frame, last_painting if temporal else None, moved)
        error = temporal_error(painting, last_painting, moved) if moved is not None else None
        yield Painted(index, painting, error)
        last_frame, last_painting = pixels, painting


class ClipWriter:
    """Painted frames into an MP4 at the clip's frame rate; `finish` adds the clip's sound (cut to the frames
    written, so a clip stopped halfway keeps what is done)."""

    def __init__(self, clip: Clip, size: tuple[int, int]) -> None:
        self.clip = clip
        self.folder = tempfile.TemporaryDirectory(prefix="nst-video-")
        self.silent = Path(self.folder.name) / "frames.mp4"
        self.writer = video_writer(self.silent, size, clip.fps)
        self.frames = 0

    def send(self, painting: np.ndarray) -> None:
        self.writer.send(np.ascontiguousarray(painting))
        self.frames += 1

    def finish(self, output: str | Path) -> None:
        """The MP4 at `output`; the writer is closed after."""
        try:
            self.writer.close()
            if self.frames == 0:
                raise ClipError(f"The clip {self.clip.path.name!r} has no frames to paint.")
            with_sound(self.silent, self.clip.path, Path(output))
        finally:
            self.close()

    def close(self) -> None:
        self.writer.close()
        self.folder.cleanup()


def paint_clip(clip: Clip, painter: FastPainter | SlowPainter, output: str | Path, size: int, *,
               temporal: bool = True, on_frame: Callable[[int, Report], None] | None = None) -> Report:
    """Every frame of `clip` painted at `size` into the MP4 `output`, at the clip's frame rate, with its sound."""
    report, started = Report(), time.perf_counter()
    writer = ClipWriter(clip, painted_size(clip, size))
    try:
        for painted in painted_frames(clip, painter, size, temporal=temporal):
            writer.send(painted.painting)
            if painted.error is not None:
                report.errors.append(painted.error)
            report.frames += 1
            report.seconds = time.perf_counter() - started
            if on_frame is not None:
                on_frame(report.frames, report)
        writer.finish(output)
    finally:
        writer.close()
    return report


def video_writer(path: Path, size: tuple[int, int], fps: float):
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec="libx264", pix_fmt_in="rgb24",
                                         pix_fmt_out="yuv420p", macro_block_size=2, ffmpeg_log_level="error")
    writer.send(None)
    return writer


def with_sound(frames: Path, source: Path, output: Path) -> None:
    """The painted frames with the source's sound, if it has any (copied as AAC), as an MP4 that browsers play."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(frames), "-i", str(source),
               "-map", "0:v:0", "-map", "1:a:0?", "-c:v", "copy", "-c:a", "aac", "-shortest",
               "-movflags", "+faststart", str(output)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "ffmpeg failed")


# --- the command line ------------------------------------------------------------------------------------------

def choose_painter(style: str, method: str | None, settings: Settings) -> tuple[FastPainter | SlowPainter, str]:
    """The painter for STYLE (a gallery name, a painting or a network file) and `method` (None: fast where a
    network exists for the style, else slow), with the method's name."""
    if Path(style).suffix == ".pt":
        if method == "slow":
            raise NSTError("A fast-network file has no painting to optimise towards: give a painting or a gallery "
                           "name for --method slow.")
        return FastPainter(MODELS.get(resolve_model(style))), "fast"
    return painter_for(decode_image(resolve_style_source(style)), method, settings, name=repr(style))


def painter_for(painting: Image.Image, method: str | None, settings: Settings, *, name: str = "this painting"
                ) -> tuple[FastPainter | SlowPainter, str]:
    """The painter for a painting and `method` (None: the shipped network trained on it if there is one, else
    the optimisation), with the method's name."""
    if method != "slow":
        network = model_for_painting(painting)
        if network is not None:
            return FastPainter(network), "fast"
        if method == "fast":
            raise ModelError(f"No fast network is trained for {name}; use the slow method, or one of: "
                             f"{', '.join(shipped_styles())}.")
    return SlowPainter(painting, settings), "slow"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nst_core.video", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", help="the video to paint (MP4, WebM, MOV, ...)")
    parser.add_argument("style", help="a gallery style's name, a painting file, or a fast-network file (.pt)")
    parser.add_argument("-o", "--output", required=True, help="the painted MP4")
    parser.add_argument("--size", type=int, default=256, help="the painted frames' longest side (default 256)")
    parser.add_argument("--method", choices=("fast", "slow"), default=None,
                        help="fast: a network per frame; slow: the optimisation per frame (default: fast where a "
                             "network exists for the style)")
    parser.add_argument("--iterations", type=int, default=None, help="slow: steps for the first frame (a third "
                        "of them for each next one; default: the engine's)")
    parser.add_argument("--no-temporal", action="store_true", help="paint each frame on its own (flickers)")
    parser.add_argument("--weights", default=None, help="slow: the VGG weights (a source name or a file)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        clip = open_clip(args.clip)
        values = {"iterations": args.iterations, "weights": args.weights}
        settings = Settings(**{name: value for name, value in values.items() if value is not None})
        painter, method = choose_painter(args.style, args.method, settings)

        def progress(done: int, report: Report) -> None:
            if args.quiet:
                return
            left = max(clip.count - done, 0) * report.seconds / done
            print(f"\rframe {done}/{clip.count} · {done / report.seconds:.1f} frames/s · {left:.0f} s to go",
                  end="", file=sys.stderr, flush=True)

        report = paint_clip(clip, painter, args.output, args.size, temporal=not args.no_temporal,
                            on_frame=progress)
        if not args.quiet:
            print(file=sys.stderr)
        print(f"wrote {args.output}: {report.frames} frames at {clip.fps:g} frames/s ({method}"
              f"{', frame by frame' if args.no_temporal else ''}), {report.frames / report.seconds:.2f} frames/s; "
              f"temporal error {report.mean_error:.2f} levels of 255")
        return 0

    return run_command(body, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
