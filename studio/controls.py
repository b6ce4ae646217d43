"""The Stylize tab's controls: ONE ordered spec from which everything else about them is derived.

From `CONTROLS` come the tab's input components (with their hints), the `/stylize` API's parameter names,
order and defaults, the conversion of their values into `Settings`, and the restoring of those values from
a recipe PNG. Ranges, defaults and help texts come from `nst_core.config.Settings`; this module only says how
each setting is shown (a log10 slider for a weight, a dropdown for a layer) and what this server allows.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from nst_core import NSTError, Settings, reach
from nst_core.backbones import SOURCES, arch_of_weights, is_cached
from nst_core.config import field_info
from nst_core.names import LAYER_CHOICES, block_of, layer_names

from .components import NumberSlider, PaintingImage, UploadedImage
from .limits import Limits

DEFAULTS = Settings()
IMAGE_HEIGHTS = {"paintings": 200, "blend": 140, "regions": 200}
REGION_NOTE = ("Each colour of the map and what paints it: 'painting 2' or 'painting 3' (the blend slots), or "
               "'photo' to keep the photo there; colours not named get the first painting. "
               "With a map the paintings are not blended.")

STRENGTH_NOTE = ("With a region map: how strongly this painting paints its regions (x the style weight). Move it "
                 "while a run paints, as the weights.")


@dataclass(frozen=True)
class Control:
    """One input of the Stylize tab and one parameter of /stylize, in the API's order."""

    name: str  # the API parameter
    label: str
    kind: str  # image, slider, log_slider, number, dropdown, radio, checkboxes, checkbox, text
    setting: str | None = None  # the Settings field it sets directly, if any
    low: float | None = None
    high: float | str | None = None  # a number, or the Limits field that bounds it on this server
    step: float | None = None
    group: str = "knobs"  # where the tab puts it: photo, paintings, blend, knobs, layers, advanced, chart
    default: Any = None  # in the control's own units; None: from Settings
    elem_id: str | None = None
    note: str | None = None  # the hint of a control that is no setting
    placeholder: str | None = None  # a text box's example

    def limit(self, limits: Limits) -> float | None:
        return getattr(limits, self.high) if isinstance(self.high, str) else self.high

    def initial(self, limits: Limits) -> Any:
        """The value the control starts at, in its own units."""
        if self.default is not None or self.setting is None:
            return self.default
        if self.name == "weights":
            return default_weights_choice()
        value = from_setting(self, getattr(DEFAULTS, self.setting))
        top = self.limit(limits)
        return min(value, top) if top is not None and self.kind == "slider" else value

    def hint(self) -> str | None:
        if self.setting is None:
            return self.note
        info = field_info(self.setting)
        text = info["help"]
        if info["useful"] is not None:
            low, high = info["useful"]
            if self.kind == "log_slider":
                text += (f" Useful range {math.log10(low):g} to {math.log10(high):g} on this log10 scale "
                         f"(a weight of {low:g} to {high:g}).")
            else:
                text += f" Useful range {low:g} to {high:g}."
        return text

    def component(self, limits: Limits) -> gr.components.Component:
        value, common = self.initial(limits), {"label": self.label, "info": self.hint(), "elem_id": self.elem_id}
        if self.kind == "image":
            if self.group == "photo":
                return UploadedImage(type="filepath", label=self.label, elem_id=self.elem_id, height=260,
                                     sources=["upload", "webcam", "clipboard"])
            if self.group == "regions":  # a map's colours name its regions: PNG, as Gradio's WebP shifts them
                return UploadedImage(type="filepath", label=self.label, elem_id=self.elem_id, format="png",
                                     height=IMAGE_HEIGHTS[self.group], sources=["upload", "clipboard"])
            return PaintingImage(type="filepath", label=self.label, elem_id=self.elem_id,
                                 height=IMAGE_HEIGHTS[self.group], sources=["upload", "clipboard"])
        if self.kind in ("slider", "log_slider"):
            return NumberSlider(self.low, self.limit(limits), value=value, step=self.step, **common)
        if self.kind == "number":
            # No precision: Gradio would round NaN/Inf into an unexplained error; Settings checks it with a sentence.
            return gr.Number(value=value, **common)
        if self.kind == "checkbox":
            return gr.Checkbox(value=bool(value), **common)
        if self.kind == "text":
            return gr.Textbox(value or "", placeholder=self.placeholder, **common)
        choices = self.choices()
        if self.kind == "checkboxes":
            return gr.CheckboxGroup(choices, value=list(value), **common)
        if self.kind == "radio":
            return gr.Radio(choices, value=value, **common)
        return gr.Dropdown(choices, value=value, **common)

    def choices(self) -> list[str] | list[tuple[str, str]]:
        if self.name == "weights":
            return weights_menu(every_source=True)
        return list(field_info(self.setting)["choices"])


