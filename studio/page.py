"""The studio's page: its tabs, its style sheet, and the options it is launched with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from .files import ServedFiles
from .jobs import JobBoard, Keepsakes
from .limits import Limits
from .room import Room
from .tabs import compare, explain, fast, stylize

INTRO = ("# Neural Style Studio\nUpload a photo, pick a painting, press **Run**, and watch gradient descent "
         "repaint the photo step by step (Gatys et al.). Every knob is explained below it.")
CSS = (Path(__file__).parent / "studio.css").read_text()


class StudioBlocks(gr.Blocks):
    """gr.Blocks whose API fills values a raw HTTP call leaves out with the inputs' defaults, as gradio_client
    does; Gradio itself answered such a call with {"error": null}."""

    def validate_inputs(self, block_fn: Any, inputs: list[Any]) -> None:
        if len(inputs) < len(block_fn.inputs):
            inputs.extend(getattr(block, "value", None) for block in block_fn.inputs[len(inputs):])
        super().validate_inputs(block_fn, inputs)


def build_demo(limits: Limits) -> gr.Blocks:
    """The whole studio for one server: one job board, one set of served files, shared by every tab."""
    board = JobBoard(limits.compute_slots)
    files = ServedFiles(Path(get_upload_folder()))
    keepsakes = Keepsakes()
    room = Room(keepsakes, files)
    with StudioBlocks(title="Neural Style Studio", delete_cache=(120, 600)) as demo:
        with gr.Row(elem_id="header"):
            gr.Markdown(INTRO, elem_id="intro", scale=4)
            room.projector_toggle()
        with gr.Tabs() as tabs:
            with gr.Tab("Stylize", id="stylize"):
                stylized = stylize.build(limits, board, files, keepsakes)
                compare.build(stylized.tab, stylized.inputs)
            with gr.Tab("Explain", id="explain", elem_id="explain-tab"):
                explained = explain.build(limits, board, files, keepsakes, stylized, tabs)
            with gr.Tab("Fast", id="fast"):
                fast.build(limits, board, files, keepsakes)
        room.build()
        room.follow(stylized.run_event, "stylize")
        room.follow(explained.run_event, "explain")
    demo.queue(max_size=limits.queue_size)
    demo.board = board  # for tests that look at the server's state in-process
    demo.files = files
    return demo


def launch_options(limits: Limits) -> dict[str, Any]:
    return {"max_file_size": f"{limits.upload_bytes // (1024 * 1024)}mb", "show_error": False,
            "state_session_capacity": limits.state_sessions, "css": CSS}
