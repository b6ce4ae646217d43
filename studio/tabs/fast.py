"""The Fast tab: a network trained for one painting stylizes in one pass, fast enough for a live webcam.

Pick a shipped network (or load a model file): the photo is stylized at once, and the webcam streams through
it. "Train a fast network for this painting" trains one on the visitor's photo under the job board and a
wall-clock cap (NST_TRAIN_SECONDS), streaming the network's output and its loss as it learns; Stop keeps the
best network so far, which can be downloaded and loaded again. "Refine" starts the slow optimisation from the
fast result. The networks themselves live in nst_core.fast; this module only adapts the page to them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import gradio as gr
import pandas as pd
from PIL import Image

from nst_core import NSTError, Settings
from nst_core.config import default_weights
from nst_core.engine import make_recipe
from nst_core.fast.apply import MODELS, fast_recipe, shipped_models, stylize_fast
from nst_core.fast.data import PhotoSet
from nst_core.fast.model import FastModel, model_bytes
from nst_core.fast.train import TrainSettings, train_iter
from nst_core.gallery import get_style
from nst_core.images import decode_image

from ..components import NumberSlider, PaintingImage, UploadedImage
from ..jobs import Frame, JobBoard, Keepsakes, on_gpu, session_of
from ..limits import Limits
from .stylize import (
    ENABLE_RUN,
    PREVIEW_INTERVAL,
    TERM_COLOURS,
    UPDATE_INTERVAL,
    gallery_items,
    join_board,
    stopped_download,
    stylize_frames,
    user_error,
)

LIVE_SIDE = 256  # webcam frames are stylized at this size: >= 10 frames/s on two CPU cores (bench.fast)
STREAM_EVERY = 0.1  # seconds between webcam frames sent to the server
DEFAULT_SIZE = 512
# Training in the studio: the shipped models' recipe (nst_core.fast.train defaults) on the visitor's photo alone.
TRAIN_SETTINGS = dict(steps=1_000_000, sample_every=5, checkpoint_every=1_000_000)
TRAIN_TERMS = ("total", "content", "style")


def model_choices() -> list[tuple[str, str]]:
    """(label, name) of each shipped model: the gallery's title where the style is a gallery style."""
    choices = []
    for name in shipped_models():
        try:
            choices.append((get_style(name).title, name))
        except NSTError:
            choices.append((name, name))
    return choices


# --- the training job (on ZeroGPU it runs in the GPU worker: plain values in, Frames out) --------------------

def train_seconds(photo: Image.Image, painting: Image.Image, settings: TrainSettings, style: str) -> int:
    return int(settings.max_seconds) + 30


@on_gpu(duration=train_seconds)
def train_frames(photo: Image.Image, painting: Image.Image, settings: TrainSettings, style: str) -> Iterator[Frame]:
    """Training as Frames: the network's output on the photo at most every PREVIEW_INTERVAL, the loss every
    UPDATE_INTERVAL, and the best network so far (as model-file bytes) whenever it changes."""
    yield Frame("Loading the VGG weights (first run only, then they stay loaded)…")
    photos = PhotoSet.of([("your photo", photo)], keep_side=round(settings.crop * 2))
    rows: list[dict] = []
    last_update = last_image = 0.0
    events = train_iter(painting, photos, settings, style_name=style, sample=photo)
    try:
        for event in events:
            rows += [{"step": event.step, "loss": value, "term": term}
                     for term, value in (("total", event.loss), *event.terms.items())]
            now = time.monotonic()
            fresh = event.sample is not None and (event.done or now - last_image >= PREVIEW_INTERVAL)
            if not (fresh or event.best or event.done or now - last_update >= UPDATE_INTERVAL):
                continue
            last_update = now
            last_image = now if fresh else last_image
            head = "**Done**" if event.done else f"Step **{event.step}**"
            status = (f"{head} · {event.elapsed:.0f} s (limit {settings.max_seconds:.0f} s) · "
                      f"{event.rate:.2f} steps/s · loss {event.loss:.3g}")
            if event.message:
                status += f"\n\n{event.message}"
            meta = {"model": model_bytes(event.best)} if event.best is not None else {}
            yield Frame(status, event.sample if fresh else None, tuple(rows), event.step, event.done, meta=meta)
            rows = []
    finally:
        events.close()


