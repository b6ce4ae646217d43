"""The Fast tab's results reach the history strip (they never did): an instant picture in-process, through the
page's own wiring, and a follower on Refine's and Train's events."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

from nst_core.fast.apply import shipped_models, shipped_styles
from studio.limits import Limits
from studio.page import build_demo
from studio.tabs.fast import refine_caption, refine_settings, train_caption

from .conftest import gradient_image
from .test_tab_contract import recorders

pytestmark = pytest.mark.skipif(not shipped_models(), reason="no shipped fast models in styles/fast")


@pytest.fixture
def demo(tmp_path, monkeypatch) -> gr.Blocks:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))  # where ServedFiles writes
    return build_demo(Limits())


def endpoint(demo: gr.Blocks, api_name: str):
    return next(fn for fn in demo.fns.values() if fn.api_name == api_name)


def test_an_instant_fast_picture_lands_in_the_strip(demo, tmp_path):
    stylize = endpoint(demo, "fast_stylize")
    followers = recorders(demo, stylize)
    assert followers, "nothing puts the Fast tab's picture in the history strip"
    photo = tmp_path / "photo.png"
    gradient_image(120, 90, seed=4).save(photo)
    shipped = next(iter(shipped_styles()))
    request = SimpleNamespace(session_hash="visitor")
    list(stylize.fn(str(photo), shipped, None, 128, "", 0.5, request))  # a generator: its one update, or a failure
    strip = followers[0].fn(request)
    assert [caption for _, caption in strip] == [f"Fast: {shipped}, 128 px, one pass"]
    list(stylize.fn(str(photo), shipped, None, 96, "", 0.5, request))
    assert [caption for _, caption in followers[0].fn(request)][-1] == f"Fast: {shipped}, 96 px, one pass"


@pytest.mark.parametrize("api_name", ["fast_refine", "fast_train"])
def test_refine_and_training_results_are_followed_into_the_strip(demo, api_name):
    assert recorders(demo, endpoint(demo, api_name)), f"nothing records /{api_name}'s result in the strip"


def test_refined_and_trained_pictures_say_where_they_came_from_and_how_far_they_got():
    refined = {"settings": {"iterations": 150, "size": 256}, "output_size": [256, 192],
               "refined_from": {"style": "starry_night", "file": "starry_night.pt"}}
    assert refine_caption(refined, 40) == "Refine: starry_night, 256 px, stopped at 40 of 150"
    assert refine_settings(refined) == {"iterations": 150, "size": 256, "network": "starry_night"}
    start = {"fast_model": {"style": "starry_night"}, "output_size": [256, 192]}  # stopped before the first step
    assert refine_caption(start, 0) == "Refine: starry_night, 256 px, 0 steps"
    assert train_caption({"settings": {"training_seconds": 60.0}}, 412) == (
        "Train: a network for your painting, 60 s, step 412")
