"""The Explain tab's job: one teaching view streamed as frames, and the handler that runs it for a visitor.

On ZeroGPU `view_frames` runs in the GPU worker: plain values in (PIL images, numbers, strings), Frames of PIL
images and plain dicts out. The handler (server process) checks the inputs, runs the view through the job runner,
writes each panel once into the served files, and keeps the view's contact sheet for the history and the
time-lapse.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr
from PIL import Image

from nst_core import NSTError
from nst_core.explain import INPUTS, VIEWS
from nst_core.explain.render import contact_sheet
from nst_core.images import decode_image
from nst_core.names import LAYER_CHOICES

from .. import controls
from ..jobs import Frame, session_of
from ..runner import Throttle, status_update
from ..tab import Shared, amount
from ..zerogpu import on_gpu

LABELS = {"layers": "What each layer sees", "channel": "What a channel looks for",
          "reconstruct": "Content from each layer", "texture": "Style from growing layer sets",
          "shuffle": "Style forgets layout", "compare": "Why a trained network", "grid": "The knobs, as a grid"}
# Each view's own defaults (the engine's), so the sliders start where the view is quick.
DEFAULTS = {view: {name: p.default for name, p in inspect.signature(fn).parameters.items()
                   if p.default is not inspect.Parameter.empty} for view, fn in VIEWS.items()}
COLUMNS = {"layers": 2, "channel": 2, "reconstruct": 4, "texture": 4, "shuffle": 5, "compare": 4, "grid": 3}
PANEL_INTERVAL = 0.35  # at most ~3 panel updates a second: each changed panel is encoded, written and fetched
SHEET_TILE = 160  # the contact sheet kept for the history and the time-lapse

Checked = tuple[str, list[Image.Image | None], dict[str, Any]]  # the view, its pictures, its options


def explain_key(session: str) -> str:
    """The keepsakes key of a session's Explain runs (its Stylize result stays under the session itself)."""
    return session + "/explain"


# --- the job (on ZeroGPU this runs in the GPU worker) -------------------------------------------------------

def gpu_seconds(view: str, pictures: list, options: dict, seconds: float) -> int:
    return int(min(seconds, 120))


@on_gpu(duration=gpu_seconds, on_cpu=None)  # views pick their device themselves
def view_frames(view: str, pictures: list[Image.Image | None], options: dict[str, Any],
                seconds: float) -> Iterator[Frame]:
    """The view's events as Frames, as often as a Throttle allows (panels at most every PANEL_INTERVAL, and when
    they change); the view is closed after `seconds`, keeping what it has drawn."""
    started = time.monotonic()
    throttle = Throttle(picture=PANEL_INTERVAL)
    sent: tuple[int, ...] = ()
    events = VIEWS[view](*pictures, **options)
    try:
        for event in events:
            late = time.monotonic() - started >= seconds
            shown = tuple(id(p.image) for p in event.panels)
            # The last frame always carries the panels: an API call that reads only the result gets them all.
            due = throttle.due(picture=shown != sent or event.done or late, last=event.done or late)
            if not due.send:
                continue
            panels = None
            if due.picture:
                sent = shown
                panels = [(p.name, p.title, p.image, dict(p.settings) if p.settings else None) for p in event.panels]
            status = event.status
            if late and not event.done:
                status = f"Stopped at this server's {seconds:g} s limit; these are the pictures so far."
            yield Frame(status, step=event.step, done=event.done or late,
                        meta={"panels": panels, "numbers": dict(event.numbers), "total": event.total})
            if late:
                return
    finally:
        events.close()


# --- the handler (in the server process) ----------------------------------------------------------------------

