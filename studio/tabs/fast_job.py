"""The Fast tab's handlers: a photo through a fast network at once (and the webcam, frame by frame), a network
trained on the visitor's photo, and Refine (the optimisation started from the fast result).

Training and Refine are jobs on the job runner; on ZeroGPU `train_frames` runs in the GPU worker (plain values
in, Frames out). The networks themselves live in nst_core.fast; this module only adapts the page to them. Each
kind of result is kept under a key of its own, for Stop and for the history strip.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
from PIL import Image

from nst_core import NSTError, Settings
from nst_core.config import default_weights
from nst_core.engine import make_recipe
from nst_core.fast import apply
from nst_core.fast.apply import MODELS, fast_recipe, shipped_styles, style_model, stylize_fast
from nst_core.fast.data import PhotoSet
from nst_core.fast.model import FastModel, model_bytes
from nst_core.fast.train import MAX_STEPS, TrainSettings, adapt_settings, train_iter
from nst_core.images import decode_image
from nst_core.lru import LRU

from ..charts import loss_table
from ..jobs import Frame, session_of
from ..keepsakes import stopped_download
from ..runner import Throttle, reported, status_update, user_errors
from ..stylize_job import stylize_frames
from ..tab import Shared
from ..zerogpu import on_gpu, on_zero_gpu

LIVE_SIDE = 256  # webcam frames are stylized at this size: >= 10 frames/s on two CPU cores (bench.fast)
# Training in the studio: the shipped models' recipe (nst_core.fast.train defaults) on the visitor's photo alone.
TRAIN_SETTINGS = dict(steps=MAX_STEPS, sample_every=5, checkpoint_every=MAX_STEPS)
TRAINED_SESSIONS = 32  # sessions whose best trained network is kept until it is downloaded


def instant_key(session: str) -> str:
    return session + "/fast"


def refine_key(session: str) -> str:
    return session + "/refine"


def train_key(session: str) -> str:
    return session + "/train"


TRAIN_CALL_SECONDS = 90  # on ZeroGPU a training is cut into calls this long: declared with 30 s more, a free call's 120

# --- the training job (on ZeroGPU it runs in the GPU worker: plain values in, Frames out) --------------------

def train_seconds(photo: Image.Image, painting: Image.Image, settings: TrainSettings, style: str,
                  checkpoint: str | None = None, started: float = 0.0, base: str | None = None) -> int:
    """ZeroGPU seconds for one call: the training still to do in it, and 30 s to load and save."""
    return int(settings.max_seconds - started) + 30


def training_calls(seconds: float) -> list[float]:
    """The time limits, counted from the start, of the calls a training of `seconds` is cut into: calls of at most
    TRAIN_CALL_SECONDS on ZeroGPU, where a longer call is refused; one call elsewhere."""
    if not on_zero_gpu():
        return [seconds]
    return [min(seconds, TRAIN_CALL_SECONDS * k) for k in range(1, math.ceil(seconds / TRAIN_CALL_SECONDS) + 1)]


def train_on_cpu(photo: Image.Image, painting: Image.Image, settings: TrainSettings, style: str,
                 **resume: Any) -> tuple[tuple, dict, str]:
    return (photo, painting, replace(settings, device="cpu"), style), resume, ""


@on_gpu(duration=train_seconds, on_cpu=train_on_cpu)
def train_frames(photo: Image.Image, painting: Image.Image, settings: TrainSettings, style: str,
                 checkpoint: str | None = None, started: float = 0.0, base: str | None = None) -> Iterator[Frame]:
    """Training as Frames, as often as a Throttle allows: the network's output on the photo, the loss, and the best
    network so far (as model-file bytes) whenever it changes. With `checkpoint` (a file path: on ZeroGPU this runs
    in another process), training goes on from that file if it exists and leaves its state there, until
    `settings.max_seconds` of training in all; `started` is how much of that earlier calls did. With `base` (a
    model file), the painting is learnt as a new style of that network: only its scales and shifts train."""
    yield Frame("Loading the VGG weights (first run only, then they stay loaded)…")
    photos = PhotoSet.of([("your photo", photo)], keep_side=round(settings.crop * 2))
    rows: list[dict] = []
    throttle = Throttle()
    events = train_iter(painting, photos, settings, style_name=style, sample=photo,
                        checkpoint=Path(checkpoint) if checkpoint else None, resume=checkpoint is not None,
                        base=MODELS.get(base) if base else None)
    try:
        for event in events:
            rows += [{"step": event.step, "loss": value, "term": term}
                     for term, value in (("total", event.loss), *event.terms.items())]
            due = throttle.due(picture=event.sample is not None, last=event.done, urgent=event.best is not None)
            if not due.send:
                continue
            head = "**Done**" if event.done else f"Step **{event.step}**"
            status = (f"{head} · {event.elapsed:.0f} s (limit {settings.max_seconds:.0f} s) · "
                      f"{event.rate:.2f} steps/s · loss {event.loss:.3g}")
            if event.message:
                status += f"\n\n{event.message}"
            meta = {"model": model_bytes(event.best)} if event.best is not None else {}
            yield Frame(status, event.sample if due.picture else None, tuple(rows), event.step, event.done, meta=meta)
            rows = []
    finally:
        events.close()


def gallery_base() -> str | None:
    """The shipped gallery network that a visitor's painting is learnt into, where there is one: its shared
    convolutions learnt from many photos, only the new style's scales and shifts train (Dumoulin et al.)."""
    return str(apply.GALLERY_MODEL) if apply.GALLERY_MODEL.is_file() else None


