"""Painting many things at once (nst_core/batch.py, segments.py, ray_runner.py): a folder of photos here and on a
local Ray cluster, a worker lost mid-run, a clip painted in overlapping segments, and the command line. The fast
method throughout (a shipped network: deterministic and cheap), at 64-96 px."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from bench.video import make_pan_clip
from nst_core import Settings
from nst_core.batch import Job, main, paint_batch
from nst_core.errors import NSTError
from nst_core.fast.apply import shipped_styles
from nst_core.flow import motion, temporal_error
from nst_core.images import read_recipe
from nst_core.ray_runner import check_answers
from nst_core.segments import joined_frames, paint_segment, plan_segments
from nst_core.video import Clip, ClipError, FastPainter, choose_painter, open_clip, painted_size, read_frames

from .conftest import ROOT, missing
from .test_video import frames_of, has_sound

BAD_IMAGE = "skipped bad.jpg: This file is not an image we accept: use JPEG, PNG, WebP, GIF, BMP or TIFF."


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_images) -> Path:
    """Three small photos and a text file posing as a JPEG."""
    folder = tmp_path_factory.mktemp("photos")
    for name in ("tubingen", "golden_gate", "shipwreck"):
        with Image.open(shared_images / f"{name}.jpg") as image:
            image.convert("RGB").resize((96, 72)).save(folder / f"{name}.jpg")
    (folder / "bad.jpg").write_text("this is text, not a picture\n")
    return folder


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster for the module's Ray tests, two CPUs, no dashboard; the runner joins it and leaves it
    running."""
    try:
        import ray
    except ImportError:
        missing("Ray is not installed (pip install -r requirements-ray.txt)")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def fast_painter() -> FastPainter:
    painter, method = choose_painter("stained_glass", "fast", Settings())
    assert method == "fast"
    return painter


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32)


def test_a_folder_is_painted_once_with_recipes_and_a_bad_file_costs_one_line(photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(photos), "stained_glass", "-o", str(out), "--size", "64"]) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "bad.jpg" in line] == [BAD_IMAGE]
    assert "Traceback" not in err
    pngs = sorted(out.glob("*.png"))
    assert [path.name for path in pngs] == ["golden_gate.png", "shipwreck.png", "tubingen.png"]
    for path in pngs:
        recipe = read_recipe(path)
        assert recipe["source"] == path.stem + ".jpg" and recipe["style"] == "stained_glass"
        assert recipe["method"] == "fast" and recipe["size"] == 64 and recipe["output_size"] == [64, 48]
        assert recipe["fast_model"]["file"] == shipped_styles()["stained_glass"].name
    made = {path: path.stat().st_mtime_ns for path in pngs}

    assert main([str(photos), "stained_glass", "-o", str(out), "--size", "64"]) == 1  # bad.jpg is still bad
    captured = capsys.readouterr()
    assert "3 already done" in captured.err and "0 painted, 3 already done, 1 failed" in captured.out
    assert {path: path.stat().st_mtime_ns for path in pngs} == made

    # Other choices into the same folder would mix two batches: refused, nothing painted.
    assert main([str(photos), "stained_glass", "-o", str(out), "--size", "96"]) == 2
    assert "holds a batch painted with other choices" in capsys.readouterr().err
    assert {path: path.stat().st_mtime_ns for path in pngs} == made


def test_the_slow_method_paints_a_photo_with_the_engine_and_records_its_settings(photos, tmp_path, real_weights):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "tubingen.jpg").write_bytes((photos / "tubingen.jpg").read_bytes())
    assert main([str(folder), str(ROOT / "styles" / "gallery" / "ink_hatching.png"), "-o", str(tmp_path / "out"),
                 "--method", "slow", "--size", "64", "--iterations", "6", "--weights", str(real_weights)]) == 0
    recipe = read_recipe(tmp_path / "out" / "tubingen.png")
    assert recipe["method"] == "slow" and recipe["style"].endswith("ink_hatching.png")
    assert recipe["settings"]["iterations"] == 6 and recipe["settings"]["size"] == 64
    assert recipe["settings"]["weights"] == "file:vgg16-caffe-features.pth" and recipe["output_size"] == [64, 48]


