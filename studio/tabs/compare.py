"""Compare two style losses: the Stylize tab's settings run twice, on the same photo, painting and seed, with
a different style loss each time; an image slider shows the two pictures side by side, each run's time below.

It is part of the Stylize tab (its inputs are the tab's controls) and one job on the job board: a visitor's
comparison waits for a compute slot like a Run, and a second job of the same visitor is refused.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import gradio as gr

from nst_core import NSTError
from nst_core.config import field_info

from .. import controls
from ..jobs import session_of
from .stylize import ENABLE_RUN, StylizeTab, join_board, stylize_frames, user_error

SIDES = ("left", "right")


def compare_losses(tab: StylizeTab, values: dict[str, Any], left: str, right: str,
                   request: Any) -> Iterator[tuple]:
    """Stream (slider, status) updates: the left loss's run, then the right one's next to its result."""
    try:
        content, styles, settings = tab.prepare(values)
        runs = {side: replace(settings, style_loss=loss) for side, loss in zip(SIDES, (left, right))}
    except NSTError as error:
        raise user_error(error) from None
    ticket = join_board(tab.board, session_of(request))
    pictures, seconds = {}, {}
    try:
        for waiting in tab.board.wait_for_slot(ticket):
            yield gr.skip(), waiting
        for side, run in runs.items():
            start = time.monotonic()
            for frame in stylize_frames(content, styles, run, False):
                label = f"**{side.capitalize()}: {run.style_loss}** · {frame.status}"
                if frame.image is None:
                    yield gr.skip(), label
                    continue
                pictures[side] = frame.image
                # The left picture alone until the right one has a first preview to put beside it.
                shown = (pictures["left"], pictures.get("right", pictures["left"]))
                yield (shown if side == "right" or frame.done else gr.skip()), label
            seconds[side] = time.monotonic() - start
    except NSTError as error:
        raise user_error(error) from None
    finally:
        tab.board.leave(ticket)
    summary = " · ".join(f"{side}: **{runs[side].style_loss}** {seconds[side]:.1f} s "
                         f"({seconds[side] / runs[side].iterations * 1000:.0f} ms a step)" for side in SIDES)
    yield (pictures["left"], pictures["right"]), f"Done. {summary}; drag the slider to compare."


def build(tab: StylizeTab, inputs: list[gr.components.Component]) -> None:
    """The comparison's accordion, inside the Stylize tab; `inputs` are the tab's controls in API order."""
    choices = list(field_info("style_loss")["choices"])
    with gr.Accordion("Compare two style losses", open=False, elem_id="compare"):
        gr.Markdown("Runs the settings above twice, with the same photo, painting and seed, once with each "
                    "loss chosen here (so it takes twice as long as Run).")
        with gr.Row():
            left = gr.Radio(choices, value=choices[0], label="Left", elem_id="compare-left")
            right = gr.Radio(choices, value=choices[-1], label="Right", elem_id="compare-right")
        button = gr.Button("Compare", elem_id="compare-run")
        slider = gr.ImageSlider(label="Left and right (drag to compare)", type="pil", interactive=False, max_height=420,
                                elem_id="compare-slider")
        status = gr.Markdown(elem_id="compare-status")

    def compare(*values: Any) -> Iterator[tuple]:
        *values, left_loss, right_loss, request = values
        yield from compare_losses(tab, dict(zip(controls.API_NAMES, values)), left_loss, right_loss, request)

    signature = controls.api_signature(tab.limits)
    parameters = list(signature.parameters.values())
    extra = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=value)
             for name, value in (("left_loss", choices[0]), ("right_loss", choices[-1]))]
    compare.__signature__ = signature.replace(parameters=[*parameters[:-1], *extra, parameters[-1]])
    compare.__annotations__ = {"request": gr.Request}
    compare.__doc__ = "Stylize `content` twice, with `left_loss` and with `right_loss`; streams the pair of images."
    event = button.click(lambda: gr.update(interactive=False), None, button, queue=False,
                         api_visibility="private").then(
        compare, [*inputs, left, right], [slider, status], api_name="compare_losses", concurrency_limit=8)
    event.then(None, None, button, js=ENABLE_RUN, api_visibility="private")
    event.failure(None, None, button, js=ENABLE_RUN, api_visibility="private")