class TrainedModels:
    """The best network of each session's training so far (model-file bytes), bounded like Keepsakes."""

    def __init__(self, capacity: int = 32) -> None:
        self.capacity, self.items, self.lock = capacity, OrderedDict(), threading.Lock()

    def keep(self, session: str, data: bytes) -> None:
        with self.lock:
            self.items[session] = data
            self.items.move_to_end(session)
            while len(self.items) > self.capacity:
                self.items.popitem(last=False)

    def pop(self, session: str) -> bytes | None:
        with self.lock:
            return self.items.pop(session, None)


class FastTab:
    """The tab's handlers, bound to this server's limits, job board, served files and keepsakes."""

    def __init__(self, limits: Limits, board: JobBoard, files, keepsakes: Keepsakes) -> None:
        self.limits, self.board, self.files, self.keepsakes = limits, board, files, keepsakes
        self.trained = TrainedModels()

    def model(self, choice: Any, file: Any) -> FastModel:
        """The loaded model file if there is one, else the shipped model picked in the menu."""
        if file:
            return MODELS.get(file)
        shipped = shipped_models()
        if choice not in shipped:
            raise NSTError("Pick a fast network from the menu or load a model file.")
        return MODELS.get(shipped[choice])

    def checked_size(self, size: Any) -> int:
        if not isinstance(size, (int, float)) or not 64 <= size <= self.limits.max_size:
            raise NSTError(f"Output size must be between 64 and {self.limits.max_size} px here.")
        return int(size)

    def stylize(self, photo: Any, choice: Any, file: Any, size: Any) -> tuple:
        """Instant stylization: (picture, status, download PNG with its recipe)."""
        if photo is None:
            return gr.skip(), "Add a photo to stylize it instantly.", gr.skip()
        try:
            model, side, image = self.model(choice, file), self.checked_size(size), decode_image(photo)
            start = time.perf_counter()
            result = stylize_fast(model, image, side)
        except NSTError as error:
            raise user_error(error) from None
        seconds = time.perf_counter() - start
        status = (f"**{model.label}** · {result.size[0]}×{result.size[1]} in {seconds * 1000:.0f} ms, one pass "
                  "(the optimisation would take a minute or more)")
        return self.files.frame(result, "webp"), status, self.files.png(result, fast_recipe(model, image, result),
                                                                          stem="fast")

    def live(self, frame: Any, choice: Any, file: Any) -> Any:
        """One webcam frame through the network, at LIVE_SIDE."""
        if frame is None:
            return gr.skip()
        try:
            return self.files.frame(stylize_fast(self.model(choice, file), frame, LIVE_SIDE), "jpeg")
        except NSTError as error:
            raise user_error(error) from None

    def train(self, photo: Any, painting: Any, seconds: Any, request: Any) -> Iterator[tuple]:
        """Stream (network output, status, chart, model file) while a network learns the painting."""
        try:
            if photo is None:
                raise NSTError("Add a photo first: the network's progress is shown on it.")
            if painting is None:
                raise NSTError("Pick a painting from the gallery or upload one.")
            cap = self.limits.train_seconds
            if not isinstance(seconds, (int, float)) or not 10 <= seconds <= cap:
                raise NSTError(f"Training time must be between 10 and {cap:g} s on this server.")
            image, art = decode_image(photo), decode_image(painting)
            settings = TrainSettings(**TRAIN_SETTINGS, max_seconds=float(seconds), weights=default_weights())
        except NSTError as error:
            raise user_error(error) from None
        session = session_of(request)
        ticket = join_board(self.board, session)
        rows: list[dict] = []
        try:
            for waiting in self.board.wait_for_slot(ticket):
                yield gr.skip(), waiting, gr.skip(), gr.skip()
            for frame in train_frames(image, art, settings, "your painting"):
                rows += frame.rows
                chart = pd.DataFrame(rows, columns=["step", "loss", "term"]) if frame.rows else gr.skip()
                if "model" in frame.meta:
                    self.trained.keep(session, frame.meta["model"])
                model_file = self.model_download(session) if frame.done else gr.skip()
                picture = self.files.frame(frame.image, "webp") if frame.image is not None else gr.skip()
                yield picture, frame.status, chart, model_file
        except NSTError as error:
            raise user_error(error) from None
        finally:
            self.board.leave(ticket)

    def model_download(self, session: str) -> str | None:
        """The session's best trained network as a downloadable model file, which the menu's file box loads."""
        data = self.trained.pop(session)
        return None if data is None else self.files.download(data, "fast-network.pt")

    def after_train_stop(self, request: gr.Request) -> tuple:
        path = self.model_download(session_of(request))
        if path is None:
            return "Stopped before the network had learnt anything worth keeping.", gr.skip()
        return "Stopped. The best network so far is kept: it is loaded above and can be downloaded.", path

    def refine(self, photo: Any, choice: Any, file: Any, size: Any, request: Any) -> Iterator[tuple]:
        """The fast result at once, then the engine's optimisation started from it: (picture, status, PNG)."""
        try:
            if photo is None:
                raise NSTError("Add a photo first.")
            model, side, image = self.model(choice, file), self.checked_size(size), decode_image(photo)
            if model.painting is None:
                raise NSTError("This model file carries no painting, so there is nothing to refine towards.")
            settings = Settings(size=side, max_seconds=self.limits.job_seconds)
            start = stylize_fast(model, image, side)
        except NSTError as error:
            raise user_error(error) from None
        session = session_of(request)
        ticket = join_board(self.board, session)
        fast = fast_recipe(model, image, start)
        self.keepsakes.keep(session, start, fast, start.size, 0)
        try:
            yield (self.files.frame(start, "webp"),
                   "The fast result; the optimisation starts from it when a compute slot is free…", gr.skip())
            for waiting in self.board.wait_for_slot(ticket):
                yield gr.skip(), waiting, gr.skip()
            for frame in stylize_frames(image, [model.painting], settings, False, init_image=start):
                if frame.image is None:
                    yield gr.skip(), frame.status, gr.skip()
                    continue
                recipe = {**(frame.recipe or make_recipe(settings, image, [model.painting], frame.output_size)),
                          "refined_from": fast["fast_model"]}
                self.keepsakes.keep(session, frame.image, recipe, frame.output_size, frame.step)
                download = self.files.png(frame.image, recipe) if frame.done else gr.skip()
                yield self.files.frame(frame.image, "webp"), frame.status, download
        except NSTError as error:
            raise user_error(error) from None
        finally:
            self.board.leave(ticket)

    def after_refine_stop(self, request: gr.Request) -> tuple:
        return stopped_download(self.keepsakes, self.files, session_of(request))