def test_a_local_ray_cluster_paints_the_same_pictures(photos, tmp_path, ray_cluster, fast_painter, capsys):
    job = Job("stained_glass", "fast", 64)
    here = paint_batch(photos, tmp_path / "here", fast_painter, job)
    assert main([str(photos), "stained_glass", "-o", str(tmp_path / "ray"), "--size", "64", "--ray", "local"]) == 1
    assert [line for line in capsys.readouterr().err.splitlines() if "bad.jpg" in line] == [BAD_IMAGE]
    assert here.painted == 3 and here.failed == 1
    assert ray_cluster.is_initialized()  # the caller's cluster is left running
    for name in ("tubingen.png", "golden_gate.png", "shipwreck.png"):
        one, two = pixels(tmp_path / "here" / name), pixels(tmp_path / "ray" / name)
        # One torch thread per Ray task against two here: sums in another order, a level of 255 at most.
        assert one.shape == two.shape == (48, 64, 3) and np.abs(one - two).max() <= 2
        assert read_recipe(tmp_path / "ray" / name)["source"] == name.replace(".png", ".jpg")


class DiesOnce(FastPainter):
    """A fast painter whose first paint, in whichever Ray worker gets it first, kills that worker's process; every
    call is logged, so the test can count what was painted again."""

    def __init__(self, painter: FastPainter, folder: Path) -> None:
        self.model, self.marker, self.log = painter.model, folder / "died", folder / "calls"

    def paint(self, frame, last, moved):
        with open(self.log, "a") as log:
            log.write(f"{os.getpid()}\n")
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))  # only one call, in one process, gets here
        except FileExistsError:
            return super().paint(frame, last, moved)
        os._exit(1)


def test_a_worker_lost_mid_run_costs_only_its_own_item(photos, tmp_path, ray_cluster, fast_painter):
    painter = DiesOnce(fast_painter, tmp_path)
    summary = paint_batch(photos, tmp_path / "out", painter, Job("stained_glass", "fast", 64), ray="local")
    assert (tmp_path / "died").is_file()  # a worker did die
    assert summary.painted == 3 and summary.failed == 1  # the lost item was painted again; bad.jpg is bad
    assert len((tmp_path / "calls").read_text().split()) == 3 + 1  # each item once, the lost one twice
    here = paint_batch(photos, tmp_path / "here", fast_painter, Job("stained_glass", "fast", 64))
    assert here.painted == 3
    for name in ("tubingen.png", "golden_gate.png", "shipwreck.png"):
        assert np.abs(pixels(tmp_path / "out" / name) - pixels(tmp_path / "here" / name)).max() <= 2


def test_the_segments_plan_and_the_cross_fade():
    clip = Clip(Path("pan.mp4"), 8.0, 20, (96, 72))
    plan = plan_segments(clip, 8, 3)
    assert [(s.start, s.first, s.stop) for s in plan] == [(0, 0, 8), (5, 8, 16), (13, 16, None)]
    # Segment k paints frame i as 10 * k + i: its own frames kept; over the 3 frames before them, a fade from the
    # segment before's (1/4, 2/4, 3/4 new, rounded half up).
    painted = [(s, np.stack([np.full((2, 2, 3), 10 * k + i, np.uint8) for i in range(s.start, s.stop or 20)]))
               for k, s in enumerate(plan)]
    out = [int(frame[0, 0, 0]) for frame in joined_frames(painted)]
    assert out == [0, 1, 2, 3, 4, 8, 11, 15, 18, 19, 20, 21, 22, 26, 29, 33, 36, 37, 38, 39]
    assert [(s.start, s.first) for s in plan_segments(clip, 8, 0)] == [(0, 0), (8, 8), (16, 16)]


@pytest.fixture(scope="module")
def pan(tmp_path_factory, shared_images) -> Path:
    path = tmp_path_factory.mktemp("clips") / "pan.mp4"
    make_pan_clip(path, shared_images / "tubingen.jpg", frames=24, size=(96, 72))
    return path