# --- the handlers (in the server process) ------------------------------------------------------------------

class Refinement(NamedTuple):
    """What Refine starts from: the network, the photo, the optimisation's settings, the network's picture."""

    model: FastModel
    photo: Image.Image
    settings: Settings
    start: Image.Image
    start_recipe: dict[str, Any]


FILE_CHOICE = "model-file"  # the menu's entry for the model file box; "model-file:STYLE" for one of its styles


def wanted_style(model: FastModel) -> str:
    """The style of a model file that a visitor means when they name none: the painting learnt into a network of
    several styles (the last, adapted one: what the Fast tab's training gives), else the first."""
    adapted = model.net.styles > 1 and "adapted" in model.styles[-1].meta
    return model.styles[-1 if adapted else 0].name


def picked_style(choice: Any, file: Any) -> tuple[str, str]:
    """(model file, style) that the menu's `choice` names: a style of the model file in the box (`wanted_style`
    where the entry names none), or a style a shipped model holds."""
    if file:
        model = MODELS.get(file)
        named = str(choice).removeprefix(FILE_CHOICE + ":") if str(choice).startswith(FILE_CHOICE + ":") else None
        if named is None:
            return str(file), wanted_style(model)
        if model.index(named) is None:
            raise NSTError(f"The model file holds no style called {named!r}; it holds "
                           f"{', '.join(entry.name for entry in model.styles)}.")
        return str(file), named
    shipped = shipped_styles()
    if choice not in shipped:
        raise NSTError("Pick a fast network from the menu or load a model file.")
    return str(shipped[choice]), str(choice)


