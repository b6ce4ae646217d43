"""The Explain tab's parts without a server: the job's frames (throttled, time-limited, picklable for ZeroGPU),
the numbers a class reads, the keepsakes' films and the history strip."""

from __future__ import annotations

import pickle
from dataclasses import replace

import gradio as gr
import pytest
from PIL import Image

from nst_core import Settings
from nst_core.explain import CAPTIONS, THIRD_IMAGE, VIEWS
from nst_core.explain.knobs import grid
from studio import controls
from studio.history import History, differences
from studio.keepsakes import Keepsakes
from studio.limits import Limits
from studio.page import build_demo
from studio.tabs import studio_tabs
from studio.tabs.explain import TAB_CAPTIONS
from studio.tabs.explain_job import DEFAULTS, ExplainJob, numbers_markdown, view_frames
from studio.tabs.stylize import StylizeTab

from .conftest import gradient_image, tiny_backbone


@pytest.fixture(scope="module")
def tiny():
    return tiny_backbone()


def test_the_tab_says_where_the_third_picture_is_once_above_every_view():
    assert set(TAB_CAPTIONS) == set(CAPTIONS)
    assert all(THIRD_IMAGE not in text for text in TAB_CAPTIONS.values())
    assert TAB_CAPTIONS["compare"].startswith("Why a trained network") and "trained weights." in TAB_CAPTIONS["compare"]


def test_a_view_past_the_servers_time_limit_ends_with_the_pictures_so_far(tiny):
    photo = gradient_image(80, 60, seed=1)
    frames = list(view_frames("reconstruct", [photo], {"backbone": tiny, "size": 64, "steps": 5000}, 1.0))
    last = frames[-1]
    assert last.done and "limit" in last.status
    assert [name for name, *_ in last.meta["panels"]][:3] == ["photo", "noise", "relu1_1"]
    assert last.step < last.meta["total"]
    # What a ZeroGPU worker sends back is pickled: plain values and PIL images only.
    assert pickle.loads(pickle.dumps(last)).meta["panels"][0][2].size == last.meta["panels"][0][2].size


def test_frames_carry_panels_only_now_and_then_but_always_at_the_end(tiny):
    photo = gradient_image(80, 60, seed=1)
    frames = list(view_frames("reconstruct", [photo], {"backbone": tiny, "size": 64, "steps": 30}, 600))
    with_panels = [f for f in frames if f.meta["panels"] is not None]
    assert frames[-1].done and frames[-1].meta["panels"] is not None
    assert len(with_panels) < len(frames), "every frame re-sent every picture"


@pytest.mark.parametrize("view", list(VIEWS))
def test_every_views_numbers_read_as_text(view, tiny):
    pictures = {"layers": [gradient_image(64, 48)], "channel": [None], "reconstruct": [gradient_image(64, 48)],
                "texture": [gradient_image(64, 64)], "shuffle": [gradient_image(64, 64)],
                "compare": [gradient_image(64, 48), gradient_image(64, 64)],
                "grid": [gradient_image(64, 48), gradient_image(64, 64)]}[view]
    options = {"backbone": tiny, "size": 64, **({"steps": 2} if view != "layers" else {})}
    if view == "compare":
        options["untrained"] = tiny_backbone(seed=3)
    frames = list(view_frames(view, pictures, options, 600))
    text = numbers_markdown(view, frames[-1].meta["numbers"])
    assert text and "{" not in text and "None" not in text


def test_each_view_starts_at_its_own_engine_defaults():
    assert DEFAULTS["reconstruct"]["size"] == 128 and DEFAULTS["grid"]["size"] == 96
    assert "steps" not in DEFAULTS["layers"] and DEFAULTS["channel"]["steps"] > 0


def test_keepsakes_keep_a_film_per_run():
    keepsakes = Keepsakes()
    keepsakes.begin("s")
    for step in (1, 10, 20):
        keepsakes.keep("s", Image.new("RGB", (32, 24), (step, 0, 0)), {"settings": {"iterations": 20}}, (32, 24), step)
    assert [shot.step for shot in keepsakes.film("s").shots] == [1, 10, 20]
    assert {shot.total for shot in keepsakes.film("s").shots} == {20}
    keepsakes.begin("s")
    assert len(keepsakes.film("s")) == 0 and keepsakes.last("s")[3] == 20  # Stop still has the last picture


