"""The Stylize tab: a photo, a painting, Run, and the picture emerging beside its loss chart.

Its inputs come from the control spec (studio.controls); its handler only turns their values into Settings,
waits for a compute slot and streams the engine's events as frames.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd
import torch
from PIL import Image

from nst_core import NSTError, Settings
from nst_core.engine import Progress, check_paintings, make_recipe, plan_scales, resolve_backbone, stylize_iter
from nst_core.errors import NotDownloaded
from nst_core.fast.apply import instant_preview
from nst_core.features import pick_device
from nst_core.gallery import list_styles
from nst_core.images import decode_image, read_recipe
from nst_core.names import LAYER_CHOICES

from .. import controls
from ..controls import CONTROLS, RESTORABLE
from ..files import ServedFiles
from ..jobs import Frame, JobBoard, Keepsakes, on_gpu, session_of
from ..limits import Limits

ENABLE_RUN = "() => ({__type__: 'update', interactive: true})"
# On a phone the result is below the controls: bring it into view when Run is pressed.
SHOW_RESULT = """() => { const r = document.getElementById('result'); const box = r && r.getBoundingClientRect();
  if (box && (box.top < 0 || box.top > window.innerHeight / 2)) r.scrollIntoView({block: 'start'}); }"""
MARKER_GREY = "#9ca3af"
# With a colour map Gradio's chart draws only the series it names, so it names every one there can be.
LAYER_PALETTE = ("#7c3aed", "#a78bfa", "#db2777", "#f9a8d4", "#0891b2", "#67e8f9", "#22d3ee", "#155e75",
                 "#65a30d", "#bef264", "#84cc16", "#365314", "#ca8a04", "#fde047", "#eab308", "#713f12")
TERM_COLOURS = {"total": "#111827", "content": "#2563eb", "style": "#ea580c", "tv": "#16a34a",
                **dict(zip(LAYER_CHOICES, LAYER_PALETTE)),
                **{f"scale {k} starts": MARKER_GREY for k in range(2, 8)}}
UPDATE_INTERVAL = 0.1  # seconds between status/chart updates: Stop is honoured at the next one
PREVIEW_INTERVAL = 0.25  # at most 4 images a second: each is encoded, written and fetched by the browser
INSTANT_NOTE = ("A fast network's instant version of this painting (one pass, Fast tab); the optimisation "
                "starts as soon as a compute slot is free…")
SECONDS_PER_MEGAPIXEL_STEP = 0.02  # ZeroGPU reservation per step (GPU, bf16); generous against notes/performance.md


# --- the job (on ZeroGPU this runs in the GPU worker: plain values in, Frames out) ------------------------

def status_line(event: Progress) -> str:
    memory = ""
    if torch.cuda.is_available():
        memory = f" · GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
    head = "**Done**" if event.done else f"Step **{event.step}/{event.total}**"
    eta = "" if event.done else f" · about {event.eta:.0f} s to go"
    tiles = f" in {event.tiles} tiles" if event.tiles > 1 else ""
    text = (f"{head} · {event.rate:.2f} steps/s · {event.elapsed:.0f} s{eta} · {event.size[0]}×{event.size[1]} "
            f"(scale {event.scale} of {event.scales}{tiles}) · {event.device}{memory}")
    if event.message:
        text += f"\n\n{event.message}"
    return text


def chart_rows(event: Progress, settings: Settings, show_layers: bool) -> list[dict]:
    """The step's losses as chart rows: the total and each group of terms (TV only when it is on: the objective
    has no TV term when it is off), and each style layer when asked. A value that was not finite has no point."""
    terms = {"total": event.loss, **event.groups}
    if show_layers:
        terms.update({name.partition(":")[2]: value for name, value in event.terms.items()
                      if name.startswith("style:")})
    return [{"step": event.step, "loss": value, "term": term} for term, value in terms.items() if value is not None]


def gpu_seconds(content: Image.Image, styles: list, settings: Settings, show_layers: bool,
                init_image: Image.Image | None = None) -> int:
    """ZeroGPU seconds to reserve for a job: its steps at their pixel counts, within the server's job limit."""
    megapixels = settings.size ** 2 * 0.75 / 1e6
    return int(min(settings.max_seconds, 20 + settings.iterations * (0.004 + SECONDS_PER_MEGAPIXEL_STEP * megapixels)))


