"""The optimisation as a studio job, for every tab that runs it (Stylize, its comparison, the Fast tab's Refine).

`checked_inputs` turns the Stylize tab's control values into the job's inputs in the server process;
`stylize_frames` is the job: on ZeroGPU it runs in the GPU worker, plain values in, Frames out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import torch
from PIL import Image

from nst_core import NSTError, Settings
from nst_core.engine import Progress, check_paintings, plan_scales, resolve_backbone, stylize_iter
from nst_core.features import pick_device
from nst_core.images import decode_image
from nst_core.regions import RegionPlan, make_plan, parse_colour, read_recorded
from nst_core.schedule import split_iterations
from nst_core.steering import STRENGTH, Steering
from nst_core.timelapse import film_every

from . import controls
from .batches import Batches
from .jobs import Frame
from .limits import Limits
from .runner import Throttle
from .zerogpu import on_gpu

# One engine step on a GPU by the pixels it optimises, measured on an H200 (docs/gpu.md; the step before it was
# graphed, so an upper bound): 512x384 9.5 ms, 1024x768 15.7 ms, 2048x1536 148 ms (tiled).
MEASURED_GPU_STEPS = ((512 * 384, 0.0095), (1024 * 768, 0.0157), (2048 * 1536, 0.148))
# ZeroGPU lends a slice of an H200 (its default device is "H200 MIG 3g.71gb": 3 of 7 parts), so a step there may
# take about twice as long; and a call cut short loses the visitor's picture, so the margin is generous.
ZERO_GPU_MARGIN = 3.0
START_SECONDS = 15  # the weights onto the GPU, the painting's targets, the first kernels
ZERO_GPU_MAX_CALL = 120  # seconds a free call may declare; a job asking for more would be refused
CPU_FALLBACK_SIDE = 512  # the largest picture the CPU paints when ZeroGPU refuses a job


def checked_inputs(values: dict[str, Any], limits: Limits) -> tuple[Image.Image, list[Image.Image], Settings]:
    """(photo, paintings, settings) from the Stylize tab's values, checked against this server's limits."""
    if values["content"] is None:
        raise NSTError("Add a content photo first.")
    if values["style"] is None:
        raise NSTError("Pick a style from the gallery or upload a painting.")
    settings = controls.settings_from(values, limits)
    controls.check_network_layers(settings.weights, [settings.content_layer, *settings.style_layers])
    content = decode_image(values["content"])
    styles = [decode_image(values[name]) for name in ("style", "style_2", "style_3") if values[name] is not None]
    check_paintings(styles, plan_scales(content.size, settings)[-1], settings)  # before the job queues
    pick_device(settings.device)
    return content, styles, settings


PAINTING_WORDS = {"painting 1": 0, "painting 2": 1, "painting 3": 2}
ORDINALS = ("first", "second", "third")


def checked_regions(values: dict[str, Any], content: Image.Image, styles: list[Image.Image]) -> RegionPlan | None:
    """The region map and "#rrggbb=painting 2, #00ff00=photo" as a plan (None without a map); one sentence for
    what does not fit."""
    text = (values.get("region_paintings") or "").strip() if isinstance(values.get("region_paintings"), str) else ""
    if values.get("region_map") is None:
        if text:
            raise NSTError("Add a region map (flat colours over the photo's shape) for the colours you named.")
        return None
    named: dict[tuple[int, int, int], tuple[int, ...]] = {}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        colour, sep, what = part.partition("=")
        what = " ".join(what.lower().split())
        if not sep or (what != "photo" and what not in PAINTING_WORDS):
            raise NSTError(f"Each colour looks like '#0000ff=painting 2' or '#00ff00=photo'; {part!r} does not.")
        if what == "photo":
            named[parse_colour(colour)] = ()
            continue
        index = PAINTING_WORDS[what]
        if index >= len(styles):
            raise NSTError(f"There is no {ORDINALS[index]} painting: add it under Blend up to three paintings.")
        named[parse_colour(colour)] = (index,)
    plan = make_plan(decode_image(values["region_map"]), content.size, named, (0,))
    return plan.with_strengths(strengths_by_colour(plan, [values.get(name, 1.0) for name in controls.STRENGTHS]))


def strengths_by_colour(plan: RegionPlan, strengths: list[Any]) -> dict[str, float]:
    """The strength sliders (one a painting) -> the strength of each region painted by that painting alone."""
    by_colour = {}
    for region in plan.regions:
        if len(region.paintings) == 1 and region.paintings[0] < len(strengths):
            value = strengths[region.paintings[0]]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise NSTError("A region's strength is a number between 0 and 3.")
            by_colour[region.label] = float(value)
    return by_colour


def recipe_regions(recorded: Any) -> tuple[Image.Image, str, float, float, float] | None:
    """A recipe's regions (RegionPlan.to_recipe) as the Regions section's map, text and each painting's strength,
    the inverse of checked_regions; None where they cannot be read or the studio cannot name them (a region painted
    by a blend, or by a fourth painting: the command line can make those)."""
    try:
        region_map, regions, _ = read_recorded(recorded)
    except NSTError:
        return None
    parts, strengths = [], [1.0, 1.0, 1.0]
    for region in reversed(regions):  # the first region of a painting gives its strength
        if region.keeps_photo:
            parts.append(f"{region.label}=photo")
        elif len(region.paintings) == 1 and region.paintings[0] in PAINTING_WORDS.values():
            parts.append(f"{region.label}=painting {region.paintings[0] + 1}")
            strengths[region.paintings[0]] = region.strength
        else:
            return None
    return region_map, ", ".join(reversed(parts)), *strengths


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


STEERED = "weights moved"  # the chart's marker series for a change of weights during a run


def steered_note(changes: dict[str, float], step: int) -> str:
    """'Style weight 6000, the #3b82f6 region's strength 0.5 from step 41.' for the status line."""
    words = ", ".join(f"the {name.removeprefix(STRENGTH)} region's strength {value:g}" if name.startswith(STRENGTH)
                      else f"{name.replace('_', ' ')} {value:g}" for name, value in changes.items())
    return f"{words[0].upper()}{words[1:]} from step {step}."


