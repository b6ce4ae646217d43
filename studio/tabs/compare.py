"""Compare two style losses: the Stylize tab's settings run twice, on the same photo, painting and seed, with
a different style loss each time; an image slider shows the two pictures side by side, each run's time below.

It is a section of the Stylize tab (its inputs are the tab's controls) and one job on the job runner: a visitor's
comparison waits for a compute slot like a Run, and a second job of the same visitor is refused.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import gradio as gr
from PIL import Image

from nst_core import Settings
from nst_core.config import field_info

from .. import controls
from ..buttons import run_button
from ..runner import status_update
from ..stylize_job import checked_inputs, stylize_frames
from ..tab import Shared

SIDES = ("left", "right")

Inputs = tuple[Image.Image, list[Image.Image], dict[str, Settings]]  # photo, paintings, each side's settings


class Compare:
    def __init__(self, shared: Shared) -> None:
        self.limits, self.runner = shared.limits, shared.runner
        self.choices = list(field_info("style_loss")["choices"])

    def run(self, values: dict[str, Any], left: str, right: str, request: Any) -> Iterator[tuple]:
        """Stream (slider, status) updates: the left loss's run, then the right one's next to its result."""

        def check() -> Inputs:
            content, styles, settings = checked_inputs(values, self.limits)
            runs = {side: replace(settings, style_loss=loss) for side, loss in zip(SIDES, (left, right))}
            return content, styles, runs

        return self.runner.stream(request, check, self.frames, waiting=status_update(1, 2))

    def frames(self, inputs: Inputs, session: str) -> Iterator[tuple]:
        content, styles, runs = inputs
        pictures, seconds = {}, {}
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
        summary = " · ".join(f"{side}: **{runs[side].style_loss}** {seconds[side]:.1f} s "
                             f"({seconds[side] / runs[side].iterations * 1000:.0f} ms a step)" for side in SIDES)
        yield (pictures["left"], pictures["right"]), f"Done. {summary}; drag the slider to compare."

    def layout(self) -> None:
        """The comparison's accordion, inside the Stylize tab."""
        with gr.Accordion("Compare two style losses", open=False, elem_id="compare"):
            gr.Markdown("Runs the settings above twice, with the same photo, painting and seed, once with each "
                        "loss chosen here (so it takes twice as long as Run).")
            with gr.Row():
                self.left = gr.Radio(self.choices, value=self.choices[0], label="Left", elem_id="compare-left")
                self.right = gr.Radio(self.choices, value=self.choices[-1], label="Right", elem_id="compare-right")
            self.button = gr.Button("Compare", elem_id="compare-run")
            self.slider = gr.ImageSlider(label="Left and right (drag to compare)", type="pil", interactive=False,
                                         max_height=420, elem_id="compare-slider")
            self.status = gr.Markdown(elem_id="compare-status")

    def wire(self, inputs: list[gr.components.Component]) -> None:
        """`inputs`: the Stylize tab's controls in API order."""

        def compare(*values: Any) -> Iterator[tuple]:
            *values, left_loss, right_loss, request = values
            yield from self.run(dict(zip(controls.API_NAMES, values)), left_loss, right_loss, request)

        signature = controls.api_signature(self.limits)
        parameters = list(signature.parameters.values())
        extra = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=value)
                 for name, value in (("left_loss", self.choices[0]), ("right_loss", self.choices[-1]))]
        compare.__signature__ = signature.replace(parameters=[*parameters[:-1], *extra, parameters[-1]])
        compare.__annotations__ = {"request": gr.Request}
        compare.__doc__ = "Stylize `content` twice, with `left_loss` and with `right_loss`; streams the pair of images."
        run_button(self.button, compare, [*inputs, self.left, self.right], [self.slider, self.status],
                   api_name="compare_losses", concurrency_limit=8)