@on_gpu(duration=gpu_seconds)
def stylize_frames(content: Image.Image, styles: list[Image.Image], settings: Settings,
                   show_layers: bool, init_image: Image.Image | None = None) -> Iterator[Frame]:
    """The engine's events as Frames: a picture at most every PREVIEW_INTERVAL, the status and chart every
    UPDATE_INTERVAL, and the last event with the final picture and its recipe. `init_image`: where the
    optimisation starts instead of settings.init (the Fast tab's Refine)."""
    yield Frame("Loading the VGG weights (first run only, then they stay loaded)…")
    backbone = resolve_backbone(settings)
    rows: list[dict] = []
    last_update = last_image = 0.0
    scale, highest = 1, 0.0
    events = stylize_iter(content, styles, settings, backbone=backbone, init_image=init_image)
    try:
        for event in events:
            if event.step == 1:  # the chart draws only the series it saw first: name each scale's marker now
                rows += [{"step": 1, "loss": None, "term": f"scale {k} starts"} for k in range(2, event.scales + 1)]
            if event.scale != scale:  # a grey vertical line: the loss jumps when the image is enlarged
                scale = event.scale
                rows += [{"step": event.step - 0.5, "loss": y, "term": f"scale {scale} starts"} for y in (0, highest)]
            step_rows = chart_rows(event, settings, show_layers)
            highest = max([highest, *(row["loss"] for row in step_rows if math.isfinite(row["loss"]))])
            rows += step_rows
            now = time.monotonic()
            fresh = event.preview is not None and (event.done or now - last_image >= PREVIEW_INTERVAL)
            if not (fresh or event.done or now - last_update >= UPDATE_INTERVAL):
                continue
            last_update = now
            if fresh:
                last_image = now
            yield Frame(status_line(event), event.preview if fresh else None, tuple(rows), event.step, event.done,
                        dict(event.recipe) if event.recipe else None, event.output_size)
            rows = []
    finally:
        events.close()


# --- the handler (in the server process) --------------------------------------------------------------------

def user_error(error: NSTError) -> gr.Error:
    text = str(error)
    if isinstance(error, NotDownloaded):
        text = text.removesuffix(".") + "; choose another option under Network weights."
    return gr.Error(text, print_exception=False)


def join_board(board: JobBoard, session: str) -> str:
    """The session's ticket on the job board; one sentence if it already has a job (in any tab)."""
    ticket = board.join(session)
    if ticket is None:
        raise gr.Error("You already have a job running; stop it or wait for it to finish.", print_exception=False)
    return ticket


def stopped_download(keepsakes: Keepsakes, files: ServedFiles, key: str) -> tuple[str, Any]:
    """After Stop: (status, PNG) of the last picture kept under `key`, at the size the run was making (a stop
    during a coarse scale enlarges it and says so), its recipe saying at which step it stopped."""
    kept = keepsakes.last(key)
    if kept is None:
        return "Stopped.", gr.skip()
    image, recipe, output_size, step = kept
    note = ""
    if image.size != tuple(output_size):
        note = (f" It was stopped at a coarse scale ({image.size[0]}×{image.size[1]}), so the PNG is that "
                f"picture enlarged to {output_size[0]}×{output_size[1]}.")
        image = image.resize(tuple(output_size), Image.Resampling.BICUBIC)
    recipe = {**recipe, "stopped_at_step": step, "output_size": list(image.size)}
    return f"Stopped. The last image is kept; download it below.{note}", files.png(image, recipe)