def chart_rows(event: Progress, show_layers: bool) -> list[dict]:
    """The step's losses as chart rows: the total and each group of terms (TV only when it is on: the objective
    has no TV term when it is off), and each style layer when asked. A value that was not finite has no point."""
    terms = {"total": event.loss, **event.groups}
    if show_layers:
        terms.update({name.partition(":")[2]: value for name, value in event.terms.items()
                      if name.startswith("style:")})
    return [{"step": event.step, "loss": value, "term": term} for term, value in terms.items() if value is not None]


def gpu_step_seconds(pixels: int) -> float:
    """Seconds of one step at `pixels`, from MEASURED_GPU_STEPS: linear between them, the first below them (a
    small step costs its launches, not its pixels), proportional to the pixels above them."""
    (low, low_seconds), *_ = MEASURED_GPU_STEPS
    if pixels <= low:
        return low_seconds
    for (a, a_seconds), (b, b_seconds) in zip(MEASURED_GPU_STEPS, MEASURED_GPU_STEPS[1:]):
        if pixels <= b:
            return a_seconds + (b_seconds - a_seconds) * (pixels - a) / (b - a)
    top, top_seconds = MEASURED_GPU_STEPS[-1]
    return top_seconds * pixels / top


def gpu_seconds(content: Image.Image, styles: list, settings: Settings, show_layers: bool,
                init_image: Image.Image | None = None, film: bool = False, **_: Any) -> int:
    """ZeroGPU seconds to declare for a job (it is called with the job's arguments): its steps at each scale's
    pixels, with the margin and the start, within the server's job limit and one free call."""
    sizes = plan_scales(content.size, settings)
    shares = split_iterations(settings.iterations, len(sizes), settings.scale_step_ratio)
    steps = sum(count * gpu_step_seconds(width * height) for (width, height), count in zip(sizes, shares))
    return math.ceil(min(settings.max_seconds or math.inf, ZERO_GPU_MAX_CALL,
                         START_SECONDS + ZERO_GPU_MARGIN * steps))


