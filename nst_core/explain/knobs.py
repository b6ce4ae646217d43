"""Whole stylizations side by side: the trained network against an untrained one (`compare`), and a grid of
the style/content ratio against the content layer or the style layers (`grid`, Gatys et al.'s figure 3).

Every picture is a run of `nst_core.engine.stylize_iter`; the runs advance one step each in turn.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from ..backbones import VGGFeatures
from ..config import Settings, default_weights
from ..engine import plan_scales, resolve_backbone, stylize_iter
from ..errors import SettingsError
from ..features import FeatureExtractor, pick_device
from ..images import ImageSource, decode_image, fitted_size, resize_to
from .events import Sheet, ViewEvent, round_robin
from .measures import CONTENT_LAYER, STYLE_LAYERS, STYLE_LOSS, Yardstick

GRID_ROWS = {
    "content": ("relu2_2", "relu3_2", "relu4_2"),  # the content layer, shallow to deep
    "style": (STYLE_LAYERS[:1], STYLE_LAYERS[:3], STYLE_LAYERS),  # the style layers: up to relu1_1, 3_1, 5_1
}
GRID_STYLE_WEIGHTS = (1.0, 10.0, 100.0)  # the content weight stays 1, so these are the style/content ratios
# compare's job, pinned rather than taken from the Stylize defaults (which have moved since it was tuned). At style
# weight 1 against the content weight 3 the trained network only rebuilt the photo, speckled with the noise it
# started from, and the untrained one, which matches little but the painting's colours, came out nearer the
# painting's style by the trained network's own measure. At 50, with enough smoothing to clear the speckle the
# network cannot see, the trained network paints the photo within the studio preset's 30 steps.
COMPARE_STYLE_WEIGHT = 50.0
COMPARE_CONTENT_WEIGHT = 3.0
COMPARE_DEPTH_FALLOFF = 0.35
COMPARE_TV_WEIGHT = 60.0


def compare(photo: ImageSource, painting: ImageSource, *, size: int = 128, steps: int = 60, init: str = "noise",
            style_weight: float = COMPARE_STYLE_WEIGHT, seed: int = 0, weights: str | None = None,
            backbone: VGGFeatures | None = None, untrained: VGGFeatures | None = None) -> Iterator[ViewEvent]:
    """The same job on the trained network and on an untrained (random) one, both judged by the trained one.

    From noise (the default) the difference is plainest: the photo itself is not there to start from. The job
    (COMPARE_*) is heavy enough on style that the trained network reaches the painting's style, by its own measure,
    within the few steps a classroom waits for, and smooth enough that the photo shows through clean.
    """
    photo, painting = decode_image(photo), decode_image(painting)
    plan = Settings(size=size, iterations=steps, init=init, style_weight=style_weight, seed=seed, style_loss=STYLE_LOSS,
                    content_weight=COMPARE_CONTENT_WEIGHT, depth_falloff=COMPARE_DEPTH_FALLOFF,
                    tv_weight=COMPARE_TV_WEIGHT,
                    preview_every=max(1, steps // 25),
                    weights=weights or default_weights())
    random_plan = replace(plan, weights="untrained")
    trained = backbone or resolve_backbone(plan)
    untrained = untrained or resolve_backbone(random_plan)
    sheet = Sheet("compare", steps * 2)
    shape = plan_scales(photo.size, plan)[-1]
    sheet.put("photo", "the photo", resize_to(photo, shape))
    sheet.put("painting", "the painting", resize_to(painting, fitted_size(painting.size, max(shape))))
    yield sheet.event("Starting the same job on both networks")
    runs = {"trained": stylize_iter(photo, painting, plan, backbone=trained),
            "untrained": stylize_iter(photo, painting, random_plan, backbone=untrained)}
    titles = {"trained": "trained network", "untrained": "untrained (random) network"}
    finals = {}
    for name, event in round_robin(runs):
        sheet.step += 1
        if event.preview is not None:
            sheet.put(name, titles[name], event.preview, (plan if name == "trained" else random_plan).to_dict())
        if event.done:
            finals[name] = event.preview
        yield sheet.event(f"Step {event.step} of {event.total} on the {titles[name]}")
    yield sheet.event("Judging both results with the trained network")
    ruler = Yardstick(FeatureExtractor(trained, pick_device("auto"), "fp32"), finals["trained"].size)
    reference_photo = resize_to(photo, finals["trained"].size)
    for name, picture in finals.items():
        sheet.numbers[name] = {"content_distance": round(ruler.content_distance(picture, reference_photo), 4),
                               "style_distance": round(ruler.gram_distance(picture, painting), 5)}
    yield sheet.event(f"Done: {compare_verdict(sheet.numbers['trained'], sheet.numbers['untrained'])}", done=True)


def compare_verdict(trained: dict[str, float], untrained: dict[str, float]) -> str:
    """What the two pictures' distances show, in words that agree with them: the lesson when the trained
    network's picture is nearer both the photo's content and the painting's style, else what the table says."""
    nearer = {what: trained[key] < untrained[key] for what, key in
              (("the photo's content", "content_distance"), ("the painting's style", "style_distance"))}
    if all(nearer.values()):
        return "only the trained network knows what the photo shows and how the painting is painted."
    if not any(nearer.values()):
        return ("this time the untrained network's picture measures nearer both the photo and the painting than "
                "the trained one's (the table): too few steps for the trained one to get far; try more.")
    won, lost = (what for what in sorted(nearer, key=lambda what: not nearer[what]))
    return (f"the trained network's picture is nearer {won}, but the untrained one's measures nearer {lost} "
            "here (the table); try more steps.")


