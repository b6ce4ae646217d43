"""The Explain tab: why style transfer works, shown live on the photo and painting of the Stylize tab.

Each view of `nst_core.explain` (layers, channel, reconstruct, texture, shuffle, compare, grid) runs through the
studio's job runner like a stylization (one job per visitor, Stop works, the server's limits hold), with a caption
to read aloud. One-click presets set up the classic experiments; a grid picture loads its settings into Stylize.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import gradio as gr

from nst_core import NSTError, Settings
from nst_core.engine import weights_label
from nst_core.explain import CAPTIONS, THIRD_IMAGE, VIEWS
from nst_core.explain.measures import STYLE_LAYERS
from nst_core.images import decode_image
from nst_core.names import LAYER_CHOICES
from nst_core.schedule import plan_scales, split_iterations

from .. import controls
from ..buttons import run_button, stop_button
from ..components import NumberSlider
from ..scroll import bring_into_view
from ..tab import Result, Shared
from .explain_job import DEFAULTS, LABELS, ExplainJob, explain_key
from .stylize import StylizeTab

CLICK = "() => document.getElementById('{}').click()"
FIRST_VIEW = "reconstruct"
# The "third picture" answer stays open above every view, so the compare caption here need not repeat it.
TAB_CAPTIONS = {**CAPTIONS, "compare": CAPTIONS["compare"].removesuffix(" " + THIRD_IMAGE)}
# Which of the tab's options each view uses; the others are hidden while it is chosen.
USED_BY = {"source": ("layers",), "layer": ("layers", "channel"), "channel": ("layers", "channel"),
           "layers": ("reconstruct",), "sets": ("texture",), "tiles": ("shuffle",), "rows": ("grid",),
           "steps": tuple(v for v in VIEWS if v != "layers")}
# The classic experiments, each a few seconds on two CPU cores: (label, view or "stylize", its values).
PRESETS = (
    ("Content from one layer", "reconstruct", {"layers": ["relu4_1"], "size": 96, "steps": 60}),
    ("Texture only", "texture", {"sets": "all", "size": 96, "steps": 60}),
    ("Style layers one at a time", "texture", {"sets": "single", "size": 64, "steps": 40}),
    ("Untrained network", "compare", {"size": 96, "steps": 30}),
    ("Start from noise", "stylize", {"init": "noise", "size": 128, "iterations": 40}),
)
# Loading a grid picture into Stylize keeps Stylize's own size (Run there gives the picture at that size) and how
# often it previews (which changes no pixel); every other setting is the cell's, its steps scaled by
# `loaded_iterations`. Stylize's own length made another picture: 150 steps where the cell had 30 let the
# painting cover the building the cell kept.
KEEP_ON_LOAD = ("size", "preview_every")
# The grid paints with the Stylize tab's first painting only; a second or third one would be blended in.
EXTRA_PAINTINGS = ("style_2", "style_3")


def loaded_iterations(cell: Settings, size: int, photo: tuple[int, int]) -> int:
    """Iterations for Stylize at `size` that give its coarsest scale as many steps as the cell's coarsest scale had.

    The coarsest scale (128 px or so, near a grid cell's size) settles the picture's large structures, and how much
    of the photo survives there follows its number of steps; coarse to fine then gives each finer scale a share of the
    steps of the one before, to refine it at its size (nst_core.schedule). The cell's steps unchanged would give the
    coarse scale fewer (20 of 30 at 256 px); Stylize's own 150 gave it 100, and the painting took over."""
    def coarsest_steps(plan: Settings) -> int:
        return split_iterations(plan.iterations, len(plan_scales(photo, plan)), plan.scale_step_ratio)[0]

    iterations = coarsest_steps(cell)
    while coarsest_steps(replace(cell, size=size, iterations=iterations)) < coarsest_steps(cell):
        iterations += 1
    return iterations


def view_updates(view: str, chosen: dict[str, Any] | None = None) -> list:
    """The view's caption, then each option shown or hidden (USED_BY's order), then the size: the view's own
    size and steps, and any `chosen` values (a preset's), set along the way."""
    chosen = {"size": DEFAULTS[view]["size"], "steps": DEFAULTS[view].get("steps"), **(chosen or {})}
    updates = [TAB_CAPTIONS[view]]
    for name in USED_BY:
        value = {"value": chosen[name]} if chosen.get(name) is not None else {}
        updates.append(gr.update(visible=view in USED_BY[name], **value))
    return [*updates, chosen["size"]]


class ExplainTab:
    """The tab; the photo and painting (and the controls a grid picture loads) are the Stylize tab's."""

    title, id = "Explain", "explain"

    def __init__(self, shared: Shared, stylize: StylizeTab) -> None:
        self.limits, self.stylize = shared.limits, stylize
        self.job = ExplainJob(shared, stylize.key)

    def layout(self) -> None:
        top_size, top_steps = min(self.limits.max_size, 512), min(self.limits.max_iterations, 400)
        start = DEFAULTS[FIRST_VIEW]
        # Run and the pictures come first (on a projector the tab opened on a screen of text, the pictures a screen
        # down and Run two); the explanations fold below them.
        with gr.Row(elem_id="explain-top"):
            self.view = gr.Radio([(LABELS[v], v) for v in VIEWS], value=FIRST_VIEW, label="What to show",
                                 elem_id="explain-view")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280, elem_id="explain-controls"):
                with gr.Row():
                    self.run_btn = gr.Button("Run", variant="primary", elem_id="explain-run")
                    self.stop_btn = gr.Button("Stop", variant="stop", elem_id="explain-stop")
                gr.Markdown("**Classic experiments, one click each** (a few seconds on two CPU cores):",
                            elem_id="presets-title")
                with gr.Column(elem_id="explain-presets"):
                    self.presets = [gr.Button(label, size="sm", elem_id=f"preset-{i}")
                                    for i, (label, _, _) in enumerate(PRESETS)]
                gr.Markdown("Uses the photo and the painting from the **Stylize** tab.", elem_id="explain-uses")
                self.options = {
                    "source": gr.Radio(["photo", "painting", "result"], value="photo", label="Look at",
                                       info="result: the Stylize tab's latest picture", visible=False),
                    "layer": gr.Dropdown(list(LAYER_CHOICES), value="relu3_1", label="Layer", visible=False,
                                         info="relu1_x: edges and colours … relu5_x: parts of things"),
                    "channel": gr.Textbox("", label="Channel", placeholder="the busiest", visible=False,
                                          info="a channel's number, or blank for the busiest one"),
                    "layers": gr.CheckboxGroup(list(STYLE_LAYERS), value=list(STYLE_LAYERS),
                                               label="Rebuild the photo from", visible=FIRST_VIEW == "reconstruct"),
                    "sets": gr.Radio([("growing: relu1_1, then adding one more", "growing"),
                                      ("one layer at a time", "single"), ("all five together", "all")],
                                     value="growing", label="Style layers", visible=False),
                    "tiles": NumberSlider(2, 16, value=4, step=1, label="Tiles per side", visible=False),
                    "rows": gr.Radio([("content layer", "content"), ("style layers", "style")], value="content",
                                     label="Grid rows vary the", visible=False),
                }
                self.size = NumberSlider(32, top_size, value=min(start["size"], top_size), step=16, label="Size (px)",
                                         info="small is quick: each view starts at a size that takes under a minute")
                self.options["steps"] = NumberSlider(1, top_steps, value=min(start["steps"], top_steps), step=1,
                                                     label="Steps", info="optimisation steps of each picture")
                self.weights = gr.Dropdown(controls.weights_menu(every_source=True),
                                           value=controls.default_weights_choice(),
                                           label="Network weights", info="compare: the trained network")
            with gr.Column(scale=3, min_width=320, elem_id="explain-output"):
                self.status = gr.Markdown("Pick a view and press Run.", elem_id="explain-status")
                self.panels = gr.Gallery(label="Pictures (they fill in live; click a grid picture to load it into "
                                         "Stylize)", columns=4, height="auto", object_fit="contain", allow_preview=True,
                                         elem_id="explain-panels")
                self.numbers = gr.Markdown("", elem_id="explain-numbers")
        with gr.Accordion("What this view shows", open=True, elem_id="explain-about"):
            self.caption = gr.Markdown(TAB_CAPTIONS[FIRST_VIEW], elem_id="explain-caption")
        with gr.Accordion("Where is the third picture?", open=True, elem_id="explain-why"):
            gr.Markdown(THIRD_IMAGE)
        self.cells = gr.State([])

    def wire(self, tabs: gr.Tabs) -> None:
        options, stylized = self.options, self.stylize
        start = DEFAULTS[FIRST_VIEW]
        view_outputs = [self.caption, *(options[name] for name in USED_BY), self.size]
        self.view.input(view_updates, self.view, view_outputs, queue=False, api_visibility="private")
        controls.refresh_on_load(self.weights, [options["layer"]], self.status)

        def network_change(choice: str, layer: str) -> tuple:
            """Another network: the layer menu offers its layers only; a chosen layer it lacks is replaced."""
            update, _, note = controls.network_change(choice, layer, [], label="the layer")
            return update, note

        self.weights.change(network_change, [self.weights, options["layer"]], [options["layer"], self.status],
                            queue=False, show_progress="hidden", api_visibility="private")

        def explain(view: str = FIRST_VIEW, content: Any = None, style: Any = None, source: str = "photo",
                    layer: str = "relu3_1", channel: str = "", layers: list[str] | None = None,
                    sets: str = "growing", tiles: float = 4, rows: str = "content", size: float = start["size"],
                    steps: float = start["steps"], weights: str | None = None,
                    request: gr.Request = None) -> Iterator[tuple]:
            """Show one teaching view (layers, channel, reconstruct, texture, shuffle, compare, grid), streaming its
            pictures, a status line, its numbers and, for grid, each picture's settings."""
            values = dict(view=view, content=content, style=style, source=source, layer=layer, channel=channel,
                          layers=list(STYLE_LAYERS) if layers is None else layers, sets=sets, tiles=tiles, rows=rows,
                          size=size, steps=steps, weights=weights or controls.default_weights_choice())
            yield from self.job.run(values, request)

        inputs = [self.view, stylized.controls["content"], stylized.controls["style"], options["source"],
                  options["layer"], options["channel"], options["layers"], options["sets"], options["tiles"],
                  options["rows"], self.size, options["steps"], self.weights]
        outputs = [self.panels, self.status, self.numbers, self.cells]
        self.run_event = run_button(self.run_btn, explain, inputs, outputs, api_name="explain", concurrency_limit=8)
        self.run_btn.click(None, js=bring_into_view("explain-output", "explain-panels"), api_visibility="private")
        stop_button(self.stop_btn, self.run_event,
                    lambda: "Stopped. The pictures so far stay; the history below keeps them.", [self.status])

        restorable = [stylized.controls[c.name] for c in controls.RESTORABLE]
        extra = [stylized.controls[name] for name in EXTRA_PAINTINGS]
        max_iterations = self.limits.max_iterations

        def load_cell(cells: list, size: float, photo: Any, evt: gr.SelectData) -> list:
            """A grid picture -> its settings in the Stylize tab (which is brought to the front)."""
            skip = [gr.skip()] * (len(restorable) + len(extra))
            settings = cells[evt.index] if isinstance(cells, list) and 0 <= evt.index < len(cells) else None
            if not isinstance(settings, dict):
                return [*skip, gr.skip(), gr.skip(), gr.skip()]
            try:
                chosen = Settings.from_dict({k: v for k, v in settings.items() if k != "max_seconds"})
                shape = decode_image(photo).size if photo is not None else (int(size), int(size))
                iterations = min(loaded_iterations(chosen, int(size), shape), max_iterations)
            except NSTError as error:
                return [*skip, gr.skip(), f"That picture's settings could not be loaded: {error}", gr.skip()]
            values = controls.restored_values(replace(chosen, iterations=iterations), weights_label(chosen))
            values = [gr.skip() if c.setting in KEEP_ON_LOAD else v for c, v in zip(controls.RESTORABLE, values)]
            note = (f"Loaded from the grid: style weight {chosen.style_weight:g}, content layer "
                    f"{chosen.content_layer}, style layers {', '.join(chosen.style_layers)}, {iterations} iterations "
                    f"(the cell's {chosen.iterations}, scaled for {int(size)} px), the first painting only. Press Run "
                    "for the same picture at this size.")
            return [*values, *[None] * len(extra), gr.Tabs(selected=stylized.id), "Loaded into the Stylize tab.",
                    note]

        self.panels.select(load_cell, [self.cells, stylized.controls["size"], stylized.controls["content"]],
                           [*restorable, *extra, tabs, self.status, stylized.status], api_visibility="private")

        for button, (_, target, values) in zip(self.presets, PRESETS):
            if target == "stylize":
                chosen = [stylized.controls[name] for name in values]
                button.click(lambda v=values: [*v.values(), gr.Tabs(selected=stylized.id)], None, [*chosen, tabs],
                             queue=False, api_visibility="private").then(
                    None, js=CLICK.format(stylized.run_btn.elem_id), api_visibility="private")
                continue
            button.click(lambda t=target, v=values: [t, *view_updates(t, v)], None, [self.view, *view_outputs],
                         queue=False, api_visibility="private").then(
                None, js=CLICK.format(self.run_btn.elem_id), api_visibility="private")

    def history(self) -> list[Result]:
        return [Result(self.id, self.run_event, explain_key, self.job.caption)]
