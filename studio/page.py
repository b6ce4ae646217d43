"""The studio's page: its tabs (each a `studio.tab.Tab`, laid out and wired alike, none named here), the room
below them, its style sheet, and the options it is launched with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from .batches import Batches, batch_size
from .files import ServedFiles
from .jobs import JobBoard
from .keepsakes import Keepsakes
from .limits import Limits
from .room import Room
from .runner import JobRunner
from .tab import Shared, Tab
from .tabs import studio_tabs
from .zerogpu import sign_in_offered

INTRO = ("# Neural Style Studio\nUpload a photo, pick a painting, press **Run**, and watch gradient descent "
         "repaint the photo step by step (Gatys et al.). Every knob is explained below it.")
SIGN_IN_LABEL = "Sign in for your own GPU quota"
CSS = (Path(__file__).parent / "studio.css").read_text()
JS = (Path(__file__).parent / "legend.js").read_text()  # run once as the page loads: charts' legends wrap


class StudioBlocks(gr.Blocks):
    """gr.Blocks whose API fills values a raw HTTP call leaves out with the inputs' defaults, as gradio_client
    does; Gradio itself answered such a call with {"error": null}."""

    def validate_inputs(self, block_fn: Any, inputs: list[Any]) -> None:
        if len(inputs) < len(block_fn.inputs):
            inputs.extend(getattr(block, "value", None) for block in block_fn.inputs[len(inputs):])
        super().validate_inputs(block_fn, inputs)


def build_demo(limits: Limits, tabs: Callable[[Shared], list[Tab]] = studio_tabs) -> gr.Blocks:
    """The whole studio for one server: one job runner, one set of served files and keepsakes, shared by the
    `tabs` (the studio's own, in order, unless others are given) and the room below them."""
    batches = Batches(batch_size(limits.batch_jobs))
    # Runs that may share a batch must be computing at once: a slot holds up to a batch of them.
    board = JobBoard(limits.compute_slots * batches.size)
    shared = Shared(limits, JobRunner(board), ServedFiles(Path(get_upload_folder())), Keepsakes(), batches)
    room = Room(shared.keepsakes, shared.files)
    page = tabs(shared)
    with StudioBlocks(title="Neural Style Studio", delete_cache=(120, 600)) as demo:
        with gr.Row(elem_id="header"):
            gr.Markdown(INTRO, elem_id="intro", scale=4)
            if sign_in_offered():  # GPU time is a daily quota there, per IP address for visitors not signed in
                gr.LoginButton(SIGN_IN_LABEL, elem_id="sign-in", scale=1, min_width=240)
            room.projector_toggle()
        with gr.Tabs() as switcher:
            for tab in page:
                with gr.Tab(tab.title, id=tab.id, elem_id=f"{tab.id}-tab"):
                    tab.layout()
        room.build()
        # Events are wired once every tab is laid out: a tab may use another's components.
        for tab in page:
            tab.wire(switcher)
            for result in tab.history():
                room.follow(result)
    demo.queue(max_size=limits.queue_size)
    demo.board = board  # for tests that look at the server's state in-process
    demo.files = shared.files
    return demo


def launch_options(limits: Limits) -> dict[str, Any]:
    return {"max_file_size": f"{limits.upload_bytes // (1024 * 1024)}mb", "show_error": False,
            "state_session_capacity": limits.state_sessions, "css": CSS, "js": JS}