def grid_cells(rows: str, style_weights: Sequence[float], base: Settings) -> list[tuple[str, str, Settings]]:
    """(name, title, settings) of each cell, row by row."""
    if rows not in GRID_ROWS:
        raise SettingsError(f"Grid rows must be content (the content layer) or style (the style layers), not {rows!r}.")
    if not style_weights or len(style_weights) > 5:
        raise SettingsError("Give between one and five style weights for the grid's columns.")
    cells = []
    for row in GRID_ROWS[rows]:
        for weight in style_weights:
            if rows == "content":
                plan, where, title = replace(base, style_weight=weight, content_layer=row), row, f"content {row}"
            else:
                plan = replace(base, style_weight=weight, style_layers=row)
                where = row[0] if len(row) == 1 else f"to_{row[-1]}"
                title = f"style {row[0]}" if len(row) == 1 else f"style {row[0]} … {row[-1]}"
            cells.append((f"style{weight:g}_{where}", f"x{weight:g}, {title}", plan))
    return cells


def grid(photo: ImageSource, painting: ImageSource, *, rows: str = "content",
         style_weights: Sequence[float] = GRID_STYLE_WEIGHTS, size: int = 96, steps: int = 30, seed: int = 0,
         weights: str | None = None, backbone: VGGFeatures | None = None) -> Iterator[ViewEvent]:
    """Small stylizations for every (row, style weight) pair, filling in together."""
    photo, painting = decode_image(photo), decode_image(painting)
    base = Settings(size=size, iterations=steps, seed=seed, preview_every=max(1, steps // 10), content_weight=1.0,
                    style_loss=STYLE_LOSS,
                    weights=weights or default_weights())  # content 1: the columns are the style/content ratios
    cells = grid_cells(rows, style_weights, base)
    model = backbone or resolve_backbone(base)
    model.check_layers([CONTENT_LAYER, *GRID_ROWS["content"], *STYLE_LAYERS])
    sheet = Sheet("grid", steps * len(cells))
    sheet.numbers.update({"rows": rows, "columns": [float(w) for w in style_weights], "cells": {}})
    titles = {name: title for name, title, _ in cells}
    plans = {name: plan for name, _, plan in cells}
    yield sheet.event(f"Starting {len(cells)} small runs")
    runs = {name: stylize_iter(photo, painting, plan, backbone=model) for name, plan in plans.items()}
    for name, event in round_robin(runs):
        sheet.step += 1
        if event.preview is not None:
            sheet.put(name, titles[name], event.preview, plans[name].to_dict())
        losses = event.groups if event.done else {}
        # A cell whose last loss was not finite (that step rolled back) has no numbers; its picture still shows.
        if losses and None not in (losses["content"], losses["style"]):
            plan = plans[name]
            sheet.numbers["cells"][name] = {"content_loss": round(losses["content"] / plan.content_weight, 5),
                                            "style_loss": round(losses["style"] / plan.style_weight, 5)}
        yield sheet.event(f"Step {event.step} of {event.total} for {titles[name]}")
    width = len(style_weights)  # the cells are row by row
    by_row = [[sheet.numbers["cells"].get(name, {}).get("style_loss") for name, _, _ in cells[start:start + width]]
              for start in range(0, len(cells), width)]
    yield sheet.event(f"Done: {grid_verdict(style_weights, by_row)}", done=True)


def grid_verdict(style_weights: Sequence[float], losses: list[list[float | None]]) -> str:
    """What the grid's style losses show (`losses`: a row of each row's cells, by column), in words that agree with
    them: more style weight gives more painting as far as every row's style loss falls from column to column."""
    falls = [all(row[i] is not None and row[i + 1] is not None and row[i + 1] < row[i] for row in losses)
             for i in range(len(style_weights) - 1)]
    if all(falls):
        return "more style weight gives more painting; a deeper content layer lets the shapes loosen."
    reached = falls.index(False)
    if reached == 0:
        return ("in these few steps, more style weight did not bring every row nearer the painting's style (the "
                "table); try more steps.")
    return (f"more style weight gives more painting up to x{style_weights[reached]:g}; beyond it, not every row's "
            "style loss fell further in these steps (the table).")

