"""The Fast tab: a network trained for a painting stylizes in one pass, fast enough for a live webcam.

Pick a style (each style a shipped network holds, or those of a model file dropped in): the photo is stylized at
once, and the webcam streams through it. Where the network holds several styles (the gallery's network), "Blend
with" mixes the picked style with another of them, and its slider moves the photo and the live webcam between
the two. "Train a fast network for this painting" trains one on the visitor's photo under the job runner and a
wall-clock cap (NST_TRAIN_SECONDS), streaming the network's output and its loss as it learns; where the gallery's
network is shipped, the painting is learnt into it as one more style (only its scales and shifts). Stop keeps the
best network so far, which can be downloaded and loaded again. "Refine" starts the slow optimisation from the
fast result. Every result but the webcam's goes to the history strip. The handlers are in tabs/fast_job.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from nst_core import NSTError
from nst_core.fast.apply import MODELS, shipped_styles
from nst_core.fast.model import FastModel
from nst_core.gallery import get_style

from ..buttons import run_button, stop_button
from ..charts import TERM_COLOURS
from ..components import NumberSlider, PaintingImage, UploadedImage, check_uploads, gallery_items
from ..scroll import bring_into_view
from ..tab import Result, Shared, run_length
from .fast_job import (
    FILE_CHOICE,
    FastJobs,
    check_model_file,
    gallery_base,
    instant_key,
    picked_style,
    refine_key,
    train_key,
    wanted_style,
)

# Seconds between webcam frames the page sends. 0.08, not 0.1: at 0.1 the page can never reach 10 frames a second
# (9.2-9.6 came back); at 0.08, 10.9 (quiet, two cores, `bench.fast --parts webcam --every`); frames that arrive
# while one is being painted are dropped by the server, so a slow machine gets fewer, not late, frames.
STREAM_EVERY = 0.08
DEFAULT_SIZE = 512
TRAIN_TERMS = ("total", "content", "style")
NO_BLEND = "No blend"
TRAIN_INTRO = ("The network learns to imitate the slow method on your photo alone (random crops, flips and sizes of "
               "it), so it works best on similar pictures; the shipped networks learnt from 30 photos. Watch its "
               "output improve; Stop keeps the best network so far.")
TRAIN_INTRO_GALLERY = ("Your painting becomes one more style of the gallery's network: its convolutions, learnt from "
                       "30 photos, stay as they are, and only your style's scales and shifts are learnt (on your "
                       "photo), so a usable network comes within minutes. Watch its output improve; Stop keeps the "
                       "best network so far, with the gallery's styles in it too.")


def model_choices(file_model: FastModel | None = None) -> list[tuple[str, str]]:
    """(label, value) of each style the shipped models hold (the gallery's title where it is a gallery style), then
    the model file's entries: one per style of the network in the box, or one saying where to get a network."""
    choices = [(style_title(name), name) for name in shipped_styles()]
    if file_model is None:
        return [*choices, ("The model file below (train or load one)", FILE_CHOICE)]
    if file_model.net.styles == 1:
        return [*choices, (f"Model file: {file_model.label}", FILE_CHOICE)]
    return [*choices, *((f"Model file: {style_title(entry.name)}", f"{FILE_CHOICE}:{entry.name}")
                        for entry in file_model.styles)]


def style_title(name: str) -> str:
    try:
        return get_style(name).title
    except NSTError:
        return name


def first_shipped() -> str | None:
    return next(iter(shipped_styles()), None)


def menu_for_file(file: Any, choice: Any) -> Any:
    """The menu once the model file box changed: a network in the box is named and picked (after a training the
    menu still named the shipped network while the picture came from the trained one); an emptied box hands the
    menu back to a shipped network."""
    if file:
        try:
            model = MODELS.get(file)
        except NSTError:
            return gr.skip()  # check_model_file says what is wrong with it
        choices = model_choices(model)
        value = FILE_CHOICE if model.net.styles == 1 else f"{FILE_CHOICE}:{wanted_style(model)}"
        return gr.update(choices=choices, value=value)
    return gr.update(choices=model_choices(),
                     value=first_shipped() if str(choice).startswith(FILE_CHOICE) else choice)


def blend_menu(choice: Any, file: Any, partner: Any) -> Any:
    """The "Blend with" menu: the other styles of the picked style's network (styles of two networks cannot
    mix), hidden where it holds one style; the partner is kept while it is still one of them."""
    try:
        holder, style = picked_style(choice, file)
        others = [entry.name for entry in MODELS.get(holder).styles if entry.name != style]
    except NSTError:
        others = []
    options = [(NO_BLEND, ""), *((style_title(name), name) for name in others)]
    return gr.update(choices=options, value=partner if partner in others else "", visible=bool(others))


def blend_controls(choice: Any, file: Any, partner: Any) -> tuple[Any, Any]:
    """(Blend with menu, blend slider): the slider shows while there is a style to blend with."""
    menu = blend_menu(choice, file, partner)
    return menu, gr.update(visible=bool(menu["value"]))


# --- what the tab puts in the history strip ------------------------------------------------------------------

def network(recipe: dict[str, Any]) -> str:
    """The network a result came from, by its style (a trained one's file by its name)."""
    model = recipe.get("refined_from") or recipe.get("fast_model") or {}
    return str(model.get("style") or model.get("file") or "?")


def instant_caption(recipe: dict[str, Any], step: int) -> str:
    return f"Fast: {network(recipe)}, {max(recipe.get('output_size', [0]))} px, one pass"


def instant_settings(recipe: dict[str, Any]) -> dict[str, Any]:
    return {"network": network(recipe), "size": max(recipe.get("output_size", [0]))}


def refine_caption(recipe: dict[str, Any], step: int) -> str:
    """A refined picture, or the fast one it starts from where Stop came before the first step."""
    size = max(recipe.get("output_size", [0]))
    return f"Refine: {network(recipe)}, {size} px, {run_length(recipe.get('settings', {}), step)}"


def refine_settings(recipe: dict[str, Any]) -> dict[str, Any]:
    return {**recipe.get("settings", {}), "network": network(recipe)}


def train_caption(recipe: dict[str, Any], step: int) -> str:
    return f"Train: a network for your painting, {recipe['settings']['training_seconds']:g} s, step {step}"


class FastTab:
    title, id = "Fast", "fast"

    def __init__(self, shared: Shared) -> None:
        self.limits = shared.limits
        self.jobs = FastJobs(shared)

    def layout(self) -> None:
        limits = self.limits
        choices = model_choices()
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                self.photo = UploadedImage(label="Photo", sources=["upload", "clipboard"], type="filepath",
                                           elem_id="fast-photo")
                # Custom values: the menu gains a model file's styles in the page, which the API's calls name too
                # (picked_style checks them).
                self.choice = gr.Dropdown(choices=choices, value=first_shipped(), allow_custom_value=True,
                                          label="Fast network (its style)", elem_id="fast-model")
                with gr.Row():
                    blend = blend_menu(first_shipped(), None, "")
                    self.partner = gr.Dropdown(choices=blend["choices"], value="", visible=blend["visible"],
                                               allow_custom_value=True,
                                               label="Blend with (a style of the same network)",
                                               elem_id="fast-blend-with")
                    self.mix = NumberSlider(0, 1, value=0.5, step=0.05, visible=False, elem_id="fast-blend",
                                            label="Blend (0: the style above, 1: the one beside)")
                self.model_file = gr.File(label="…or a model file (.pt): loaded here after training, downloadable",
                                          file_types=[".pt"], type="filepath", elem_id="fast-model-file")
                self.size = NumberSlider(64, limits.max_size, value=min(DEFAULT_SIZE, limits.max_size), step=32,
                                         label="Output size (px)", elem_id="fast-size")
            with gr.Column(scale=1, min_width=300):
                with gr.Row():
                    self.refine_btn = gr.Button("Refine (slow optimisation from this result)", elem_id="fast-refine")
                    self.stop_btn = gr.Button("Stop", variant="stop", elem_id="fast-stop")
                self.result = gr.Image(label="Result", format="webp", interactive=False, elem_id="fast-result")
                self.status = gr.Markdown("Add a photo: it is stylized instantly.", elem_id="fast-status")
                self.download = gr.File(label="Download the PNG (its recipe names the network)", interactive=False,
                                        elem_id="fast-download")
        with gr.Accordion("Live webcam through the network", open=False, elem_id="fast-webcam-box"):
            with gr.Row():
                self.camera = UploadedImage(sources=["webcam"], streaming=True, type="filepath", label="Webcam",
                                            elem_id="fast-webcam")
                self.live = gr.Image(label="Live", format="jpeg", interactive=False, elem_id="fast-live")
        with gr.Accordion("Train a fast network for this painting", open=False, elem_id="fast-train-box"):
            gr.Markdown(TRAIN_INTRO_GALLERY if gallery_base() else TRAIN_INTRO)
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=300):
                    self.painting = PaintingImage(label="Painting", type="filepath", elem_id="fast-painting")
                    self.gallery = gallery_items()
                    self.styles_gallery = gr.Gallery(value=self.gallery, label="Style gallery", columns=5,
                                                     height="auto", allow_preview=False, elem_id="fast-gallery",
                                                     object_fit="cover")
                # The training's column: Train above what it shows, all on one screen (Train was at the foot of
                # the painting's column, its output, status and chart a screen above it).
                with gr.Column(scale=1, min_width=300, elem_id="fast-train-output"):
                    self.seconds = NumberSlider(10, limits.train_seconds, value=min(120, limits.train_seconds), step=10,
                                                label="Training time (s)", elem_id="fast-seconds")
                    with gr.Row():
                        self.train_btn = gr.Button("Train", variant="primary", elem_id="fast-train")
                        self.train_stop = gr.Button("Stop", variant="stop", elem_id="fast-train-stop")
                    self.train_status = gr.Markdown("Ready.", elem_id="fast-train-status")
                    self.learning = gr.Image(label="The network's output on your photo", format="webp",
                                             interactive=False, elem_id="fast-learning")
                    self.chart = gr.LinePlot(x="step", y="loss", color="term", title="Training loss", height=220,
                                             elem_id="fast-chart",
                                             color_map={t: TERM_COLOURS[t] for t in TRAIN_TERMS})

    def wire(self, tabs: gr.Tabs) -> None:
        jobs = self.jobs
        instant = [self.photo, self.choice, self.model_file, self.size, self.partner, self.mix]
        shown = [self.result, self.status, self.download]
        # The menu and the model file box agree: a file in the box is the menu's pick (menu_for_file), and picking
        # a shipped network empties the box (a file in it would win: the API's fast_stylize uses a given file).
        # The menu's own changes are the box's doing, so only a visitor's pick (.input) restyles the photo.
        # No progress overlays: after a mistake they marked the picture, status and download "Error" (runner.reported).
        calm = {"show_progress": "hidden"}
        self.instant_events = [
            self.photo.change(jobs.stylize, instant, shown, api_name="fast_stylize", concurrency_limit=4, **calm),
            self.size.release(jobs.stylize, instant, shown, api_visibility="private", concurrency_limit=4, **calm),
            self.mix.release(jobs.stylize, instant, shown, api_visibility="private", concurrency_limit=4, **calm),
            self.partner.input(blend_controls, [self.choice, self.model_file, self.partner], [self.partner, self.mix],
                               api_visibility="private", **calm).then(
                jobs.stylize, instant, shown, api_visibility="private", concurrency_limit=4, **calm),
            self.choice.input(self.pick, instant, [self.model_file, *shown], api_visibility="private",
                              concurrency_limit=4, **calm),
            self.model_file.change(menu_for_file, [self.model_file, self.choice], self.choice,
                                   api_visibility="private", **calm).then(
                check_model_file, self.model_file, self.status, api_visibility="private", **calm).success(
                jobs.stylize, instant, shown, api_visibility="private", **calm),
        ]
        # Another network (picked, or a file dropped in) offers its own styles to blend with.
        self.choice.change(blend_controls, [self.choice, self.model_file, self.partner], [self.partner, self.mix],
                           api_visibility="private", **calm)
        # Each frame takes the blend as it is then: the slider moves the live picture between the two styles.
        live = [self.camera, self.choice, self.model_file, self.partner, self.mix]
        self.camera.stream(jobs.live, live, self.live, stream_every=STREAM_EVERY,
                           time_limit=self.limits.job_seconds, concurrency_limit=self.limits.queue_size,
                           api_name="fast_live")

        def pick_painting(evt: gr.SelectData) -> str:
            return self.gallery[evt.index][0]

        self.styles_gallery.select(pick_painting, None, self.painting, api_visibility="private")
        check_uploads(self.photo, "photo", reported_elsewhere=True)  # its picture's own event says why it fails
        check_uploads(self.painting, "painting", self.train_status)

        def train(photo: Any, painting: Any, seconds: float, request: gr.Request) -> Iterator[tuple]:
            """Train a fast network for `painting`, showing its output on `photo`, for at most `seconds`."""
            yield from jobs.train(photo, painting, seconds, request)

        def refine(photo: Any, choice: Any, model_file: Any, size: float, partner: Any, mix: float,
                   request: gr.Request) -> Iterator[tuple]:
            """The fast result, then the optimisation started from it."""
            yield from jobs.refine(photo, choice, model_file, size, partner, mix, request)

        self.train_event = run_button(self.train_btn, train, [self.photo, self.painting, self.seconds],
                                      [self.learning, self.train_status, self.chart, self.model_file],
                                      api_name="fast_train", concurrency_limit=self.limits.queue_size)
        self.refine_event = run_button(self.refine_btn, refine, instant, shown, api_name="fast_refine",
                                       concurrency_limit=self.limits.queue_size)
        self.train_btn.click(None, js=bring_into_view("fast-train-output", "fast-chart"), api_visibility="private")
        stop_button(self.train_stop, self.train_event, jobs.after_train_stop, [self.train_status, self.model_file])
        stop_button(self.stop_btn, self.refine_event, jobs.after_refine_stop, [self.status, self.download])

    def pick(self, photo: Any, choice: Any, file: Any, size: Any, partner: Any, mix: Any,
             request: gr.Request) -> Iterator[list]:
        """A network picked in the menu: (model file box, picture, status, download). A shipped one empties the box,
        whose change then restyles the photo; the model file's entry with an empty box says where to get one."""
        from_file = str(choice).startswith(FILE_CHOICE)
        if not from_file and file:
            yield [None, gr.skip(), gr.skip(), gr.skip()]
        elif from_file and not file:
            yield [gr.skip(), gr.skip(), "Train a network below, or drop a model file (.pt) in the box.", gr.skip()]
        else:
            for update in self.jobs.stylize(photo, choice, file, size, partner, mix, request):
                yield [gr.skip(), *update]

    def history(self) -> list[Result]:
        return [*(Result("fast", event, instant_key, instant_caption, instant_settings)
                  for event in self.instant_events),
                Result("refine", self.refine_event, refine_key, refine_caption, refine_settings),
                Result("train", self.train_event, train_key, train_caption)]