class StylizeTab:
    """The tab's handlers, bound to this server's limits, job board, served files and keepsakes."""

    def __init__(self, limits: Limits, board: JobBoard, files: ServedFiles, keepsakes: Keepsakes) -> None:
        self.limits, self.board, self.files, self.keepsakes = limits, board, files, keepsakes

    def prepare(self, values: dict[str, Any]) -> tuple[Image.Image, list[Image.Image], Settings]:
        if values["content"] is None:
            raise NSTError("Add a content photo first.")
        if values["style"] is None:
            raise NSTError("Pick a style from the gallery or upload a painting.")
        settings = controls.settings_from(values, self.limits)
        content = decode_image(values["content"])
        styles = [decode_image(values[name]) for name in ("style", "style_2", "style_3") if values[name] is not None]
        check_paintings(styles, plan_scales(content.size, settings)[-1], settings)  # before the job queues
        pick_device(settings.device)
        return content, styles, settings

    def run(self, values: dict[str, Any], request: Any) -> Iterator[tuple]:
        """Stream (image, status, chart, download) updates for one job."""
        try:
            content, styles, settings = self.prepare(values)
        except NSTError as error:
            raise user_error(error) from None
        session = session_of(request)
        ticket = join_board(self.board, session)
        rows: list[dict] = []
        try:
            # Where a shipped fast network knows the painting, its picture comes at once, before the queue.
            instant = instant_preview(content, styles, settings)
            if instant is not None:
                picture, recipe = instant
                self.keepsakes.keep(session, picture, recipe, picture.size, 0)
                yield picture, INSTANT_NOTE, gr.skip(), gr.skip()
            self.keepsakes.begin(session)  # this run's frames make its time-lapse (the instant picture is not one)
            for waiting in self.board.wait_for_slot(ticket):
                yield gr.skip(), waiting, gr.skip(), gr.skip()
            for frame in stylize_frames(content, styles, settings, bool(values["show_layer_losses"])):
                rows += frame.rows
                chart = pd.DataFrame(rows, columns=["step", "loss", "term"]) if frame.rows else gr.skip()
                if frame.image is None:
                    yield gr.skip(), frame.status, chart, gr.skip()
                    continue
                recipe = frame.recipe or make_recipe(settings, content, styles, frame.output_size)
                self.keepsakes.keep(session, frame.image, recipe, frame.output_size, frame.step)
                download = self.files.png(frame.image, recipe) if frame.done else gr.skip()
                # A frame file of our own, written once: Gradio's would be rewritten while another session
                # downloads the same picture (the engine is deterministic, so two sessions can make one).
                yield self.files.frame(frame.image, "webp"), frame.status, chart, download
        except NSTError as error:
            raise user_error(error) from None
        finally:
            self.board.leave(ticket)

    def after_stop(self, request: gr.Request) -> tuple:
        """After Stop: the last picture stays on screen; offer it as a PNG at the size the run was making."""
        return stopped_download(self.keepsakes, self.files, session_of(request))

    def restore(self, file: Any) -> list:
        """A recipe PNG dropped in -> the controls it was made with."""
        recipe = read_recipe(file) if file else None
        values = (recipe or {}).get("settings")
        skip = [gr.skip()] * len(RESTORABLE)
        if not isinstance(values, dict):
            return [*skip, "That PNG carries no recipe (only images made here do)."]
        try:
            settings = Settings.from_dict({k: v for k, v in values.items() if k not in ("weights", "max_seconds")})
        except NSTError as error:
            return [*skip, f"The recipe could not be used: {error}"]
        restored = controls.restored_values(settings, str(values.get("weights", "")))
        return [*restored, "Settings restored from the recipe; add the photo and painting, then Run."]


def gallery_items() -> list[tuple[str, str]]:
    return [(str(s.path), s.title) for s in list_styles() if s.available]


class Built(NamedTuple):
    """What other parts of the page use: the tab's handlers, its controls by name and in API order, the status
    line, and the run's event (to follow it)."""

    tab: StylizeTab
    controls: dict[str, gr.components.Component]
    inputs: list[gr.components.Component]
    status: gr.Markdown
    run_event: Any