class FastJobs:
    """The tab's handlers, bound to this server's limits, job runner, served files and keepsakes."""

    def __init__(self, shared: Shared) -> None:
        self.limits, self.runner = shared.limits, shared.runner
        self.files, self.keepsakes = shared.files, shared.keepsakes
        self.trained: LRU[str, bytes] = LRU(TRAINED_SESSIONS)  # each session's best network so far, as a file

    def model(self, choice: Any, file: Any, partner: Any = None, mix: Any = 0.0) -> FastModel:
        """The one-style model to stylize with: the style picked in the menu, of the loaded model file if there is
        one, else of the shipped model holding it; mixed with `partner` (another style of that model) by `mix`
        (0: the picked style alone, 1: the partner alone)."""
        holder, style = picked_style(choice, file)
        # A partner of another network is the blend menu not yet following a new pick (its own event): no blend.
        if partner and partner != style and mix and MODELS.get(holder).index(str(partner)) is not None:
            if not isinstance(mix, (int, float)) or not 0 <= mix <= 1:
                raise NSTError("The blend must be between 0 and 1.")
            return style_model(style, holder, {style: 1 - mix, str(partner): mix})
        return style_model(style, holder)

    def checked_size(self, size: Any) -> int:
        if not isinstance(size, (int, float)) or not 64 <= size <= self.limits.max_size:
            raise NSTError(f"Output size must be between 64 and {self.limits.max_size} px here.")
        return int(size)

    def stylize(self, photo: Any, choice: Any, file: Any, size: Any, partner: Any, mix: Any,
                request: gr.Request) -> Iterator[tuple]:
        """Instant stylization: (picture, status, download PNG with its recipe); a mistake is the status line and
        an error, the last picture staying."""
        yield from reported(status_update(1, 3),
                            lambda: self.stylized(photo, choice, file, size, partner, mix, request))

    def stylized(self, photo: Any, choice: Any, file: Any, size: Any, partner: Any, mix: Any,
                 request: gr.Request) -> tuple:
        if photo is None:
            return gr.skip(), "Add a photo to stylize it instantly.", gr.skip()
        model, side = self.model(choice, file, partner, mix), self.checked_size(size)
        image = decode_image(photo)
        start = time.perf_counter()
        result = stylize_fast(model, image, side)
        seconds = time.perf_counter() - start
        recipe = fast_recipe(model, image, result)
        key = instant_key(session_of(request))
        self.keepsakes.begin(key)  # each result is a run of its own: one pass, one frame
        self.keepsakes.keep(key, result, recipe, result.size, 1, total=1)
        status = (f"**{model.label}** · {result.size[0]}×{result.size[1]} in {seconds * 1000:.0f} ms, one pass "
                  "(the optimisation would take a minute or more)")
        return self.files.frame(result, "webp"), status, self.files.png(result, recipe, stem="fast")

    def live(self, frame: Any, choice: Any, file: Any, partner: Any = None, mix: Any = 0.0) -> Any:
        """One webcam frame through the network, at LIVE_SIDE."""
        if frame is None:
            return gr.skip()
        with user_errors():
            return self.files.frame(stylize_fast(self.model(choice, file, partner, mix), frame, LIVE_SIDE), "jpeg")

    def train(self, photo: Any, painting: Any, seconds: Any, request: Any) -> Iterator[tuple]:
        """Stream (network output, status, chart, model file) while a network learns the painting."""

        def check() -> tuple[Image.Image, Image.Image, TrainSettings]:
            if photo is None:
                raise NSTError("Add a photo first: the network's progress is shown on it.")
            if painting is None:
                raise NSTError("Pick a painting from the gallery or upload one.")
            cap = self.limits.train_seconds
            if not isinstance(seconds, (int, float)) or not 10 <= seconds <= cap:
                raise NSTError(f"Training time must be between 10 and {cap:g} s on this server.")
            base = gallery_base()  # a new style of the gallery's network, learnt under its losses
            learnt_into = adapt_settings(MODELS.get(base)) if base else {}
            settings = TrainSettings(**TRAIN_SETTINGS, **learnt_into, max_seconds=float(seconds),
                                     weights=default_weights())
            return decode_image(photo), decode_image(painting), settings

        return self.runner.stream(request, check, self.training, waiting=status_update(1, 4))

    def training(self, checked: tuple[Image.Image, Image.Image, TrainSettings], session: str) -> Iterator[tuple]:
        image, art, settings = checked
        key = train_key(session)
        recipe = {"settings": {"training_seconds": settings.max_seconds}}
        self.keepsakes.begin(key)
        rows: list[dict] = []
        for frame in self.train_in_calls(image, art, settings):
            rows += frame.rows
            chart = loss_table(rows) if frame.rows else gr.skip()
            if "model" in frame.meta:
                self.trained.put(session, frame.meta["model"])
            model_file = self.model_download(session) if frame.done else gr.skip()
            picture = gr.skip()
            if frame.image is not None:
                # A training has no length in steps (it runs until its time is up): its film counts steps only.
                self.keepsakes.keep(key, frame.image, recipe, frame.image.size, frame.step, total=0)
                picture = self.files.frame(frame.image, "webp")
            yield picture, frame.status, chart, model_file

    def train_in_calls(self, image: Image.Image, art: Image.Image, settings: TrainSettings) -> Iterator[Frame]:
        """The training's Frames over as many GPU calls as it is cut into (training_calls), each going on from the
        last one's checkpoint; a call's end is the training's only at the last call, or when all steps are done."""
        ends, base = training_calls(settings.max_seconds), gallery_base()
        if len(ends) == 1:
            yield from train_frames(image, art, settings, "your painting", base=base)
            return
        with tempfile.TemporaryDirectory(prefix="nst-train-") as folder:
            checkpoint, started = str(Path(folder) / "training.ckpt"), 0.0
            for call, end in enumerate(ends, start=1):
                for frame in train_frames(image, art, replace(settings, max_seconds=end), "your painting",
                                          checkpoint=checkpoint, started=started, base=base):
                    finished = frame.done and (call == len(ends) or frame.step >= settings.steps)
                    if frame.done and not finished:
                        frame = replace(frame, done=False, status=f"{frame.status}\n\nGPU call {call} of {len(ends)} "
                                        "done: the next one goes on from here…")
                    yield frame
                    if finished:
                        return
                started = end

    def model_download(self, session: str) -> str | None:
        """The session's best trained network as a downloadable model file, which the menu's file box loads."""
        data = self.trained.pop(session)
        return None if data is None else self.files.download(data, "fast-network.pt")

    def after_train_stop(self, request: gr.Request) -> tuple:
        path = self.model_download(session_of(request))
        if path is None:
            return "Stopped before the network had learnt anything worth keeping.", gr.skip()
        return "Stopped. The best network so far is kept: it is loaded above and can be downloaded.", path

    def refine(self, photo: Any, choice: Any, file: Any, size: Any, partner: Any, mix: Any,
               request: Any) -> Iterator[tuple]:
        """The fast result at once, then the engine's optimisation started from it: (picture, status, PNG)."""

        def check() -> Refinement:
            if photo is None:
                raise NSTError("Add a photo first.")
            model, side = self.model(choice, file, partner, mix), self.checked_size(size)
            image = decode_image(photo)
            if "blend" in model.meta:
                raise NSTError("A blend of two styles has no one painting to refine towards; move the blend to "
                               "either end.")
            if model.painting is None:
                raise NSTError("This model file carries no painting, so there is nothing to refine towards.")
            start = stylize_fast(model, image, side)
            return Refinement(model, image, Settings(size=side, max_seconds=self.limits.job_seconds), start,
                              fast_recipe(model, image, start))

        return self.runner.stream(request, check, self.refining, waiting=status_update(1, 3), first=self.refine_start)

    def refine_start(self, job: Refinement, session: str) -> Iterator[tuple]:
        """The fast result, the first picture of the refined run's film, while the job waits for a slot."""
        self.keepsakes.begin(refine_key(session))
        self.keepsakes.keep(refine_key(session), job.start, job.start_recipe, job.start.size, 0,
                            total=job.settings.iterations)
        yield (self.files.frame(job.start, "webp"),
               "The fast result; the optimisation starts from it when a compute slot is free…", gr.skip())

    def refining(self, job: Refinement, session: str) -> Iterator[tuple]:
        paintings = [job.model.painting]
        for frame in stylize_frames(job.photo, paintings, job.settings, False, init_image=job.start, film=True):
            if "film" in frame.meta:  # a short run's picture for its time-lapse alone
                self.keepsakes.film_only(refine_key(session), frame.meta["film"], frame.step, job.settings.iterations)
                continue
            if frame.image is None:
                yield gr.skip(), frame.status, gr.skip()
                continue
            recipe = {**(frame.recipe or make_recipe(job.settings, job.photo, paintings, frame.output_size)),
                      "refined_from": job.start_recipe["fast_model"]}
            self.keepsakes.keep(refine_key(session), frame.image, recipe, frame.output_size, frame.step)
            download = self.files.png(frame.image, recipe) if frame.done else gr.skip()
            yield self.files.frame(frame.image, "webp"), frame.status, download

    def after_refine_stop(self, request: gr.Request) -> tuple:
        return stopped_download(self.keepsakes, self.files, refine_key(session_of(request)))


def check_model_file(file: Any) -> Iterator[str]:
    """A model file dropped in: one sentence about it, what it is, or (status line, then error: the instant picture
    that follows it does not run) why it is not a model."""
    yield from reported(lambda line: line, lambda: model_file_line(file))


def model_file_line(file: Any) -> str:
    if not file:
        return "Using the network picked in the menu."
    model = MODELS.get(file)
    seconds = model.meta.get("training_seconds")
    trained = f", trained {seconds:.0f} s" if isinstance(seconds, (int, float)) else ""
    return f"Using the model file: **{model.label}**{trained}."