class ExplainJob:
    """The tab's handler; `result_key(session)`: where the Stylize tab keeps the session's latest picture."""

    def __init__(self, shared: Shared, result_key: Callable[[str], str]) -> None:
        self.limits, self.runner = shared.limits, shared.runner
        self.files, self.keepsakes = shared.files, shared.keepsakes
        self.result_key = result_key

    def pictures(self, view: str, values: dict[str, Any], session: str) -> list[Image.Image | None]:
        """The pictures the view takes, in order, from the Stylize tab's photo and painting (or its result)."""
        found = []
        for role in INPUTS[view]:
            if role == "image":
                role = {"photo": "photo", "painting": "painting", "result": "result"}.get(values["source"])
                if role is None:
                    raise NSTError("Look at the photo, the painting or the result.")
            if role == "result":
                kept = self.keepsakes.last(self.result_key(session))
                if kept is None:
                    raise NSTError("There is no result yet: run the Stylize tab first, or look at the photo.")
                found.append(kept[0])
                continue
            value = values["content" if role == "photo" else "style"]
            if value is None:
                if view == "channel":  # its photo only shows where the channel fires
                    found.append(None)
                    continue
                where = "Your photo" if role == "photo" else "Painting"
                raise NSTError(f"Add a {role} first (in the Stylize tab, under \u201c{where}\u201d).")
            found.append(decode_image(value))
        return found

    def options(self, view: str, values: dict[str, Any]) -> dict[str, Any]:
        """The view's keyword options from the tab's controls, checked against this server's limits."""
        size, steps = whole(values["size"], "Size"), whole(values["steps"], "Steps")
        if not 32 <= size <= min(self.limits.max_size, 512):
            raise NSTError(f"Size must be between 32 and {min(self.limits.max_size, 512)} px here, not {size}.")
        if not 1 <= steps <= self.limits.max_iterations:
            raise NSTError(f"Steps must be between 1 and {self.limits.max_iterations} here, not {steps}.")
        chosen: dict[str, Any] = {"size": size, "weights": controls.weights_from_choice(values["weights"])}
        if view != "layers":
            chosen["steps"] = steps
        if view in ("layers", "channel"):
            if values["layer"] not in LAYER_CHOICES:
                raise NSTError(f"Layer must be one of {', '.join(LAYER_CHOICES)}.")
            controls.check_network_layers(chosen["weights"], [values["layer"]])
            chosen["layer"] = values["layer"]
            channel = str(values["channel"] or "").strip()
            if channel:
                if not channel.isdigit():
                    raise NSTError(f"Channel must be a whole number, or blank for the busiest one, not {channel!r}.")
                chosen["channel"] = int(channel)
        if view == "reconstruct":
            layers = [layer for layer in LAYER_CHOICES if layer in (values["layers"] or ())]
            if not layers:
                raise NSTError("Tick at least one layer to rebuild the photo from.")
            chosen["layers"] = tuple(layers)
        if view == "texture":
            chosen["sets"] = values["sets"]
        if view == "shuffle":
            chosen["tiles"] = whole(values["tiles"], "Tiles")
        if view == "grid":
            chosen["rows"] = values["rows"]
        return chosen

    def run(self, values: dict[str, Any], request: Any) -> Iterator[tuple]:
        """Stream (panels, status, numbers, cell settings) updates for one view."""
        view, session = values["view"], session_of(request)  # the view is one of VIEWS: its radio refuses others

        def check() -> Checked:
            options = self.options(view, values)
            return view, self.pictures(view, values, session), options

        return self.runner.stream(request, check, self.frames, waiting=status_update(1, 4))

    def frames(self, checked: Checked, session: str) -> Iterator[tuple]:
        view, pictures, options = checked
        # The last view's pictures and numbers stay until this view's first ones replace them: a view that fails
        # (weights that cannot be loaded) leaves them, as a refused one does.
        key = explain_key(session)
        self.keepsakes.begin(key)
        recipe = {"view": view, "settings": {"view": view, **{k: list(v) if isinstance(v, tuple) else v
                                                               for k, v in options.items() if k != "weights"}}}
        shown_numbers = None
        served: dict[int, tuple[Image.Image, str]] = {}  # the shown panels' files: an unchanged one is not re-encoded
        for frame in view_frames(view, pictures, options, self.limits.job_seconds):
            panels, numbers = frame.meta["panels"], frame.meta["numbers"]
            table = numbers_markdown(view, numbers) if numbers != shown_numbers else gr.skip()
            shown_numbers = numbers
            if panels is None:
                yield gr.skip(), frame.status, table, gr.skip()
                continue
            sheet = contact_sheet([(title, image) for _, title, image, _ in panels], tile=SHEET_TILE)
            self.keepsakes.keep(key, sheet, recipe, sheet.size, frame.step, total=frame.meta["total"])
            served = {id(image): served.get(id(image)) or (image, self.files.frame(image, "webp"))
                      for _, _, image, _ in panels}  # holding each image keeps its id from being reused
            gallery = [(served[id(image)][1], title) for _, title, image, _ in panels]
            cells = [cell for _, _, _, cell in panels]
            # The view's class sizes its pictures (studio.css): the grid's three rows fit one screen.
            yield (gr.update(value=gallery, columns=COLUMNS[view], elem_classes=[f"view-{view}"]), frame.status, table,
                   cells)

    @staticmethod
    def caption(recipe: dict[str, Any], step: int) -> str:
        """A few words about a view's contact sheet in the strip."""
        settings = recipe.get("settings", {})
        return f"Explain: {LABELS.get(settings.get('view'), 'a view')}, {settings.get('size', '?')} px"