def stylize_on_cpu(content: Image.Image, styles: list, settings: Settings, *rest: Any, **options: Any
                   ) -> tuple[tuple, dict, str]:
    """The job for the CPU when ZeroGPU refuses it: on the CPU, at most CPU_FALLBACK_SIDE px."""
    side = min(settings.size, CPU_FALLBACK_SIDE)
    change = f" at {side} px" if side < settings.size else ""
    return (content, styles, replace(settings, device="cpu", size=side), *rest), options, change


@on_gpu(duration=gpu_seconds, on_cpu=stylize_on_cpu)
def stylize_frames(content: Image.Image, styles: list[Image.Image], settings: Settings,
                   show_layers: bool, init_image: Image.Image | None = None, film: bool = False,
                   steering: Steering | None = None, regions: RegionPlan | None = None,
                   batches: Batches | None = None) -> Iterator[Frame]:
    """The engine's events as Frames, as often as a Throttle allows, and the last event with the final picture and
    its recipe. `init_image`: where the optimisation starts instead of settings.init (the Fast tab's Refine).

    `film`: a short run's time-lapse gets more frames than its previews (nst_core.timelapse.film_every); those
    pictures come as quiet Frames, meta {"film": picture} and nothing else, for the film alone. The previews shown
    stay every settings.preview_every steps, and the recipe says so.

    `steering`: weights moved during the run (the page's sliders); the chart marks each change with a line and the
    status line says what changed from which step. `batches`: where runs of one shape are computed together (a GPU
    server; never on ZeroGPU, where this runs in a process of its own)."""
    yield Frame("Loading the VGG weights (first run only, then they stay loaded)…")
    backbone = resolve_backbone(settings)
    rows: list[dict] = []
    throttle = Throttle()
    scale, highest = 1, 0.0
    every = film_every(settings.iterations, settings.preview_every) if film else settings.preview_every
    run = batches.events if batches is not None else stylize_iter
    events = run(content, styles, replace(settings, preview_every=every), backbone=backbone,
                 init_image=init_image, steering=steering, regions=regions)
    changed = ""
    try:
        for event in events:
            if event.step == 1:  # the chart draws only the series it saw first: name each marker now
                rows += [{"step": 1, "loss": None, "term": f"scale {k} starts"} for k in range(2, event.scales + 1)]
                rows += [{"step": 1, "loss": None, "term": STEERED}] if steering is not None else []
            if event.scale != scale:  # a grey vertical line: the loss jumps when the image is enlarged
                scale = event.scale
                rows += [{"step": event.step - 0.5, "loss": y, "term": f"scale {scale} starts"} for y in (0, highest)]
            if event.steered:  # the loss jumps too when a weight moves
                rows += [{"step": event.step - 0.5, "loss": y, "term": STEERED} for y in (0, highest)]
                changed = f"\n\n{steered_note(event.steered, event.step)}"
            step_rows = chart_rows(event, show_layers)
            highest = max([highest, *(row["loss"] for row in step_rows if math.isfinite(row["loss"]))])
            rows += step_rows
            preview = event.preview is not None and (event.step % settings.preview_every == 0 or event.step == 1
                                                     or event.done)
            due = throttle.due(picture=preview, last=event.done)
            if film and event.preview is not None and not due.picture:  # a picture for the film alone
                yield Frame("", step=event.step, meta={"film": event.preview})
            if not due.send:
                continue
            recipe = None
            if event.recipe:
                recipe = dict(event.recipe)
                recipe["settings"] = {**recipe["settings"], "preview_every": settings.preview_every}
            yield Frame(status_line(event) + changed, event.preview if due.picture else None, tuple(rows), event.step,
                        event.done, recipe, event.output_size)
            rows = []
    finally:
        events.close()