CONTROLS: tuple[Control, ...] = (
    Control("content", "Your photo", "image", group="photo", elem_id="content"),
    Control("style", "Painting (pick below or upload)", "image", group="paintings", elem_id="style"),
    Control("iterations", "Iterations", "slider", "iterations", 1, "max_iterations", 1),
    Control("size", "Output size (px)", "slider", "size", 64, "max_size", 16),
    Control("style_2", "Second painting", "image", group="blend", elem_id="style-2"),
    Control("style_3", "Third painting", "image", group="blend", elem_id="style-3"),
    Control("blend", "Weight of the first painting", "slider", None, 0, 10, 0.1, "blend", 1.0),
    Control("blend_2", "Weight of the second", "slider", None, 0, 10, 0.1, "blend", 1.0),
    Control("blend_3", "Weight of the third", "slider", None, 0, 10, 0.1, "blend", 1.0),
    Control("style_weight_log10", "Style weight (log10)", "log_slider", "style_weight", 0, 4, 0.1),
    Control("content_weight_log10", "Content weight (log10)", "log_slider", "content_weight", -2, 2, 0.1),
    Control("tv_weight", "Total-variation weight", "number", "tv_weight", group="advanced"),
    Control("content_layer", "Content layer", "dropdown", "content_layer", group="layers"),
    Control("style_layers", "Style layers", "checkboxes", "style_layers", group="layers"),
    Control("layer_weights", "Per-layer style weights", "text", "style_layer_weights", group="advanced",
            placeholder="relu1_1=2, relu5_1=0.5"),
    Control("optimizer", "Optimiser", "radio", "optimizer", group="advanced"),
    Control("init", "Start from", "radio", "init", group="advanced"),
    Control("seed", "Seed", "number", "seed", group="advanced"),
    Control("preserve_color", "Keep the photo's colours", "radio", "preserve_color", group="layers"),
    Control("style_scale", "Style scale", "slider", "style_scale", 0.25, 2.0, 0.05, "layers"),
    Control("weights", "Network weights", "dropdown", "weights", group="advanced"),
    Control("preview_every", "Preview every N steps", "slider", "preview_every", 1, 100, 1, "advanced"),
    Control("show_layer_losses", "Show each style layer's loss", "checkbox", group="chart", default=False),
    Control("style_loss", "Style loss", "radio", "style_loss", group="advanced"),
    Control("depth_falloff", "Deeper layers weigh (falloff per layer block)", "slider", "depth_falloff", 0, 1, 0.05,
            "layers"),
    Control("fine_falloff", "Fine scales refine (falloff per layer block)", "slider", "fine_falloff", 0, 1, 0.05,
            "layers"),
    Control("border", "Image edges", "radio", "border", group="advanced"),
    Control("average_decay", "Average of recent steps (decay)", "slider", "average_decay", 0, 0.99, 0.01,
            "advanced"),
    Control("region_map", "Region map: painted above, or upload one (flat colours, the photo's shape)", "image",
            group="regions", elem_id="region-map"),
    Control("region_paintings", "What paints each colour", "text", group="regions", default="",
            elem_id="region-paintings", note=REGION_NOTE, placeholder="#0000ff=painting 2, #00ff00=photo"),
    *(Control(f"region_strength{suffix}", f"Strength of {ordinal} painting's regions", "slider", None, 0, 3, 0.1,
              "strengths", 1.0, elem_id=f"region-strength{suffix}", note=STRENGTH_NOTE)
      for suffix, ordinal in (("", "the first"), ("_2", "the second"), ("_3", "the third"))),
)
STRENGTHS = ("region_strength", "region_strength_2", "region_strength_3")  # by painting
BY_NAME = {c.name: c for c in CONTROLS}
API_NAMES = [c.name for c in CONTROLS]
# What a recipe can set again: every control that is a setting, in API order.
RESTORABLE = [c for c in CONTROLS if c.setting is not None]