def whole(value: Any, label: str) -> int:
    """A slider's value as an int (its own check has already refused non-numbers and values out of range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value):
        raise NSTError(f"{label} must be a whole number, not {value!r}.")
    return int(value)


def layer_set(name: str) -> str:
    """A texture panel's name as the layers it used: to_relu3_1 -> relu1_1 … relu3_1."""
    if name.startswith("to_"):
        return f"relu1_1 … {name[3:]}"
    return {"all5": "all five layers"}.get(name, name)


def numbers_markdown(view: str, numbers: dict[str, Any]) -> str:
    """The view's numbers as a small table a class can read."""
    if not numbers:
        return ""
    if view == "reconstruct":
        rows = [f"| {name} | {n['psnr_db']:.1f} dB | {n['relu4_2_to_photo']:.3f} |" for name, n in numbers.items()]
        return ("| rebuilt from | pixel match (higher is closer) | content distance to the photo |\n|---|---|---|\n"
                + "\n".join(rows))
    if view == "texture":
        rows = [f"| {layer_set(name)} | {n['gram_distance']:.3f} |" for name, n in numbers.items()]
        return "| layers | style (Gram) distance to the painting |\n|---|---|\n" + "\n".join(rows)
    if view == "shuffle":
        text = (f"Shuffling changed the **content by {numbers['content_change']:.2f}** and the "
                f"**style by {numbers['gram_change']:.3f}**: {numbers['content_over_gram']:.0f} times less.")
        if "textures_gram_distance" in numbers:
            text += f" The two textures differ in style by {numbers['textures_gram_distance']:.3f}."
        return text
    if view == "compare":
        rows = [f"| {name} | {n['content_distance']:.3f} | {n['style_distance']:.3f} |" for name, n in numbers.items()
                if isinstance(n, dict)]
        return ("| network | content distance to the photo | style distance to the painting |\n|---|---|---|\n"
                + "\n".join(rows)) if rows else ""
    if view == "grid":
        rows = [f"| {name} | {n['content_loss']:.3f} | {n['style_loss']:.3f} |"
                for name, n in numbers.get("cells", {}).items()]
        return ("| cell | content loss | style loss |\n|---|---|---|\n" + "\n".join(rows)) if rows else ""
    if view == "layers":
        text = f"{numbers['layer']} has **{numbers['channels']} channels**"
        if "top_channels" in numbers:
            text += "; the busiest are " + ", ".join(f"#{c}" for c in numbers["top_channels"][:8])
        if "strongest_pairs" in numbers:
            text += "; the pairs that fire together most: " + ", ".join(
                f"#{a} and #{b}" for a, b in numbers["strongest_pairs"])
        return text + "."
    if view == "channel":
        start = amount(numbers["start_activation"])
        text = f"Channel {numbers['channel']} of {numbers['layer']} fires {start} on noise"
        if "end_activation" in numbers:
            text += f" and **{amount(numbers['end_activation'])}** on the grown picture"
        if "photo_activation" in numbers:
            text += f" ({amount(numbers['photo_activation'])} on average over your photo)"
        return text + "."
    return ""