def test_a_clip_in_overlapping_segments_has_every_frame_and_joins_without_a_jump(pan, tmp_path, fast_painter):
    job = Job("stained_glass", "fast", 96, segment_frames=8, overlap=4)
    summary = paint_batch(pan, tmp_path, fast_painter, job)
    assert summary.painted == 3 and summary.failed == 0
    assert not (tmp_path / "segments").exists()  # kept only until the clip is joined
    out = cv2.VideoCapture(str(tmp_path / "pan.mp4"))
    assert out.get(cv2.CAP_PROP_FPS) == 8
    out.release()
    written = frames_of(tmp_path / "pan.mp4")
    assert len(written) == 24 and has_sound(tmp_path / "pan.mp4")
    recipe = json.loads((tmp_path / "pan.json").read_text())
    assert recipe["frames"] == 24 and recipe["fps"] == 8 and recipe["overlap"] == 4 and recipe["source"] == "pan.mp4"

    # The temporal error at each join, between consecutive frames as the batch joins them (measured before the
    # MP4's compression): the largest over the cross-fade and the first own frame, with overlap and without.
    clip = open_clip(pan)
    width, height = painted_size(clip, 96)
    photos = [np.asarray(frame.resize((width, height), Image.Resampling.LANCZOS)) for frame in read_frames(clip)]

    def joined(overlap: int) -> list[np.ndarray]:
        return list(joined_frames((segment, paint_segment(segment, clip, fast_painter, 96))
                                  for segment in plan_segments(clip, 8, overlap)))

    smooth, cut = joined(4), joined(0)
    for index, frame in enumerate(written):  # the MP4 holds these frames, each in its place (within H.264's loss)
        distance = [np.abs(frame[..., ::-1] - other).mean() for other in smooth]
        assert int(np.argmin(distance)) == index

    def worst_at_join(frames: list[np.ndarray], first: int) -> float:
        return max(temporal_error(frames[i], frames[i - 1], motion(photos[i - 1], photos[i]))
                   for i in range(first - 4, first + 1))

    for first in (8, 16):
        assert worst_at_join(smooth, first) < 0.65 * worst_at_join(cut, first), first


def test_the_command_line_says_one_line_per_bad_file_and_no_traceback(photos, pan, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for path in [*photos.iterdir(), pan]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "broken.mp4").write_text("not a video\n")
    done = subprocess.run([sys.executable, "-m", "nst_core.batch", str(folder), "stained_glass", "-o",
                           str(tmp_path / "out"), "--size", "64", "--segment-frames", "12", "--overlap", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert [line for line in lines if "bad.jpg" in line] == [BAD_IMAGE]
    with pytest.raises(ClipError) as broken:
        open_clip(folder / "broken.mp4")
    assert [line for line in lines if "broken.mp4" in line] == [f"skipped broken.mp4: {broken.value}"]
    assert "Traceback" not in done.stderr
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        ".nst-batch.json", "golden_gate.png", "pan.json", "pan.mp4", "shipwreck.png", "tubingen.png"]
    assert done.stdout.strip() == f"5 painted, 0 already done, 2 failed, in {tmp_path / 'out'}"


@pytest.mark.parametrize(("arguments", "sentence"), [
    (["nowhere", "stained_glass"], "error: There is no folder or clip at 'nowhere'."),
    (["{photos}", "no_such_style"], "error: 'no_such_style' is neither a gallery style nor an existing image file"),
    (["{photos}", "stained_glass", "--overlap", "9", "--segment-frames", "8"],
     "error: --overlap must be between 0 and --segment-frames (8), not 9."),
])
def test_mistakes_are_one_sentence_and_exit_code_2(photos, tmp_path, capsys, arguments, sentence):
    argv = [argument.format(photos=photos) for argument in arguments] + ["-o", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(sentence) and len(err.strip().splitlines()) == 1


def test_without_ray_the_flag_says_how_to_install_it(photos, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as it would where it is not installed
    assert main([str(photos), "stained_glass", "-o", str(tmp_path / "out"), "--size", "64", "--ray", "local"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --ray needs Ray, which is not installed: pip install -r requirements-ray.txt")


def test_an_address_where_nothing_answers_is_refused_at_once():
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NSTError, match=f"Nothing answers at '127.0.0.1:{port}': start the cluster there"):
        check_answers(f"127.0.0.1:{port}")