# --- the weights menu: source names and the server's own file, never an arbitrary path --------------------
# Only what works here is offered: the server's NST_WEIGHTS file, sources in torch's hub cache ("ready": a look at
# the disk), sources to download on first use while their host can be reached (nst_core.reach, asked in the
# background), and untrained, a teaching option, last. Those that work without the internet come first (the first
# is the default).

READY = "ready"
# How to use the studio offline, for the sentence that says a source could not be fetched (runner.user_errors).
OFFLINE_WAY_OUT = (f"choose one marked {READY} under Network weights, or start the server with NST_WEIGHTS set "
                   "to a VGG weights file")
# What the page says when only the untrained network can run here (refresh_on_load).
UNTRAINED_ONLY = ("This server has no VGG weights and cannot reach the internet to fetch them, so it offers only the "
                  "untrained network, whose pictures are a teaching demo: to paint, start it with NST_WEIGHTS set "
                  "to a VGG weights file (README, Weights offline).")


def weights_menu(*, every_source: bool = False) -> list[tuple[str, str]]:
    """The Network weights options as (label, value): the value is what the API takes. `every_source`: the sources
    out of reach too, for a component's build-time choices (the API's vocabulary; Gradio would refuse any other
    value with words of its own), which the page narrows on load (`refresh_on_load`)."""
    local = os.environ.get("NST_WEIGHTS")
    named = [name for name in SOURCES if name != "untrained"]
    menu = [(f"local: {Path(local).name} ({READY}: this server's NST_WEIGHTS file)", f"local: {Path(local).name}")] \
        if local else []
    menu += [(f"{name} ({READY}: downloaded)", name) for name in named if is_cached(name)]
    menu += [(f"{name} (not downloaded: fetched on first use)", name) for name in named
             if not is_cached(name) and (every_source or reach.reachable(SOURCES[name].url))]
    return [*menu, (f"untrained ({READY}: random weights, nothing to download)", "untrained")]


def weights_choices() -> list[str]:
    """The Network weights options' values, in the menu's order."""
    return [value for _, value in weights_menu()]


def default_weights_choice() -> str:
    """The first option that works here: the default of the menu and of the API. With nothing local or downloaded
    it waits for the sources' host to answer (a few seconds at most, once), so it never depends on a race."""
    for name in SOURCES:
        if SOURCES[name].url and not is_cached(name):
            reach.reachable(SOURCES[name].url, wait=True)
    return weights_choices()[0]


def weights_now(layer_menus: int, status: bool) -> list:
    """The page-load updates of `refresh_on_load`: the menu as it is now, its default's layers for `layer_menus`
    menus, and (if `status`) the status line, which names the way out when the untrained network is all there is."""
    options = weights_menu()
    default = options[0][1]
    alone = default == "untrained"
    said = {"info": UNTRAINED_ONLY} if alone else {}
    told = [UNTRAINED_ONLY if alone else gr.skip()] if status else []
    layers = gr.update(choices=list(network_layers(default)))
    return [gr.update(choices=options, value=default, **said), *[layers] * layer_menus, *told]