def build(limits: Limits, board: JobBoard, files: ServedFiles, keepsakes: Keepsakes) -> Built:
    """The tab's layout and events, inside the caller's gr.Blocks and gr.Tab."""
    tab = StylizeTab(limits, board, files, keepsakes)
    gallery = gallery_items()
    made: dict[str, gr.components.Component] = {}

    def place(group: str) -> None:
        for control in CONTROLS:
            if control.group == group:
                made[control.name] = control.component(limits)

    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            place("photo")
            place("paintings")
            styles_gallery = gr.Gallery(value=gallery, label="Style gallery", columns=5, height="auto",
                                        allow_preview=False, elem_id="gallery", object_fit="cover")
            with gr.Accordion("Blend up to three paintings", open=False):
                place("blend")
        with gr.Column(scale=1, min_width=300):
            with gr.Row(elem_id="actions"):
                run_btn = gr.Button("Run", variant="primary", elem_id="run")
                stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
            result = gr.Image(label="Result (updates live)", format="webp", interactive=False, elem_id="result")
            status = gr.Markdown("Ready.", elem_id="status")
            chart = gr.LinePlot(x="step", y="loss", color="term", title="Loss (lower is closer)", height=260,
                                elem_id="chart", color_map=TERM_COLOURS)
            place("chart")
            download = gr.File(label="Download the PNG (its recipe is stored inside)", elem_id="download",
                               interactive=False)
    with gr.Row():
        with gr.Column():
            place("knobs")
        with gr.Column():
            place("layers")
    with gr.Accordion("Advanced", open=False):
        with gr.Row():
            place("advanced")
        recipe_file = gr.File(label="Drop a recipe PNG here to restore its settings", file_types=[".png"],
                              type="filepath", elem_id="recipe")
    if gallery:
        gr.Examples([[path] for path, _ in gallery[:4]], inputs=[made["style"]], label="Example paintings",
                    cache_examples=False)
    ordered = [made[c.name] for c in CONTROLS]

    def pick_style(evt: gr.SelectData) -> str:
        return gallery[evt.index][0]

    styles_gallery.select(pick_style, None, made["style"], api_visibility="private")

    def stylize(*values: Any) -> Iterator[tuple]:
        *values, request = values  # Gradio passes the request where the signature below says
        yield from tab.run(dict(zip(controls.API_NAMES, values)), request)

    # The API's parameter names, order and defaults come from the control spec.
    stylize.__signature__ = controls.api_signature(limits)
    stylize.__annotations__ = {"request": gr.Request}
    stylize.__doc__ = "Stylize `content` in the style of `style` (optionally style_2 and style_3), streaming previews."
    outputs = [result, status, chart, download]
    # Clearing the chart also clears its legend, which otherwise kept the last run's series.
    run_event = run_btn.click(lambda: (gr.update(interactive=False), None, None), None, [run_btn, download, chart],
                              queue=False, api_visibility="private").then(
        stylize, ordered, outputs, api_name="stylize", concurrency_limit=limits.queue_size)
    # Gradio 6.31's page starts only .failure follow-ups after an error, never .then ones (Run stayed greyed
    # out after every refused input): both, in the browser alone, so a full queue cannot hold them up.
    run_event.then(None, None, run_btn, js=ENABLE_RUN, api_visibility="private")
    run_event.failure(None, None, run_btn, js=ENABLE_RUN, api_visibility="private")
    run_btn.click(None, js=SHOW_RESULT, api_visibility="private")
    stop_btn.click(None, None, None, cancels=[run_event], api_visibility="private").then(
        tab.after_stop, None, [status, download], api_visibility="private")
    recipe_file.upload(tab.restore, recipe_file, [made[c.name] for c in RESTORABLE] + [status],
                       api_visibility="private")
    return Built(tab, made, ordered, status, run_event)

