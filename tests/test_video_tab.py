"""The Video tab's handlers in-process (studio/tabs/video_job.py): a clip painted with its frames streamed, Stop
keeping the frames already painted, the job's time limit, the slow method cut into ZeroGPU calls, and bad input
as one sentence; then through the API of `python app.py` (gradio_client). Fast method: the shipped stained-glass
network (fp32, deterministic); the slow method's frames: real weights, fp32."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import gradio as gr
import pytest

from bench.video import make_pan_clip
from nst_core import Settings
from nst_core.fast.apply import shipped_styles
from nst_core.video import open_clip
from studio import Limits
from studio.batches import Batches
from studio.files import ServedFiles
from studio.jobs import JobBoard
from studio.keepsakes import Keepsakes
from studio.runner import JobRunner
from studio.tab import Shared
from studio.tabs import video_job
from studio.tabs.video_job import VideoJobs, call_seconds, video_calls, video_key

from .apphelpers import app_server  # noqa: F401  (a fixture)
from .conftest import ROOT
from .test_app_server import assert_one_clean_sentence
from .test_video import frames_of, has_sound

GALLERY = ROOT / "styles" / "gallery"
UNTRAINED = "paper_collage"  # a gallery painting no shipped network is trained on (checked below)
pytestmark = pytest.mark.skipif("stained_glass" not in shipped_styles(), reason="no shipped stained_glass network")


@pytest.fixture(scope="module")
def pan(tmp_path_factory, shared_images) -> Path:
    path = tmp_path_factory.mktemp("clips") / "pan.mp4"
    make_pan_clip(path, shared_images / "tubingen.jpg", frames=10, size=(96, 72))
    return path


def jobs_for(tmp_path: Path, **limits) -> VideoJobs:
    shared = Shared(Limits(**limits), JobRunner(JobBoard(1)), ServedFiles(tmp_path / "served"), Keepsakes(),
                    Batches(1))
    return VideoJobs(shared)


class Request:
    def __init__(self, session: str = "visitor") -> None:
        self.session_hash = session


def run(jobs: VideoJobs, clip, painting, method="auto", size=96, session="visitor") -> list[tuple]:
    return list(jobs.paint(str(clip), str(painting), method, size, Request(session)))


def test_a_clip_is_painted_frame_by_frame_into_an_mp4_with_its_frame_rate_and_sound(tmp_path, pan):
    jobs = jobs_for(tmp_path)
    picked = tmp_path / "picked.png"  # a gallery pick reaches the handler as a copy in Gradio's cache
    shutil.copy(GALLERY / "stained_glass.png", picked)
    updates = run(jobs, pan, picked)
    preview, status, chart, clip, download = updates[-1]
    assert clip == download and Path(clip).suffix == ".mp4"
    assert len(frames_of(clip)) == 10 and has_sound(clip)
    capture = cv2.VideoCapture(clip)
    assert capture.get(cv2.CAP_PROP_FPS) == 8
    capture.release()
    assert status.startswith("**Done**: 10 frames") and "(fast)" not in status and "painted fast" in status
    assert list(chart["frame"]) == list(range(2, 11))  # each frame after the first: its change from the last
    assert Path(preview).is_file()
    assert any(u[1].startswith("Frame **") for u in updates[:-1])  # frames are shown as they arrive
    image, recipe, _, step = jobs.keepsakes.last(video_key("visitor"))
    assert step == 10 and recipe["settings"]["method"] == "fast" and recipe["settings"]["style"] == "Stained glass"


def test_stop_keeps_the_frames_already_painted_as_a_clip(tmp_path, pan):
    jobs = jobs_for(tmp_path)
    painting = jobs.paint(str(pan), str(GALLERY / "stained_glass.png"), "fast", 96, Request())
    shown = next(int(m[1]) for update in painting if (m := re.match(r"Frame \*\*(\d+)\*\*", str(update[1]))))
    with pytest.raises(gr.Error, match="You already have a job running"):  # a second Run is refused...
        list(jobs.paint(str(pan), str(GALLERY / "stained_glass.png"), "fast", 96, Request()))
    painting.close()  # what Stop does: the generator closes at its yield
    stopping, (status, clip, download) = jobs.after_stop(Request())  # ...and Stop still finds the first's frames
    assert stopping[0].startswith("Stopping: the frame being painted is finished first")
    assert status.startswith(f"Stopped at frame {shown} of 10") and clip == download
    assert shown < 10 and len(frames_of(clip)) == shown and has_sound(clip)
    assert jobs.runner.board.join("visitor") is not None  # the job left the board


def test_stop_before_any_frame_and_stop_with_no_job_say_so(tmp_path, pan):
    jobs = jobs_for(tmp_path)
    painting = jobs.paint(str(pan), str(GALLERY / "stained_glass.png"), "fast", 96, Request())
    next(painting)  # "waiting for a slot"-free board: the first update is the first frame's at the earliest
    painting.close()
    *_, (status, _, _) = jobs.after_stop(Request())
    assert status.startswith("Stopped")
    assert list(jobs_for(tmp_path).after_stop(Request("nobody")))[-1] == ("Stopped.", gr.skip(), gr.skip())


def test_a_clip_shorter_than_its_container_says_is_done_not_cut_short(tmp_path, pan, monkeypatch):
    """Some containers give a frame count that is only a guess: the summary tells of the frames there were."""
    monkeypatch.setattr(video_job, "open_clip", lambda path: replace(open_clip(path), count=12))
    *_, (preview, status, chart, clip, download) = run(jobs_for(tmp_path), pan, GALLERY / "stained_glass.png")
    assert status.startswith("**Done**: 10 frames") and len(frames_of(clip)) == 10


def test_the_time_limit_ends_the_clip_with_what_is_painted(tmp_path, pan):
    jobs = jobs_for(tmp_path, job_seconds=1e-9)
    *_, (preview, status, chart, clip, download) = run(jobs, pan, GALLERY / "stained_glass.png")
    assert "time limit" in status and "at frame 1 of 10" in status
    assert len(frames_of(clip)) == 1


@pytest.mark.parametrize(("args", "sentence"), [
    (dict(clip=None), "Add a video clip first."),
    (dict(painting=None), "Pick a painting"),
    (dict(method="fastest"), "The method must be one of"),
    (dict(size=5000), "between 64 and 1024 px"),
    (dict(size=True), "between 64 and 1024 px"),
    (dict(painting=GALLERY / f"{UNTRAINED}.png", method="fast"), "No fast network is trained for Paper collage"),
])
def test_bad_input_is_one_sentence_before_any_work(tmp_path, pan, args, sentence):
    values = {"clip": pan, "painting": GALLERY / "stained_glass.png", "method": "auto", "size": 96, **args}
    jobs = jobs_for(tmp_path)
    with pytest.raises(gr.Error) as raised:
        list(jobs.paint(*(str(v) if isinstance(v, Path) else v for v in values.values()), Request()))
    assert sentence in raised.value.message
    assert jobs.runner.board.join("visitor") is not None  # refused before taking a place


def test_a_file_that_is_not_a_video_and_a_clip_too_long_are_one_sentence(tmp_path, pan):
    fake = tmp_path / "holiday.mp4"
    fake.write_text("not a video")
    with pytest.raises(gr.Error, match="'holiday.mp4' is not a video this studio can read"):
        run(jobs_for(tmp_path), fake, GALLERY / "stained_glass.png")
    with pytest.raises(gr.Error, match=r"The clip is 1 s long; this server paints clips of up to 0.5 s"):
        run(jobs_for(tmp_path, video_seconds=0.5), pan, GALLERY / "stained_glass.png")


def test_on_zero_gpu_the_slow_method_is_cut_into_calls_that_each_fit_a_free_call(tmp_path, pan, monkeypatch):
    jobs = jobs_for(tmp_path)
    assert UNTRAINED not in shipped_styles()
    job = jobs.checked(str(pan), str(GALLERY / f"{UNTRAINED}.png"), "auto", 512)
    assert job.method == "slow"
    assert video_calls(job) == [(0, None)]  # off ZeroGPU: one call
    monkeypatch.setattr(video_job, "on_zero_gpu", lambda: True)
    job = replace(job, clip=replace(job.clip, count=400), settings=replace(job.settings, iterations=600))
    calls = video_calls(job)
    assert len(calls) > 2 and calls[0][0] == 0 and calls[-1][1] == 400
    assert all(a[1] == b[0] for a, b in zip(calls, calls[1:]))  # no frame left out or painted twice
    assert all(call_seconds(job, start, stop) <= 120 for start, stop in calls)
    assert call_seconds(job, *calls[1]) > 0.8 * 120  # and each is nearly a whole call
    fast = jobs.checked(str(pan), str(GALLERY / "stained_glass.png"), "auto", 96)
    assert video_calls(fast) == [(0, None)]  # the fast network runs on the CPU: no GPU call at all


def test_a_slow_clip_cut_into_calls_is_the_clip_painted_in_one(tmp_path, pan, monkeypatch, real_weights):
    jobs = jobs_for(tmp_path)
    job = jobs.checked(str(pan), str(GALLERY / "ink_hatching.png"), "slow", 64)
    job = replace(job, clip=replace(job.clip, count=4),
                  settings=Settings(iterations=6, weights=str(real_weights), precision="fp32", device="cpu"))
    whole = [f for f in jobs.frames_in_calls(job) if f.image is not None][:4]
    monkeypatch.setattr(video_job, "on_zero_gpu", lambda: True)
    monkeypatch.setattr(video_job, "slow_frame_seconds", lambda job: 40.0)  # two frames a call
    assert video_calls(job) == [(0, 1), (1, 3), (3, 4)]
    cut = [f for f in jobs.frames_in_calls(job) if f.image is not None]
    assert [f.step for f in cut] == [1, 2, 3, 4] and all("GPU call" in f.status for f in cut)
    for one, two in zip(whole, cut):
        assert one.image.tobytes() == two.image.tobytes()


# --- through the API of `python app.py` ----------------------------------------------------------------------

@pytest.mark.server
def test_the_api_paints_a_clip_and_answers_a_bad_file_in_one_sentence(app_server, pan, tmp_path):  # noqa: F811
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(app_server.url, verbose=False, download_files=str(tmp_path / "downloads"))
    preview, status, chart, clip, download = client.predict(
        handle_file(pan), "stained_glass", "auto", 96, api_name="/paint_video")
    assert status.startswith("**Done**: 10 frames")
    assert len(frames_of(clip)) == 10 and len(frames_of(download)) == 10 and has_sound(download)
    fake = tmp_path / "clip.mp4"
    fake.write_text("not a video")
    with pytest.raises(AppError) as raised:
        client.predict(handle_file(fake), "stained_glass", "auto", 96, api_name="/paint_video")
    assert_one_clean_sentence(str(raised.value))
    assert "'clip.mp4' is not a video this studio can read" in str(raised.value)
