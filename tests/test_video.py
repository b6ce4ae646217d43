"""Painting a clip (nst_core/video.py): a pan across a photo (known motion) with a sound track, painted fast and
slow, with and without the temporal step, and through the command line. Real weights for the slow method, fp32
(precision pinned: the figures compared are the engine's)."""

import subprocess
import sys

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from bench.video import make_pan_clip
from nst_core import Settings
from nst_core.video import (
    ClipError,
    FastPainter,
    SlowPainter,
    choose_painter,
    open_clip,
    paint_clip,
    painted_frames,
)

from .conftest import ROOT


def frames_of(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1].astype(np.float32))
    capture.release()
    return frames


def has_sound(path) -> bool:
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(path)], capture_output=True, text=True)
    return "Audio:" in probe.stderr


@pytest.fixture(scope="module")
def pan(tmp_path_factory, shared_images):
    path = tmp_path_factory.mktemp("clips") / "pan.mp4"
    make_pan_clip(path, shared_images / "tubingen.jpg", frames=10, size=(96, 72))
    return path


def painted_both_ways(pan, painter, tmp_path, size):
    clip = open_clip(pan)
    smooth = paint_clip(clip, painter, tmp_path / "smooth.mp4", size)
    flicker = paint_clip(clip, painter, tmp_path / "flicker.mp4", size, temporal=False)
    return clip, smooth, flicker


def test_the_fast_method_moves_with_the_scene_and_keeps_every_frame_and_the_sound(pan, tmp_path):
    painter, method = choose_painter("stained_glass", None, Settings())
    assert method == "fast" and isinstance(painter, FastPainter)
    clip, smooth, flicker = painted_both_ways(pan, painter, tmp_path, 96)
    assert smooth.frames == flicker.frames == 10 and len(smooth.errors) == 9
    assert smooth.mean_error <= 0.5 * flicker.mean_error, (smooth.mean_error, flicker.mean_error)
    out = cv2.VideoCapture(str(tmp_path / "smooth.mp4"))
    assert out.get(cv2.CAP_PROP_FPS) == clip.fps == 8
    out.release()
    assert has_sound(tmp_path / "smooth.mp4") and has_sound(tmp_path / "flicker.mp4")
    still_painted(pan, tmp_path)


def still_painted(pan, tmp_path) -> None:
    """Each smoothed frame is much nearer its own painting than the painting is to the photo."""
    photo, smooth, flicker = (frames_of(path) for path in (pan, tmp_path / "smooth.mp4", tmp_path / "flicker.mp4"))
    assert len(photo) == len(smooth) == len(flicker)
    for p, s, f in zip(photo, smooth, flicker):
        p = cv2.resize(p, (f.shape[1], f.shape[0]), interpolation=cv2.INTER_AREA)
        assert np.abs(s - f).mean() < 0.5 * np.abs(f - p).mean()


def test_a_clip_painted_in_two_runs_is_the_clip_painted_in_one(pan):
    """A ZeroGPU call or a segment goes on from the last painting of the one before: same frames, same errors."""
    painter, _ = choose_painter("stained_glass", "fast", Settings())
    clip = open_clip(pan)
    whole = list(painted_frames(clip, painter, 96))
    first = list(painted_frames(clip, painter, 96, stop=4))
    rest = list(painted_frames(clip, painter, 96, start=4, last_painting=first[-1].painting))
    assert [p.index for p in first + rest] == [p.index for p in whole] == list(range(10))
    for one, two in zip(whole, first + rest):
        assert np.array_equal(one.painting, two.painting) and one.error == two.error
    afresh = next(painted_frames(clip, painter, 96, start=4))
    assert afresh.error is None and not np.array_equal(afresh.painting, whole[4].painting)


def test_the_slow_method_starts_from_the_moved_last_frame_and_is_held_to_it(pan, tmp_path, real_weights):
    settings = Settings(iterations=9, weights=str(real_weights), precision="fp32", device="cpu")
    painter, method = choose_painter(str(ROOT / "styles" / "gallery" / "ink_hatching.png"), "slow", settings)
    assert method == "slow" and isinstance(painter, SlowPainter)
    clip, smooth, flicker = painted_both_ways(pan, painter, tmp_path, 64)
    assert smooth.frames == flicker.frames == 10
    assert smooth.mean_error <= 0.5 * flicker.mean_error, (smooth.mean_error, flicker.mean_error)
    assert smooth.seconds < flicker.seconds  # a third of the steps after the first frame
    still_painted(pan, tmp_path)


def test_the_command_line_paints_a_clip_and_refuses_what_is_not_one(pan, tmp_path):
    out = tmp_path / "out.mp4"
    done = subprocess.run([sys.executable, "-m", "nst_core.video", str(pan), "stained_glass", "-o", str(out),
                           "--size", "64"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "10 frames at 8 frames/s (fast)" in done.stdout
    assert "frame 10/10" in done.stderr and "to go" in done.stderr
    assert len(frames_of(out)) == 10

    text = tmp_path / "holiday.mp4"
    text.write_text("not a video\n")
    refused = subprocess.run([sys.executable, "-m", "nst_core.video", str(text), "stained_glass", "-o",
                              str(tmp_path / "x.mp4")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert refused.returncode == 2 and refused.stderr.strip() == (
        "error: The file 'holiday.mp4' is not a video this studio can read (try an MP4, WebM or MOV).")
    no_network = subprocess.run([sys.executable, "-m", "nst_core.video", str(pan),
                                 str(ROOT / "styles" / "gallery" / "paper_collage.png"), "--method", "fast", "-o",
                                 str(tmp_path / "y.mp4")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert no_network.returncode == 2 and "No fast network is trained for" in no_network.stderr
    tiny = subprocess.run([sys.executable, "-m", "nst_core.video", str(pan), "stained_glass", "--size", "8", "-o",
                           str(tmp_path / "z.mp4")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert tiny.returncode == 2 and tiny.stderr.strip() == (
        "error: The painted frames' size must be between 32 and 4096 px, not 8.")
    assert "Traceback" not in refused.stderr + no_network.stderr + tiny.stderr


def test_a_missing_clip_is_one_sentence(tmp_path):
    with pytest.raises(ClipError, match="There is no video file at 'gone.mp4'."):
        open_clip(tmp_path / "gone.mp4")
