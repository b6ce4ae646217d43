"""The Video tab's handlers: a clip painted frame by frame (nst_core.video), each frame shown as it arrives and
written to an MP4 in the server process, so Stop (or the job's time limit) keeps the frames already painted.

The fast method runs the network on the CPU (17 frames/s at 256 px on two cores, docs/video.md) and uses no GPU
time. The slow method optimises every frame: on ZeroGPU it is cut into GPU calls that fit one free call
(`video_calls`), each going on from the last painting of the call before, which the server holds.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from nst_core import NSTError, Settings
from nst_core.config import default_weights
from nst_core.fast.apply import model_for_painting, shipped_styles
from nst_core.fast.model import style_digest
from nst_core.gallery import list_styles
from nst_core.images import decode_image
from nst_core.lru import LRU
from nst_core.video import NEXT_FRAME_STEPS, Clip, ClipWriter, open_clip, painted_frames, painted_size, painter_for

from ..jobs import Frame, session_of
from ..runner import Throttle, status_update
from ..stylize_job import START_SECONDS, ZERO_GPU_MARGIN, ZERO_GPU_MAX_CALL, gpu_step_seconds
from ..tab import Shared
from ..zerogpu import on_gpu, on_zero_gpu

METHODS = ("auto", "fast", "slow")  # auto: the fast network where one is trained for the painting, else slow
SLOW_ITERATIONS = 60  # the first frame's steps (a third of them for each next one): seconds a frame on a CPU
# After Stop, the job closes at its next frame, within its time limit; then it writes its MP4 (this long at most).
STOP_GRACE = 30.0
OUTPUTS = 5  # preview, status, chart, painted clip, download


def video_key(session: str) -> str:
    return session + "/video"


@dataclass(frozen=True)
class VideoJob:
    """A checked request: the clip, the painting, the method ("fast" or "slow"), the frames' size, the slow
    method's settings."""

    clip: Clip
    painting: Image.Image
    style: str  # the painting's name for captions and recipes
    method: str
    size: int
    settings: Settings


# --- one call's frames (on ZeroGPU the slow method's calls run in the GPU worker: plain values in, Frames out) --

def slow_frame_seconds(job: VideoJob) -> float:
    """GPU seconds of one slow frame after the first (a third of the steps), with ZeroGPU's margin."""
    width, height = painted_size(job.clip, job.size)
    steps = max(1, round(job.settings.iterations * NEXT_FRAME_STEPS))
    return ZERO_GPU_MARGIN * steps * gpu_step_seconds(width * height)


def call_seconds(job: VideoJob, start: int, stop: int | None, last: np.ndarray | None = None) -> int:
    """ZeroGPU seconds to declare for painting frames `start` to `stop` (the first frame takes all the steps)."""
    frames = (stop or job.clip.count) - start
    first = 1 / NEXT_FRAME_STEPS if start == 0 else 1
    return math.ceil(min(ZERO_GPU_MAX_CALL, START_SECONDS + (frames - 1 + first) * slow_frame_seconds(job)))


def video_calls(job: VideoJob) -> list[tuple[int, int | None]]:
    """The (start, stop) frames of each call a clip is painted in: on ZeroGPU, the slow method's frames in calls
    that fit one free call each (the first call's first frame takes all the steps, so it has fewer); otherwise one
    call for the whole clip (stop None: to its end)."""
    count = job.clip.count
    if job.method != "slow" or not on_zero_gpu() or count <= 0:
        return [(0, None)]
    per_call = max(1, int((ZERO_GPU_MAX_CALL - START_SECONDS) / slow_frame_seconds(job)))
    first = max(1, per_call + 1 - round(1 / NEXT_FRAME_STEPS))
    return [(0, min(first, count))] + [(start, min(start + per_call, count)) for start in range(first, count, per_call)]


def call_frames(job: VideoJob, start: int, stop: int | None, last: np.ndarray | None = None) -> Iterator[Frame]:
    """Frames `start` to `stop` of the clip as Frames (the painting as the picture, its step the frame's number,
    its temporal error in meta); `last` is the painting of frame `start - 1`, from the call before."""
    painter, _ = painter_for(job.painting, job.method, job.settings, name=job.style)
    if job.method == "slow" and start == 0:
        yield Frame("Loading the VGG weights and painting the first frame (it takes all the steps)…")
    for painted in painted_frames(job.clip, painter, job.size, start=start, stop=stop, last_painting=last):
        yield Frame("", Image.fromarray(painted.painting), step=painted.index + 1, meta={"error": painted.error})


def on_cpu(job: VideoJob, start: int, stop: int | None, last: np.ndarray | None = None) -> tuple[tuple, dict, str]:
    return (replace(job, settings=replace(job.settings, device="cpu")), start, stop), {"last": last}, ""