def refresh_on_load(menu: gr.Dropdown, layer_menus: Iterable[gr.components.Component] = (),
                    status: gr.components.Component | None = None) -> None:
    """On each page load, the menu's options and default as they are now (a source downloaded since the server
    started is ready, one whose host went out of reach is gone: the page itself is built once); see weights_now."""
    layer_menus = list(layer_menus)
    shown = [menu, *layer_menus, *([status] if status is not None else [])]
    gr.on(None, lambda: weights_now(len(layer_menus), status is not None), None, shown, queue=False,
          show_progress="hidden", api_visibility="private")


# --- each network's layers: VGG-16 lacks relu3_4, relu4_4 and relu5_4 ------------------------------------------
# The components are built with VGG-19's layers (the API's choices, whatever its weights); the page offers the
# chosen network's only, and a run naming a layer its network lacks is refused before it queues.

def network_name(arch: str) -> str:
    return f"VGG-{arch.removeprefix('vgg')}"


def network_of(choice: Any) -> str:
    """vgg16 or vgg19: the network a Network weights option loads (vgg19 where that cannot be told: a file that is
    not a checkpoint says so when it loads)."""
    try:
        return arch_of_weights(weights_from_choice(choice)) or "vgg19"
    except NSTError:
        return "vgg19"


def network_layers(choice: Any) -> tuple[str, ...]:
    """The layers a Network weights option's network has."""
    return tuple(name for name in layer_names(network_of(choice)) if name.startswith("relu"))


def listed(names: Iterable[str], last: str) -> str:
    """["a", "b", "c"], "or" -> "a, b or c", in the network's order."""
    names = sorted(set(names), key=LAYER_CHOICES.index)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


def check_network_layers(weights: str, layers: Iterable[str]) -> None:
    """Refuse, with one sentence, layers the weights' network lacks."""
    arch = arch_of_weights(weights)
    if arch is None:
        return
    have = [n for n in layer_names(arch) if n.startswith("relu")]
    missing = [layer for layer in layers if layer not in have]
    if missing:
        raise NSTError(f"{network_name(arch)} has no layer {listed(missing, 'or')}; choose among {', '.join(have)}.")


def nearest_layer(layer: str, have: tuple[str, ...]) -> str:
    """The deepest layer of the same block the network has (relu4_4 -> relu4_3), else the default."""
    same = [name for name in have if block_of(name) == block_of(layer) and name <= layer]
    return same[-1] if same else DEFAULTS.content_layer


def network_change(choice: Any, content_layer: Any, style_layers: Any, *, label: str = "the content layer") -> tuple:
    """Another Network weights option: the layer menus offer its network's layers only; a chosen layer it lacks is
    replaced (content, called `label` in the note) or unticked (style), and the note (else gr.skip()) says so."""
    have = network_layers(choice)
    content = content_layer if content_layer in have else nearest_layer(str(content_layer), have)
    chosen = [layer for layer in (style_layers or ()) if layer in have]
    dropped = [layer for layer in (style_layers or ()) if layer not in have]
    if not chosen:
        chosen = [layer for layer in DEFAULTS.style_layers if layer in have]
    changes = []
    if dropped:
        verb = "is" if len(dropped) == 1 else "are"
        changes.append(f"{listed(dropped, 'and')} {verb} unticked from the style layers")
    if content != content_layer:
        changes.append(f"{label} is {content} instead of {content_layer}")
    note = gr.skip()
    if changes:
        missing = [layer for layer in [content_layer, *dropped] if layer not in have]
        note = f"{network_name(network_of(choice))} has no layer {listed(missing, 'or')}, so {', and '.join(changes)}."
    return gr.update(choices=list(have), value=content), gr.update(choices=list(have), value=chosen), note


def weights_from_choice(choice: Any) -> str:
    if choice in SOURCES:
        return choice
    local = os.environ.get("NST_WEIGHTS")
    if local and choice == f"local: {Path(local).name}":
        return local
    raise NSTError(f"Network weights must be one of {', '.join(weights_choices())}.")


def choice_from_weights_label(label: str) -> str | None:
    """A recipe's weights label (a source name or file:NAME) -> this server's menu entry, if it has one."""
    if label in SOURCES:
        return label
    wanted = f"local: {label.removeprefix('file:')}"
    return wanted if wanted in weights_choices() else None


