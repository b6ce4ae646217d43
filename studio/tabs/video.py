"""The Video tab: a clip in, a painted clip out that does not flicker.

Upload a clip (at most NST_VIDEO_SECONDS long and the upload limit in size), pick a painting, and Paint: each
frame is shown as it is painted, with a chart of how much it differs from the last frame moved along the scene's
motion (the flicker the temporal step removes). Stop, or the job's time limit, keeps the frames already painted
as a clip. The painted clip keeps the frame rate and the sound. The handlers are in tabs/video_job.py; the
painting itself is nst_core.video.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from ..buttons import run_button, stop_button
from ..components import NumberSlider, PaintingImage, check_uploads, gallery_items
from ..tab import Result, Shared
from .video_job import VideoJobs, video_key

DEFAULT_SIZE = 256  # px: 17 frames/s with the fast method on two CPU cores (docs/video.md)
METHOD_CHOICES = [("Fast network where the painting has one, else the optimisation", "auto"),
                  ("Fast network (instant, for paintings with a trained network)", "fast"),
                  ("Optimisation (seconds a frame: for any painting)", "slow")]


def video_caption(recipe: dict[str, Any], step: int) -> str:
    settings = recipe.get("settings", {})
    return f"Video: {settings.get('style', '?')}, {settings.get('method', '?')}, {step} frames"


class VideoTab:
    title, id = "Video", "video"

    def __init__(self, shared: Shared) -> None:
        self.limits = shared.limits
        self.jobs = VideoJobs(shared)

    def layout(self) -> None:
        limits = self.limits
        upload_mb = limits.upload_bytes // (1024 * 1024)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                self.clip = gr.Video(label=f"Clip (up to {limits.video_seconds:g} s and {upload_mb} MB: MP4, WebM, "
                                     "MOV)", sources=["upload"], elem_id="video-clip")
                self.painting = PaintingImage(label="Painting", type="filepath", elem_id="video-painting")
                self.gallery = gallery_items()
                self.styles_gallery = gr.Gallery(value=self.gallery, label="Style gallery", columns=5, height="auto",
                                                 allow_preview=False, elem_id="video-gallery", object_fit="cover")
                self.method = gr.Radio(METHOD_CHOICES, value="auto", label="Method", elem_id="video-method")
                self.size = NumberSlider(64, limits.max_size, value=min(DEFAULT_SIZE, limits.max_size), step=32,
                                         label="Frame size (px, longest side)", elem_id="video-size")
            with gr.Column(scale=1, min_width=300):
                with gr.Row():
                    self.paint_btn = gr.Button("Paint the clip", variant="primary", elem_id="video-paint")
                    self.stop_btn = gr.Button("Stop", variant="stop", elem_id="video-stop")
                self.status = gr.Markdown("Add a clip and pick a painting.", elem_id="video-status")
                self.preview = gr.Image(label="The frame being painted", format="webp", interactive=False,
                                        elem_id="video-preview")
                # A short title: on a phone a long one squeezed the plot to a sliver (the status says what it is).
                self.chart = gr.LinePlot(x="frame", y="change", title="Flicker per frame (levels of 255)", height=200,
                                         elem_id="video-chart")
                self.result = gr.Video(label="Painted clip", interactive=False, elem_id="video-result")
                self.download = gr.File(label="Download the MP4", interactive=False, elem_id="video-download")

    def wire(self, tabs: gr.Tabs) -> None:
        def pick_painting(evt: gr.SelectData) -> str:
            return self.gallery[evt.index][0]

        self.styles_gallery.select(pick_painting, None, self.painting, api_visibility="private")
        check_uploads(self.painting, "painting", self.status)

        def paint(clip: Any, painting: Any, method: str, size: float, request: gr.Request) -> Iterator[tuple]:
            """Paint every frame of `clip` in the style of `painting`, streaming the frames; ends with the MP4."""
            yield from self.jobs.paint(clip, painting, method, size, request)

        self.event = run_button(self.paint_btn, paint, [self.clip, self.painting, self.method, self.size],
                                [self.preview, self.status, self.chart, self.result, self.download],
                                api_name="paint_video", concurrency_limit=self.limits.queue_size)
        stop_button(self.stop_btn, self.event, self.jobs.after_stop, [self.status, self.result, self.download])

    def history(self) -> list[Result]:
        return [Result("video", self.event, video_key, video_caption)]