# The slow method's calls, each on the GPU for the seconds it declares on ZeroGPU (the fast one needs no GPU).
slow_call_frames = on_gpu(duration=call_seconds, on_cpu=on_cpu)(call_frames)


# --- the handlers (in the server process) ------------------------------------------------------------------

class Outcome:
    """What one job left for Stop's follow-up: (status, clip, download), once the job has closed."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.value: tuple | None = None

    def put(self, value: tuple) -> None:
        """The job's outcome; only the first counts (the painting's own, before the runner's fallback)."""
        if self.value is None:
            self.value = value
            self.closed.set()


class StoppedClips:
    """Each session's latest job's Outcome, for Stop's follow-up, which may come before the job has closed."""

    def __init__(self) -> None:
        self.items: LRU[str, Outcome] = LRU(64)

    def expect(self, session: str) -> Outcome | None:
        """A new job's Outcome; None while the session's last job is still open (the new one will be refused, and
        a Stop is for the open one)."""
        current = self.items.get(session)
        if current is not None and not current.closed.is_set():
            return None
        outcome = Outcome()
        self.items.put(session, outcome)
        return outcome

    def take(self, session: str, timeout: float) -> tuple | None:
        outcome = self.items.get(session)
        if outcome is None or not outcome.closed.wait(timeout):
            return None
        return outcome.value