def test_history_keeps_a_few_results_per_visitor_and_skips_a_repeat():
    history = History(per_session=3, sessions=2)
    pictures = [Image.new("RGB", (40, 30), (i * 40, 0, 0)) for i in range(5)]
    for picture in pictures:
        assert history.add("a", picture, "Stylize", {"size": 64}, None)
    assert not history.add("a", pictures[-1], "Stylize", {"size": 64}, None)  # the same picture again
    assert [e.image.getpixel((0, 0))[0] for e in history.entries("a")] == [80, 120, 160]
    history.add("b", pictures[0], "x", {}, None)
    history.add("c", pictures[0], "x", {}, None)
    assert history.entries("a") == [], "the oldest visitor's strip should drop out"


def test_two_results_compare_by_the_settings_they_do_not_share():
    assert differences({"tab": "stylize", "size": 64, "style_weight": 10}, {"tab": "stylize", "size": 64}) == [
        ("style_weight", 10, None)]
    recipe = {"settings": {"style_weight": 100.0, "content_layer": "relu4_2", "size": 256, "iterations": 150}}
    assert StylizeTab.caption(recipe, 40) == "Stylize: style 100, content relu4_2, 256 px, stopped at 40 of 150"
    assert ExplainJob.caption({"settings": {"view": "grid", "size": 96}}, 9) == "Explain: The knobs, as a grid, 96 px"


@pytest.fixture(scope="module")
def grid_cell(tiny):
    """The settings of the grid's last picture (style x100, content relu4_2), as the tab's state holds them."""
    photo, painting = gradient_image(400, 300, seed=1), gradient_image(90, 120, seed=2)
    *_, last = grid(photo, painting, size=64, steps=6, backbone=tiny)
    panel = last.panels[-1]
    assert panel.title == "x100, content relu4_2"
    return dict(panel.settings)


# Stylize's size -> the iterations the cell's 6 steps at 64 px (one scale) become: the coarsest scale gets 6.
@pytest.mark.parametrize(("size", "iterations"), [(64, 6), (256, 9), (512, 11)])
def test_a_grid_picture_loads_into_stylize_as_the_same_run_at_stylizes_size(grid_cell, size, iterations, tmp_path,
                                                                            monkeypatch):
    """Issue 21, item 8: Stylize kept its own 150 iterations, and its Run painted over the building the cell kept."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    made, limits = [], Limits()
    demo = build_demo(limits, lambda shared: made.extend(studio_tabs(shared)) or made)
    stylize, explain = made[0], made[1]
    load = next(fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == "load_cell")
    photo = tmp_path / "photo.png"
    gradient_image(400, 300, seed=1).save(photo)
    # The Stylize tab as a visitor left it: its own defaults, at `size`, blending a second painting.
    values = {**controls.defaults(limits), "content": str(photo), "style": str(photo), "style_2": str(photo),
              "size": size}
    names = {id(component): name for name, component in stylize.controls.items()}
    given = [[grid_cell] if component is explain.cells else values[names[id(component)]]
             for component in load.inputs]
    out = load.fn(*given, gr.SelectData(None, {"index": 0, "value": None}))
    for component, value in zip(load.outputs, out):
        if id(component) in names and not isinstance(value, type(gr.skip())):
            values[names[id(component)]] = value
    loaded = controls.settings_from(values, limits)
    cell = Settings.from_dict(grid_cell)
    # Only the size differs, the steps scaled for it; how often it previews and the job's limit change no pixel.
    assert loaded == replace(cell, size=size, iterations=iterations, preview_every=loaded.preview_every,
                             max_seconds=loaded.max_seconds)
    assert loaded.style_loss == "gram" and loaded.content_layer == "relu4_2" and loaded.style_blend is None
