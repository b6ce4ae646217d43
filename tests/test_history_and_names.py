"""What the history strip and the API say in words (issue 21, defect 10): numbers a class can read, two kinds of
result compared by what they share, and only the paintings this server has."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest
from PIL import Image

from nst_core.gallery import list_styles
from studio.components import PaintingImage
from studio.files import ServedFiles
from studio.history import differences
from studio.keepsakes import Keepsakes
from studio.room import Room
from studio.tab import amount
from studio.tabs.stylize import StylizeTab


def test_captions_round_the_log_sliders_weights():
    """The strip read "style 599.791": the log10 slider's 2.778 is a weight of 599.79."""
    recipe = {"settings": {"style_weight": 10 ** 2.778, "content_layer": "relu4_1", "size": 256, "iterations": 150}}
    assert StylizeTab.caption(recipe, 150) == "Stylize: style 600, content relu4_1, 256 px, 150 steps"
    assert [amount(v) for v in (10 ** 2.778, 12345.6, 31.62, 3.0, 0.0421, 0.001)] == [
        "600", "12,346", "31.6", "3", "0.0421", "0.001"]


STYLIZE = {"tab": "stylize", "size": 256, "iterations": 150, "style_weight": 10 ** 2.778, "content_layer": "relu4_1",
           "style_layers": ["relu1_1", "relu2_1"], "optimizer": "lbfgs", "init": "recolored", "seed": 0,
           "tv_weight": 2.0, "content_weight": 3.0, "style_loss": "sliced", "border": "reflect"}
EXPLAIN = {"tab": "explain", "view": "reconstruct", "size": 96, "steps": 60, "layers": ["relu4_1"]}


def test_two_kinds_of_result_compare_only_what_they_share(tmp_path):
    """A Stylize result against an Explain one listed about 25 "— →" rows."""
    assert differences(STYLIZE, EXPLAIN, shared_only=True) == [("size", 256, 96), ("tab", "stylize", "explain")]
    room = Room(Keepsakes(), ServedFiles(tmp_path))
    request = SimpleNamespace(session_hash="visitor")
    for settings, caption in ((STYLIZE, "Stylize: style 600"), (EXPLAIN, "Explain: Content from each layer, 96 px")):
        room.history.add("visitor", Image.new("RGB", (32, 32), (len(caption), 0, 0)), caption, settings, None)
    picked = room.pick([], request, SimpleNamespace(index=0))[0]
    notes = room.pick(picked, request, SimpleNamespace(index=1))[3]
    assert notes == ("**Stylize: style 600** against **Explain: Content from each layer, 96 px** (two kinds of "
                     "result, so only the settings both have):\n- **size**: 256 → 96\n- **tab**: stylize → explain")
    assert "—" not in notes
    same_kind = room.pick([0], request, SimpleNamespace(index=0))[3]
    assert same_kind.endswith(":\n- the same settings")


def test_the_api_names_only_the_paintings_this_server_has(tmp_path, monkeypatch):
    """The API's "choose one of" listed the paintings that are downloaded on first use, unavailable offline."""
    monkeypatch.setenv("NST_STYLE_CACHE", str(tmp_path))  # nothing downloaded
    missing = [s for s in list_styles() if not s.available]
    assert missing, "the gallery has paintings to download"
    box = PaintingImage(type="filepath")
    for name in ("mona_lisa", missing[0].name):
        with pytest.raises(gr.Error) as caught:
            box.preprocess(name)
        message = caught.value.message
        assert "choose one of: swirling_impasto" in message
        assert not any(style.name in message.partition("choose one of")[2] for style in missing), message