class VideoJobs:
    """The tab's handlers, bound to this server's limits, job runner, served files and keepsakes."""

    def __init__(self, shared: Shared) -> None:
        self.limits, self.runner = shared.limits, shared.runner
        self.files, self.keepsakes = shared.files, shared.keepsakes
        self.stopped = StoppedClips()

    def paint(self, clip: Any, painting: Any, method: Any, size: Any, request: Any) -> Iterator[tuple]:
        """Stream (preview, status, chart, painted clip, download) while the clip is painted."""
        outcome = self.stopped.expect(session_of(request))
        try:
            yield from self.runner.stream(request, lambda: self.checked(clip, painting, method, size),
                                          functools.partial(self.painting, outcome=outcome),
                                          waiting=status_update(1, OUTPUTS))
        finally:  # what Stop offers when the job never painted (stopped while waiting for a slot, or refused)
            if outcome is not None:
                outcome.put(("Stopped before the first frame was painted.", gr.skip(), gr.skip()))

    def checked(self, clip: Any, painting: Any, method: Any, size: Any) -> VideoJob:
        if not clip:
            raise NSTError("Add a video clip first.")
        if painting is None:
            raise NSTError("Pick a painting from the gallery or upload one.")
        if method not in METHODS:
            raise NSTError(f"The method must be one of: {', '.join(METHODS)}.")
        top = self.limits.max_size
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not 64 <= size <= top:
            raise NSTError(f"The frames' size must be between 64 and {top} px here.")
        opened = open_clip(clip)
        seconds = opened.count / opened.fps
        if seconds > self.limits.video_seconds:
            raise NSTError(f"The clip is {seconds:.0f} s long; this server paints clips of up to "
                           f"{self.limits.video_seconds:g} s, so trim it first.")
        art = decode_image(painting)
        style = painting_name(art)
        network = model_for_painting(art) if method != "slow" else None
        if method == "fast" and network is None:
            raise NSTError(f"No fast network is trained for {style}; pick the slow method, or one of these "
                           f"paintings: {', '.join(shipped_styles())}.")
        settings = Settings(iterations=SLOW_ITERATIONS, weights=default_weights())
        return VideoJob(opened, art, style, "fast" if network else "slow", int(size), settings)

    def painting(self, job: VideoJob, session: str, outcome: Outcome | None) -> Iterator[tuple]:
        key = video_key(session)
        self.keepsakes.begin(key)
        writer = ClipWriter(job.clip, painted_size(job.clip, job.size))
        started, throttle, rows = time.monotonic(), Throttle(), []
        last, done, out_of_time = None, 0, False
        try:
            for frame in self.frames_in_calls(job):
                if frame.image is None:
                    yield status_update(1, OUTPUTS)(frame.status)
                    continue
                last, done = frame.image, frame.step
                writer.send(np.asarray(last))
                if frame.meta["error"] is not None:
                    rows.append({"frame": done, "change": frame.meta["error"]})
                out_of_time = time.monotonic() - started > self.limits.job_seconds
                due = throttle.due(picture=True, last=out_of_time)
                if due.picture:
                    self.keepsakes.keep(key, last, self.recipe(job, done), last.size, done, total=0)
                if due.send:
                    yield (self.files.frame(last, "webp") if due.picture else gr.skip(),
                           self.progress(job, done, started, frame.status), change_table(rows), gr.skip(), gr.skip())
                if out_of_time:
                    break
            if last is None:
                raise NSTError(f"The clip {job.clip.path.name!r} has no frames to paint.")
            self.keepsakes.keep(key, last, self.recipe(job, done), last.size, done, total=0)
            path = str(self.files.download_path("painted", ".mp4"))
            writer.finish(path)
        except GeneratorExit:  # Stop: the frames painted so far become the clip Stop's follow-up offers
            if outcome is not None:
                outcome.put(self.keep_stopped(job, writer, done))
            raise
        finally:
            writer.close()
        summary = self.summary(job, done, started, rows, out_of_time)
        if outcome is not None:
            outcome.put((summary, path, path))  # a Stop that comes now finds the whole clip
        yield self.files.frame(last, "webp"), summary, change_table(rows), path, path

    def frames_in_calls(self, job: VideoJob) -> Iterator[Frame]:
        """The clip's Frames over the calls it is cut into, each call going on from the last painting before it."""
        calls = video_calls(job)
        paint = slow_call_frames if job.method == "slow" else call_frames
        last = None
        for number, (start, stop) in enumerate(calls, start=1):
            for frame in paint(job, start, stop, last):
                if frame.image is not None:
                    last = np.asarray(frame.image)
                    if len(calls) > 1:
                        frame = replace(frame, status=f"GPU call {number} of {len(calls)}")
                yield frame

    def recipe(self, job: VideoJob, frames: int) -> dict[str, Any]:
        width, height = painted_size(job.clip, job.size)
        return {"settings": {"style": job.style, "method": job.method, "size": job.size, "frames": frames,
                             "clip_frames": job.clip.count, "fps": job.clip.fps}, "output_size": [width, height]}

    def progress(self, job: VideoJob, done: int, started: float, note: str) -> str:
        rate = done / max(time.monotonic() - started, 1e-6)
        left = max(job.clip.count - done, 0) / rate
        line = (f"Frame **{done}** of {job.clip.count} ({job.method}) · {rate:.2f} frames/s · about {left:.0f} s "
                f"to go (limit {self.limits.job_seconds:g} s)")
        return f"{line}\n\n{note}" if note else line

    def summary(self, job: VideoJob, done: int, started: float, rows: list[dict], out_of_time: bool) -> str:
        seconds = time.monotonic() - started
        # (not `done < count`: the container's frame count is a guess for some files)
        head = (f"**Done**: {done} frames" if not out_of_time else
                f"**The time limit ({self.limits.job_seconds:g} s) ended the clip** at frame {done} of "
                f"{job.clip.count}; the painted part is below:")
        change = f"{np.mean([row['change'] for row in rows]):.2f}" if rows else "–"
        return (f"{head} at {job.clip.fps:g} frames/s, painted {job.method} in {seconds:.0f} s "
                f"({done / max(seconds, 1e-6):.2f} frames/s). On average a frame differs from the last one moved "
                f"along the scene's motion by {change} levels of 255 (the chart, frame by frame).")

    def keep_stopped(self, job: VideoJob, writer: ClipWriter, done: int) -> tuple:
        """(status, clip, download) for Stop's follow-up: the frames painted so far as an MP4."""
        if done == 0:
            return "Stopped before the first frame was painted.", gr.skip(), gr.skip()
        path = self.files.download_path("painted", ".mp4")
        try:
            writer.finish(path)
        except (OSError, NSTError):
            return "Stopped; the painted frames could not be saved as a clip.", gr.skip(), gr.skip()
        return (f"Stopped at frame {done} of {job.clip.count} ({job.method}). The painted part is kept: play it "
                "or download it below.", str(path), str(path))

    def after_stop(self, request: gr.Request) -> Iterator[tuple]:
        """(status, clip, download) after Stop: the job stops at its next frame (a slow frame can take a while),
        then offers the frames painted so far."""
        yield "Stopping: the frame being painted is finished first…", gr.skip(), gr.skip()
        outcome = self.stopped.take(session_of(request), self.limits.job_seconds + STOP_GRACE)
        yield outcome if outcome is not None else ("Stopped.", gr.skip(), gr.skip())


def change_table(rows: list[dict]) -> Any:
    """The chart of each frame's change from the last one moved along the motion: every row so far."""
    return pd.DataFrame(rows, columns=["frame", "change"]) if rows else gr.skip()


@functools.cache
def gallery_titles() -> dict[str, str]:
    """The gallery's paintings' titles by their pixels' digest (a gallery pick reaches the handler as a copy)."""
    return {style_digest(decode_image(style.path)): style.title for style in list_styles() if style.available}


def painting_name(painting: Image.Image) -> str:
    """A gallery painting's title, else "your painting"."""
    return gallery_titles().get(style_digest(painting), "your painting")