def check_model_file(file: Any) -> str:
    """A model file dropped in: one sentence about it (what it is, or why it is not a model)."""
    if not file:
        return "Using the network picked in the menu."
    try:
        model = MODELS.get(file)
    except NSTError as error:
        raise user_error(error) from None
    seconds = model.meta.get("training_seconds")
    trained = f", trained {seconds:.0f} s" if isinstance(seconds, (int, float)) else ""
    return f"Using the model file: **{model.label}**{trained}."


def build(limits: Limits, board: JobBoard, files, keepsakes: Keepsakes) -> None:
    """The tab's layout and events, inside the caller's gr.Blocks and gr.Tab."""
    tab = FastTab(limits, board, files, keepsakes)
    choices = model_choices()
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            photo = UploadedImage(label="Photo", sources=["upload", "clipboard"], type="filepath",
                                  elem_id="fast-photo")
            choice = gr.Dropdown(choices=choices, value=choices[0][1] if choices else None,
                                 label="Fast network (one per painting)", elem_id="fast-model")
            model_file = gr.File(label="…or a model file (.pt): loaded here after training, downloadable",
                                 file_types=[".pt"], type="filepath", elem_id="fast-model-file")
            size = NumberSlider(64, limits.max_size, value=min(DEFAULT_SIZE, limits.max_size), step=32,
                                label="Output size (px)", elem_id="fast-size")
        with gr.Column(scale=1, min_width=300):
            with gr.Row():
                refine_btn = gr.Button("Refine (slow optimisation from this result)", elem_id="fast-refine")
                stop_btn = gr.Button("Stop", variant="stop", elem_id="fast-stop")
            result = gr.Image(label="Result", format="webp", interactive=False, elem_id="fast-result")
            status = gr.Markdown("Add a photo: it is stylized instantly.", elem_id="fast-status")
            download = gr.File(label="Download the PNG (its recipe names the network)", interactive=False,
                               elem_id="fast-download")
    with gr.Accordion("Live webcam through the network", open=False, elem_id="fast-webcam-box"):
        with gr.Row():
            camera = UploadedImage(sources=["webcam"], streaming=True, type="filepath", label="Webcam",
                                   elem_id="fast-webcam")
            live = gr.Image(label="Live", format="jpeg", interactive=False, elem_id="fast-live")
    with gr.Accordion("Train a fast network for this painting", open=False, elem_id="fast-train-box"):
        gr.Markdown("The network learns to imitate the slow method on your photo alone (random crops, flips and "
                    "sizes of it), so it works best on similar pictures; the shipped networks learnt from 30 "
                    "photos. Watch its output improve; Stop keeps the best network so far.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                painting = PaintingImage(label="Painting", type="filepath", elem_id="fast-painting")
                gallery = gallery_items()
                styles_gallery = gr.Gallery(value=gallery, label="Style gallery", columns=5, height="auto",
                                            allow_preview=False, elem_id="fast-gallery", object_fit="cover")
                seconds = NumberSlider(10, limits.train_seconds, value=min(120, limits.train_seconds), step=10,
                                       label="Training time (s)", elem_id="fast-seconds")
                with gr.Row():
                    train_btn = gr.Button("Train", variant="primary", elem_id="fast-train")
                    train_stop = gr.Button("Stop", variant="stop", elem_id="fast-train-stop")
            with gr.Column(scale=1, min_width=300):
                learning = gr.Image(label="The network's output on your photo", format="webp",
                                         interactive=False, elem_id="fast-learning")
                train_status = gr.Markdown("Ready.", elem_id="fast-train-status")
                chart = gr.LinePlot(x="step", y="loss", color="term", title="Training loss", height=240,
                                    elem_id="fast-chart", color_map={t: TERM_COLOURS[t] for t in TRAIN_TERMS})

    instant = [photo, choice, model_file, size]
    photo.change(tab.stylize, instant, [result, status, download], api_name="fast_stylize", concurrency_limit=4)
    for trigger in (choice.change, size.release):
        trigger(tab.stylize, instant, [result, status, download], api_visibility="private", concurrency_limit=4)
    model_file.change(check_model_file, model_file, status, api_visibility="private").success(
        tab.stylize, instant, [result, status, download], api_visibility="private")
    camera.stream(tab.live, [camera, choice, model_file], live, stream_every=STREAM_EVERY,
                  time_limit=limits.job_seconds, concurrency_limit=limits.queue_size, api_name="fast_live")

    def pick_painting(evt: gr.SelectData) -> str:
        return gallery[evt.index][0]

    styles_gallery.select(pick_painting, None, painting, api_visibility="private")

    def train(photo: Any, painting: Any, seconds: float, request: gr.Request) -> Iterator[tuple]:
        """Train a fast network for `painting`, showing its output on `photo`, for at most `seconds`."""
        yield from tab.train(photo, painting, seconds, request)

    def refine(photo: Any, choice: Any, model_file: Any, size: float, request: gr.Request) -> Iterator[tuple]:
        """The fast result, then the optimisation started from it."""
        yield from tab.refine(photo, choice, model_file, size, request)

    train_event = train_btn.click(lambda: (gr.update(interactive=False), None), None, [train_btn, chart],
                                  queue=False, api_visibility="private").then(
        train, [photo, painting, seconds], [learning, train_status, chart, model_file], api_name="fast_train",
        concurrency_limit=limits.queue_size)
    refine_event = refine_btn.click(lambda: gr.update(interactive=False), None, refine_btn, queue=False,
                                    api_visibility="private").then(
        refine, instant, [result, status, download], api_name="fast_refine", concurrency_limit=limits.queue_size)
    for button, event in ((train_btn, train_event), (refine_btn, refine_event)):
        event.then(None, None, button, js=ENABLE_RUN, api_visibility="private")  # see the Stylize tab
        event.failure(None, None, button, js=ENABLE_RUN, api_visibility="private")
    train_stop.click(None, None, None, cancels=[train_event], api_visibility="private").then(
        tab.after_train_stop, None, [train_status, model_file], api_visibility="private")
    stop_btn.click(None, None, None, cancels=[refine_event], api_visibility="private").then(
        tab.after_refine_stop, None, [status, download], api_visibility="private")