# --- values <-> settings ------------------------------------------------------------------------------------

def parse_layer_weights(text: Any, layers: list[str]) -> tuple[float, ...] | None:
    """'relu1_1=2, relu4_1=0.5' -> one weight per chosen layer (1 where not given); '' -> None."""
    text = (text or "").strip() if isinstance(text, str) else text
    if not text:
        return None
    weights = dict.fromkeys(layers, 1.0)
    for part in str(text).replace(";", ",").split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in weights:
            raise NSTError(f"Per-layer weights look like 'relu1_1=2, relu4_1=0.5' and name chosen style layers; "
                           f"{part.strip()!r} does not.")
        try:
            weights[name] = float(value)
        except ValueError:
            raise NSTError(f"The weight for {name} must be a number, not {value.strip()!r}.") from None
    return tuple(weights.values())


def format_layer_weights(weights: tuple[float, ...] | None, layers: tuple[str, ...]) -> str:
    return "" if weights is None else ", ".join(f"{n}={w:g}" for n, w in zip(layers, weights))


def from_log(value: Any, control: Control) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise NSTError(f"{control.label} must be a finite number, not {value!r}.")
    return 10.0 ** float(value)


def from_setting(control: Control, value: Any) -> Any:
    """A setting's value in the control's units."""
    if control.kind == "log_slider":
        return round(math.log10(value), 3) if value > 0 else control.low
    if isinstance(value, tuple):
        return list(value)
    return value


# How a control's value becomes its setting, where it is more than the value itself.
TO_SETTING: dict[str, Callable[[Any, Control], Any]] = {
    "log_slider": from_log,
    "checkboxes": lambda value, _: tuple(value or ()),
}


def settings_from(values: dict[str, Any], limits: Limits) -> Settings:
    """The values of CONTROLS (by name) -> validated Settings, with this server's limits applied."""
    given: dict[str, Any] = {}
    for control in RESTORABLE:
        value = values[control.name]
        if control.name in ("layer_weights", "weights"):
            continue
        top = control.limit(limits)
        if top is not None and isinstance(value, (int, float)) and math.isfinite(value) and value > top:
            raise NSTError(f"{control.label} is limited to {top:g} on this server.")
        given[control.setting] = TO_SETTING.get(control.kind, lambda v, _: v)(value, control)
    given["style_layer_weights"] = parse_layer_weights(values["layer_weights"], list(given["style_layers"]))
    given["weights"] = weights_from_choice(values["weights"])
    blends = [values[b] for s, b in (("style", "blend"), ("style_2", "blend_2"), ("style_3", "blend_3"))
              if values[s] is not None]
    given["style_blend"] = tuple(blends) if len(blends) > 1 else None
    return Settings(**given, max_seconds=limits.job_seconds)


def restored_values(settings: Settings, weights_label: str) -> list[Any]:
    """Settings from a recipe -> a value (or gr.skip()) for each RESTORABLE control, in order."""
    values = []
    for control in RESTORABLE:
        value = getattr(settings, control.setting)
        if control.name == "layer_weights":
            values.append(format_layer_weights(value, settings.style_layers))
        elif control.name == "weights":
            choice = choice_from_weights_label(weights_label)
            values.append(choice if choice is not None else gr.skip())
        else:
            values.append(from_setting(control, value))
    return values


def defaults(limits: Limits) -> dict[str, Any]:
    """Every control's starting value, by name (the API's defaults too)."""
    return {c.name: c.initial(limits) for c in CONTROLS}


def api_signature(limits: Limits) -> inspect.Signature:
    """The /stylize signature: the controls in order, each with its default, then Gradio's request."""
    start = defaults(limits)
    params = [inspect.Parameter(c.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                default=inspect.Parameter.empty if c.name in ("content", "style") else start[c.name])
              for c in CONTROLS]
    params.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                    annotation=gr.Request))
    return inspect.Signature(params)
