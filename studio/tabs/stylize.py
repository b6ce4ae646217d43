"""The Stylize tab: a photo, a painting, Run, and the picture emerging beside its loss chart.

Its inputs come from the control spec (studio.controls); its handler only turns their values into the job's
inputs and streams the job's frames (studio.stylize_job) through the job runner. The comparison of two style
losses is a section of this tab (tabs/compare.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
from PIL import Image

from nst_core import NSTError, Settings
from nst_core.engine import make_recipe
from nst_core.fast.apply import instant_preview
from nst_core.images import read_recipe
from nst_core.lru import LRU
from nst_core.regions import RegionPlan
from nst_core.steering import STRENGTH, Steering

from .. import controls
from ..buttons import run_button, stop_button
from ..charts import TERM_COLOURS, loss_table
from ..components import check_uploads, gallery_items
from ..controls import CONTROLS, RESTORABLE
from ..jobs import session_of
from ..keepsakes import stopped_download
from ..region_brushes import RegionBrushes, outlined
from ..runner import status_update
from ..scroll import bring_into_view
from ..stylize_job import checked_inputs, checked_regions, recipe_regions, strengths_by_colour, stylize_frames
from ..tab import Result, Shared, amount, run_length
from .compare import Compare

# When Run is pressed, the run's column (Run, the status line, the picture, the chart) is brought into view unless
# it is all in view already: on a phone it is below the controls, on a laptop the chart was below the screen.
SHOW_RESULT = bring_into_view("stylize-output", "chart")
GALLERY_TARGETS = {"the painting": "style", "painting 2": "style_2", "painting 3": "style_3"}
INSTANT_NOTE = ("A fast network's instant version of this painting (one pass, Fast tab); the optimisation "
                "starts as soon as a compute slot is free…")

# photo, paintings, settings, chart each layer, regions
Inputs = tuple[Image.Image, list[Image.Image], Settings, bool, RegionPlan | None]


class StylizeTab:
    title, id = "Stylize", "stylize"

    def __init__(self, shared: Shared) -> None:
        self.limits, self.runner = shared.limits, shared.runner
        self.files, self.keepsakes = shared.files, shared.keepsakes
        self.batches = shared.batches if shared.batches.size > 1 else None
        self.compare = Compare(shared)
        self.steering: dict[str, Steering] = {}  # the running job's, by session: the sliders steer it
        self.running_plans: dict[str, RegionPlan | None] = {}  # the running job's regions, by session
        self.brushes = RegionBrushes()
        self.replays: LRU[str, list[dict]] = LRU(256)  # a restored recipe's schedule, by session, for its next run
        # The preview's overlay: whether a session shows its regions' borders on the result, and the regions of
        # the run that made its last picture.
        self.overlays: LRU[str, bool] = LRU(256)
        self.shown_regions: LRU[str, RegionPlan | None] = LRU(256)

    # --- the handlers -------------------------------------------------------------------------------------------

    @staticmethod
    def key(session: str) -> str:
        """Where a session's Stylize pictures are kept (the Explain tab looks at the latest one)."""
        return session

    def run(self, values: dict[str, Any], request: Any) -> Iterator[tuple]:
        """Stream (image, status, chart, download) updates for one job."""

        def check() -> Inputs:
            content, styles, settings = checked_inputs(values, self.limits)
            regions = checked_regions(values, content, styles)
            return content, styles, settings, bool(values["show_layer_losses"]), regions

        return self.runner.stream(request, check, self.frames, waiting=status_update(1, 4), first=self.instant)

    def instant(self, inputs: Inputs, session: str) -> Iterator[tuple]:
        """Where a shipped fast network knows the painting, its picture comes at once, before the queue."""
        content, styles, settings, _, regions = inputs
        instant = instant_preview(content, styles, settings) if regions is None else None
        if instant is not None:
            picture, recipe = instant
            self.keepsakes.keep(self.key(session), picture, recipe, picture.size, 0)
            yield picture, INSTANT_NOTE, None, None  # the last run's chart and download are not this picture's
        # This run's frames make its time-lapse (the instant picture is not one of them).
        self.keepsakes.begin(self.key(session))

    def steer(self, style_log10: Any, content_log10: Any, tv_weight: Any, request: gr.Request) -> None:
        """A weight moved on the page: the session's running job takes it from its next step (issue 23). With no
        job running it is just the next run's setting; a value the settings refuse waits for Run to say so."""
        steering = self.steering.get(self.key(session_of(request)))
        if steering is None:
            return
        try:
            steering.set(style_weight=controls.from_log(style_log10, controls.BY_NAME["style_weight_log10"]),
                         content_weight=controls.from_log(content_log10, controls.BY_NAME["content_weight_log10"]),
                         tv_weight=float(tv_weight))
        except (NSTError, TypeError, ValueError):
            pass

    def steer_strengths(self, first: Any, second: Any, third: Any, request: gr.Request) -> None:
        """A region strength slider moved: the running job's regions painted by that painting take it."""
        strengths = [first, second, third]
        key = self.key(session_of(request))
        steering, plan = self.steering.get(key), self.running_plans.get(key)
        if steering is None or plan is None:
            return
        try:
            steering.set(**{STRENGTH + label: value for label, value in strengths_by_colour(plan, strengths).items()})
        except (NSTError, TypeError, ValueError):
            pass

    def frames(self, inputs: Inputs, session: str) -> Iterator[tuple]:
        # A restored recipe's weight changes are replayed once, by the next run; the sliders steer it as well.
        key = self.key(session)
        steering = self.steering[key] = Steering(self.replays.pop(key) or ())
        self.running_plans[key] = inputs[4]
        try:
            yield from self.painted(inputs, session, steering)
        finally:
            if self.steering.get(key) is steering:
                del self.steering[key], self.running_plans[key]

    def painted(self, inputs: Inputs, session: str, steering: Steering) -> Iterator[tuple]:
        content, styles, settings, show_layers, regions = inputs
        rows: list[dict] = []
        fresh = False
        for frame in stylize_frames(content, styles, settings, show_layers, film=True, steering=steering,
                                    regions=regions, batches=self.batches):
            if "film" in frame.meta:  # a short run's picture for its time-lapse alone
                self.keepsakes.film_only(self.key(session), frame.meta["film"], frame.step, settings.iterations)
                continue
            if not fresh and (frame.rows or frame.image is not None):
                # The last run's chart and download go when this run has its own: not before (a run that fails
                # loading its weights leaves them with the last picture), nor after (they would pass for this
                # run's). Emptying the chart also empties its legend, which otherwise kept the last run's series.
                fresh = True
                yield gr.skip(), frame.status, None, None
            rows += frame.rows
            chart = loss_table(rows) if frame.rows else gr.skip()
            if frame.image is None:
                yield gr.skip(), frame.status, chart, gr.skip()
                continue
            recipe = frame.recipe or make_recipe(settings, content, styles, frame.output_size, regions)
            if not frame.recipe and steering.applied:  # a Stop keeps this picture: its recipe has the changes
                recipe["schedule"] = list(steering.applied)
            self.keepsakes.keep(self.key(session), frame.image, recipe, frame.output_size, frame.step)
            self.shown_regions.put(self.key(session), regions)
            download = self.files.png(frame.image, recipe) if frame.done else gr.skip()
            yield self.shown(session, frame.image), frame.status, chart, download

    def shown(self, session: str, picture: Image.Image) -> str:
        """The preview of `picture`, with its regions' borders when the session asked for them. A frame file of our
        own, written once: Gradio's would be rewritten while another session downloads the same picture (the
        engine is deterministic, so two sessions can make one)."""
        regions = self.shown_regions.get(self.key(session))
        if self.overlays.get(self.key(session)) and regions is not None:
            picture = outlined(picture, regions.labels)
        return self.files.frame(picture, "webp")

    def toggle_overlay(self, show: bool, request: gr.Request) -> Any:
        """The overlay checkbox: the last picture again, with or without its regions' borders (the next frames of a
        running job follow it too)."""
        session = session_of(request)
        self.overlays.put(self.key(session), bool(show))
        kept = self.keepsakes.last(self.key(session))
        return self.shown(session, kept[0]) if kept is not None else gr.skip()

    def after_stop(self, request: gr.Request) -> tuple:
        """After Stop: the last picture stays on screen; offer it as a PNG at the size the run was making."""
        return stopped_download(self.keepsakes, self.files, self.key(session_of(request)))

    def restore(self, file: Any, request: gr.Request) -> list:
        """A recipe PNG dropped in -> the controls it was made with, its region map, and its weight schedule for
        the session's next Run (so the picture can be made again)."""
        recipe = read_recipe(file) if file else None
        values = (recipe or {}).get("settings")
        skip = [gr.skip()] * (len(RESTORABLE) + 2 + len(controls.STRENGTHS))
        if not isinstance(values, dict):
            return [*skip, "That PNG carries no recipe (only images made here do)."]
        try:
            settings = Settings.from_dict({k: v for k, v in values.items() if k not in ("weights", "max_seconds")})
            schedule = list(recipe.get("schedule") or [])
            Steering(schedule)  # its checks
        except (NSTError, KeyError, TypeError, ValueError, AttributeError) as error:
            reason = error if isinstance(error, NSTError) else "its weight changes could not be read."
            return [*skip, f"The recipe could not be used: {reason}"]
        restored = controls.restored_values(settings, str(values.get("weights", "")))
        said = ["Settings restored from the recipe"]
        regions = recipe_regions(recipe["regions"]) if "regions" in recipe else None
        if regions is not None:
            said.append("its region map too")
        elif "regions" in recipe:
            said.append("not its regions (a blend or a fourth painting per region: the command line's --recipe "
                        "makes those)")
        session = self.key(session_of(request))
        self.replays.pop(session)
        if schedule:
            self.replays.put(session, schedule)
            said.append(f"the next Run moves the weights as that run did ({len(schedule)} change"
                        f"{'s' if len(schedule) > 1 else ''})")
        region_values = list(regions) if regions is not None else [None, "", 1.0, 1.0, 1.0]
        return [*restored, *region_values, "; ".join(said) + ". Add the photo and paintings, then Run."]

    @staticmethod
    def caption(recipe: dict[str, Any], step: int) -> str:
        """A few words about a result in the strip: the settings a class would compare, and how far it ran."""
        settings = recipe.get("settings", {})
        style = amount(settings.get("style_weight", 0))  # the log10 slider's 2.778 is a weight of 599.791
        return (f"Stylize: style {style}, content {settings.get('content_layer', '?')}, "
                f"{settings.get('size', '?')} px, {run_length(settings, step)}")

    # --- the tab ----------------------------------------------------------------------------------------------

    def layout(self) -> None:
        self.gallery = gallery_items()
        self.controls: dict[str, gr.components.Component] = {}

        def place(group: str) -> None:
            for control in CONTROLS:
                if control.group == group:
                    self.controls[control.name] = control.component(self.limits)

        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                place("photo")
                place("paintings")
                self.styles_gallery = gr.Gallery(value=self.gallery, label="Style gallery", columns=5, height="auto",
                                                 allow_preview=False, elem_id="gallery", object_fit="cover")
                # Regions and blends use up to three paintings: a pick from the gallery goes where this says.
                self.gallery_target = gr.Radio(list(GALLERY_TARGETS), value=next(iter(GALLERY_TARGETS)),
                                               label="A gallery pick becomes", elem_id="gallery-target")
                with gr.Accordion("Blend up to three paintings", open=False):
                    place("blend")
                with gr.Accordion("Regions: which painting goes where", open=False):
                    self.brushes.layout()
                    place("regions")
                    place("strengths")
            # The run's column: the status line (step, time left) above the picture, so both stay in view.
            with gr.Column(scale=1, min_width=300, elem_id="stylize-output"):
                with gr.Row(elem_id="actions"):
                    self.run_btn = gr.Button("Run", variant="primary", elem_id="run")
                    self.stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
                self.status = gr.Markdown("Ready.", elem_id="status")
                self.result = gr.Image(label="Result (updates live)", format="webp", interactive=False,
                                       elem_id="result")
                self.chart = gr.LinePlot(x="step", y="loss", color="term", title="Loss (lower is closer)", height=260,
                                         elem_id="chart", color_map=TERM_COLOURS)
                place("chart")
                # Below the chart, as the per-layer checkbox: above it, it pushed the chart off a laptop's screen.
                self.overlay = gr.Checkbox(label="Show the regions' borders on the result", value=False,
                                           elem_id="regions-overlay")
                self.download = gr.File(label="Download the PNG (its recipe is stored inside)", elem_id="download",
                                        interactive=False)
        with gr.Row():
            with gr.Column():
                place("knobs")
            with gr.Column():
                place("layers")
        with gr.Accordion("Advanced", open=False):
            with gr.Row():
                place("advanced")
            self.recipe_file = gr.File(label="Drop a recipe PNG here to restore its settings", file_types=[".png"],
                                       type="filepath", elem_id="recipe")
        if self.gallery:
            gr.Examples([[path] for path, _ in self.gallery[:4]], inputs=[self.controls["style"]],
                        label="Example paintings", cache_examples=False)
        self.inputs = [self.controls[c.name] for c in CONTROLS]  # in the API's order
        self.compare.layout()

    def wire(self, tabs: gr.Tabs) -> None:
        def pick_style(target: str, evt: gr.SelectData) -> list:
            chosen = GALLERY_TARGETS.get(target, "style")
            return [self.gallery[evt.index][0] if name == chosen else gr.skip() for name in GALLERY_TARGETS.values()]

        self.styles_gallery.select(pick_style, self.gallery_target,
                                   [self.controls[name] for name in GALLERY_TARGETS.values()],
                                   api_visibility="private")
        for name, what in (("content", "photo"), ("style", "painting"), ("style_2", "second painting"),
                           ("style_3", "third painting"), ("region_map", "region map")):
            check_uploads(self.controls[name], what, self.status)
        # The layer menus offer the chosen network's layers only (VGG-16 lacks relu3_4, relu4_4 and relu5_4).
        layers = [self.controls["content_layer"], self.controls["style_layers"]]
        self.brushes.wire(*(self.controls[name] for name in ("content", "style_2", "region_map", "region_paintings")))
        controls.refresh_on_load(self.controls["weights"], layers, self.status)
        self.controls["weights"].change(controls.network_change, [self.controls["weights"], *layers],
                                        [*layers, self.status], queue=False, show_progress="hidden",
                                        api_visibility="private")

        def stylize(*values: Any) -> Iterator[tuple]:
            *values, request = values  # Gradio passes the request where the signature below says
            yield from self.run(dict(zip(controls.API_NAMES, values)), request)

        # The API's parameter names, order and defaults come from the control spec.
        stylize.__signature__ = controls.api_signature(self.limits)
        stylize.__annotations__ = {"request": gr.Request}
        stylize.__doc__ = ("Stylize `content` in the style of `style` (optionally style_2 and style_3), streaming "
                           "previews.")
        self.run_event = run_button(self.run_btn, stylize, self.inputs,
                                    [self.result, self.status, self.chart, self.download], api_name="stylize",
                                    concurrency_limit=self.limits.queue_size, prepare=self.brushes.before_run)
        self.run_btn.click(None, js=SHOW_RESULT, api_visibility="private")
        stop_button(self.stop_btn, self.run_event, self.after_stop, [self.status, self.download])
        weights = [self.controls[name] for name in ("style_weight_log10", "content_weight_log10", "tv_weight")]
        gr.on([weights[0].release, weights[1].release, weights[2].submit, weights[2].blur], self.steer, weights,
              None, queue=False, show_progress="hidden", api_visibility="private")
        strengths = [self.controls[name] for name in controls.STRENGTHS]
        gr.on([slider.release for slider in strengths], self.steer_strengths, strengths, None, queue=False,
              show_progress="hidden", api_visibility="private")
        self.overlay.change(self.toggle_overlay, self.overlay, self.result, queue=False, show_progress="hidden",
                            api_visibility="private")
        regions = [self.controls[name] for name in ("region_map", "region_paintings", *controls.STRENGTHS)]
        self.recipe_file.upload(self.restore, self.recipe_file, [self.controls[c.name] for c in RESTORABLE] +
                                [*regions, self.status], api_visibility="private")
        self.compare.wire(self.inputs)

    def history(self) -> list[Result]:
        return [Result(self.id, self.run_event, self.key, self.caption)]
