"""The tab contract (studio.tab): the page is built from a list of tabs and the room records their results, and
neither names a tab: a tab that is not the studio's own is laid out, wired and recorded like the others."""

from __future__ import annotations

import re
import tokenize
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio.block_function import BlockFunction
from PIL import Image

from studio.batches import Batches
from studio.files import ServedFiles
from studio.jobs import JobBoard
from studio.keepsakes import Keepsakes
from studio.limits import Limits
from studio.page import build_demo
from studio.runner import JobRunner
from studio.tab import Result, Shared
from studio.tabs import studio_tabs

from .conftest import ROOT


def words(path: Path) -> set[str]:
    """Every name and every word inside a string or comment of a Python file, lower-cased; but not a Gradio
    component's name (the room's time-lapse is a gr.Video, which names no Video tab)."""
    found = set()
    with open(path, "rb") as source:
        recent = ["", ""]
        for token in tokenize.tokenize(source.readline):
            component = token.type == tokenize.NAME and recent == ["gr", "."]
            if token.type in (tokenize.NAME, tokenize.STRING, tokenize.COMMENT) and not component:
                found.update(word.lower() for word in re.findall(r"[A-Za-z][A-Za-z_]*", token.string))
            recent = [recent[1], token.string]
    return found


def recorders(demo: gr.Blocks, event_fn: BlockFunction) -> list[BlockFunction]:
    """The functions that run after `event_fn` and put something in the history strip."""
    return [fn for fn in demo.fns.values() if fn.trigger_after == event_fn._id
            and any(getattr(block, "elem_id", None) == "history" for block in fn.outputs)]


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))  # where ServedFiles writes
    return tmp_path


def test_the_studio_is_built_from_its_list_of_tabs(served):
    demo = build_demo(Limits())
    assert [(block.label, block.id) for block in demo.blocks.values() if isinstance(block, gr.Tab)] == [
        ("Stylize", "stylize"), ("Explain", "explain"), ("Fast", "fast"), ("Video", "video")]


def test_the_page_and_the_room_name_no_tab(served):
    shared = Shared(Limits(), JobRunner(JobBoard(1)), ServedFiles(served / "files"), Keepsakes(), Batches(1))
    tabs = studio_tabs(shared)
    names = {word.lower() for tab in tabs
             for word in (tab.id, tab.title, type(tab).__name__, type(tab).__module__.rpartition(".")[2])}
    assert {"stylize", "explain", "fast", "video", "stylizetab"} <= names
    for module in ("page.py", "room.py"):
        named = words(ROOT / "studio" / module) & names
        assert not named, f"studio/{module} names {sorted(named)}"


class Sketch:
    """A tab the studio does not have: one button that draws a picture and keeps it for the strip."""

    title, id = "Sketch", "sketch"

    def __init__(self, shared: Shared) -> None:
        self.keepsakes = shared.keepsakes

    @staticmethod
    def key(session: str) -> str:
        return session + "/sketch"

    def layout(self) -> None:
        self.button = gr.Button("Draw", elem_id="draw")
        self.picture = gr.Image(elem_id="drawn")

    def wire(self, tabs: gr.Tabs) -> None:
        def draw(request: gr.Request) -> Image.Image:
            picture = Image.new("RGB", (48, 32), "teal")
            self.keepsakes.begin(self.key(request.session_hash))
            self.keepsakes.keep(self.key(request.session_hash), picture, {"settings": {"pen": "thick"}},
                                picture.size, 1, total=1)
            return picture

        self.event = self.button.click(draw, None, self.picture)

    def history(self) -> list[Result]:
        return [Result("sketch", self.event, self.key, lambda recipe, step: f"Sketch, {recipe['settings']['pen']} pen")]


def test_a_tab_the_studio_does_not_know_is_laid_out_wired_and_recorded(served):
    sketches = []
    demo = build_demo(Limits(), tabs=lambda shared: sketches.append(Sketch(shared)) or sketches)
    tab = next(block for block in demo.blocks.values() if isinstance(block, gr.Tab))
    assert (tab.label, tab.id, tab.elem_id) == ("Sketch", "sketch", "sketch-tab")
    draw = demo.fns[sketches[0].event["id"]]
    [record] = recorders(demo, draw)
    request = SimpleNamespace(session_hash="visitor")
    draw.fn(request)
    strip = record.fn(request)
    assert [caption for _, caption in strip] == ["Sketch, thick pen"]
    with Image.open(strip[0][0]) as shown:
        assert shown.size == (48, 32)
