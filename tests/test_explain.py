"""The teaching views on the tiny seeded network: each streams its panels in order and ends with its numbers,
the orderings the views teach hold, and closing a view closes the engine runs inside it."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from nst_core import Settings, stylize_iter
from nst_core.errors import SettingsError
from nst_core.explain import CAPTIONS, GRAM, INPUTS, THIRD_IMAGE, VIEWS
from nst_core.explain.events import round_robin
from nst_core.explain.synthesis import shuffled_tiles

from .conftest import gradient_image, tiny_backbone

STEPS = 8
PANELS = {
    "layers": ["image", "relu3_1_maps", "relu3_1_gram", "relu3_1_ch"],
    "channel": ["photo_relu3_1_ch", "relu3_1_ch"],
    "reconstruct": ["photo", "noise", "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
    "texture": ["painting", "noise", "relu1_1", "to_relu2_1", "to_relu3_1", "to_relu4_1", "to_relu5_1"],
    "shuffle": ["painting", "shuffled", "bars", "texture_painting", "texture_shuffled"],
    "compare": ["photo", "painting", "trained", "untrained"],
    "grid": [f"style{w}_{layer}" for layer in ("relu2_2", "relu3_2", "relu4_2") for w in (1, 10, 100)],
}


@pytest.fixture(scope="module")
def tiny():
    return tiny_backbone()


@pytest.fixture(scope="module")
def pictures():
    return {"photo": gradient_image(80, 60, seed=1), "painting": gradient_image(64, 64, seed=2).rotate(90),
            "image": gradient_image(80, 60, seed=1)}


def run(view: str, tiny, pictures, **options) -> list:
    options = {"backbone": tiny, "size": 64, **options}
    if view != "layers":
        options.setdefault("steps", 3 if view == "grid" else STEPS)  # nine runs: a few steps each show it
    if view == "compare":
        options.setdefault("untrained", tiny_backbone(seed=7))
    return list(VIEWS[view](*(pictures[name] for name in INPUTS[view]), **options))


@pytest.mark.parametrize("view", list(VIEWS))
def test_each_view_streams_its_panels_in_order_and_ends_with_its_numbers(view, tiny, pictures):
    events = run(view, tiny, pictures)
    assert events[0].panels or view == "grid", "the first event should already show a picture"
    assert [e.done for e in events] == [False] * (len(events) - 1) + [True]
    steps = [e.step for e in events]
    assert steps == sorted(steps) and events[-1].step == events[-1].total
    names = [p.name for p in events[-1].panels]
    assert [re.sub(r"_ch\d+$", "_ch", n) for n in names] == PANELS[view]
    for panel in events[-1].panels:
        assert isinstance(panel.image, Image.Image) and min(panel.image.size) >= 8 and panel.title
    json.dumps(dict(events[-1].numbers))  # what the CLI prints
    # A panel that did not change is the very same object in the next snapshot (nothing is redrawn for nothing).
    if len(events) > 2:
        before, after = {p.name: p for p in events[-2].panels}, {p.name: p for p in events[-1].panels}
        assert any(before[name] is after[name] for name in before)


def test_rebuilt_from_a_shallow_layer_is_closer_to_the_photo_than_from_a_deep_one(tiny, pictures):
    numbers = run("reconstruct", tiny, pictures, layers=("relu1_1", "relu5_1"), steps=30)[-1].numbers
    assert numbers["relu1_1"]["pixel_rmse"] < numbers["relu5_1"]["pixel_rmse"]
    assert numbers["relu5_1"]["relu4_2_to_photo"] < numbers["noise"]["relu4_2_to_photo"]


def test_texture_from_all_layers_matches_the_paintings_grams_better_than_noise(tiny, pictures):
    numbers = run("texture", tiny, pictures, sets="all", steps=20)[-1].numbers
    assert numbers["all5"]["gram_distance"] < 0.5 * numbers["noise"]["gram_distance"]


def test_shuffling_changes_the_content_more_than_the_grams(tiny, pictures):
    numbers = run("shuffle", tiny, pictures, steps=2)[-1].numbers
    assert numbers["content_change"] > numbers["gram_change"]


def test_shuffled_tiles_are_the_same_tiles_in_another_order():
    picture = gradient_image(64, 48, seed=3)
    mixed = shuffled_tiles(picture, 4, seed=0)
    assert mixed.size == (64, 48) and mixed.tobytes() != picture.tobytes()
    tiles = [(x, y, x + 16, y + 12) for y in range(0, 48, 12) for x in range(0, 64, 16)]
    assert sorted(picture.crop(b).tobytes() for b in tiles) == sorted(mixed.crop(b).tobytes() for b in tiles)
    with pytest.raises(SettingsError):
        shuffled_tiles(picture, 40, seed=0)


def test_grid_cells_carry_settings_the_stylize_tab_can_load(tiny, pictures):
    last = run("grid", tiny, pictures, rows="style", style_weights=(2, 20))[-1]
    assert [p.name for p in last.panels] == ["style2_relu1_1", "style20_relu1_1", "style2_to_relu3_1",
                                             "style20_to_relu3_1", "style2_to_relu5_1", "style20_to_relu5_1"]
    loaded = [Settings.from_dict(dict(p.settings)) for p in last.panels]
    assert [s.style_weight for s in loaded] == [2, 20] * 3
    assert {s.content_weight for s in loaded} == {1.0}  # so the columns are the style/content ratios they say
    assert loaded[0].style_layers == ("relu1_1",) and len(loaded[-1].style_layers) == 5
    assert set(last.numbers["cells"]) == {p.name for p in last.panels}


def test_a_channel_picture_makes_its_channel_fire_harder(tiny, pictures):
    last = run("channel", tiny, pictures, layer="relu2_1", channel=3, steps=12)[-1]
    assert last.numbers["end_activation"] > last.numbers["start_activation"]
    with pytest.raises(SettingsError, match="Channel must be between 0 and"):
        next(VIEWS["channel"](None, layer="relu2_1", channel=999, backbone=tiny))


def test_layers_names_the_busiest_channels_first(tiny, pictures):
    last = run("layers", tiny, pictures, layer="relu2_1", top=4)[-1]
    means = last.numbers["top_mean_activation"]
    assert len(means) == 4 and means == sorted(means, reverse=True)
    assert last.numbers["channel"] == last.numbers["top_channels"][0]


def test_closing_a_view_closes_every_run_inside_it(tiny, pictures):
    closed = []

    def steps(name):
        try:
            while True:
                yield name
        finally:
            closed.append(name)

    events = round_robin({"a": steps("a"), "b": steps("b")})
    assert [next(events)[0] for _ in range(4)] == ["a", "b", "a", "b"]
    events.close()
    assert sorted(closed) == ["a", "b"]

    view = VIEWS["reconstruct"](pictures["photo"], backbone=tiny, size=64, steps=50)
    for _ in range(6):
        next(view)
    view.close()  # must not raise, and frees the runs (their engine `finally` blocks run)


def test_captions_answer_the_third_image_question_and_say_what_a_gram_matrix_is():
    assert set(CAPTIONS) == set(VIEWS)
    assert "third picture" in THIRD_IMAGE and "trained" in THIRD_IMAGE
    assert "Gram matrix is a table" in GRAM and "forgets where things are" in GRAM
    assert THIRD_IMAGE in CAPTIONS["compare"] and GRAM in CAPTIONS["texture"] and GRAM in CAPTIONS["layers"]
    for text in CAPTIONS.values():
        assert len(text.split()) < 220 and "\n" not in text


def test_views_refuse_bad_options_with_one_sentence(tiny, pictures):
    with pytest.raises(SettingsError, match="growing, single or all"):
        next(VIEWS["texture"](pictures["painting"], sets="some", backbone=tiny))
    with pytest.raises(SettingsError, match="content .* or style"):
        next(VIEWS["grid"](pictures["photo"], pictures["painting"], rows="diagonal", backbone=tiny))
    with pytest.raises(SettingsError, match="at least one layer"):
        next(VIEWS["reconstruct"](pictures["photo"], layers=(), backbone=tiny))


def test_noise_panel_is_the_noise_the_engine_starts_from(tiny, pictures):
    """The "noise" panel must show what init="noise" really starts from, not another picture."""
    from nst_core.engine import stylize_iter

    events = run("reconstruct", tiny, pictures, layers=("relu1_1",), steps=1, tv=0.0)
    noise = next(p.image for p in events[0].panels if p.name == "noise")
    plan = Settings(size=64, iterations=1, init="noise", content_weight=0.0, coarse_to_fine=False,
                    style_layers=("relu1_1",), style_weight=0.0, tv_weight=0.0, content_layer="relu1_1")
    start = next(stylize_iter(pictures["photo"], pictures["photo"], plan, backbone=tiny)).preview
    # With every weight at zero the first step leaves the starting picture as it is.
    assert np.array_equal(np.asarray(start), np.asarray(noise))


@pytest.mark.parametrize("view", ["reconstruct", "texture", "shuffle", "compare", "grid"])
def test_every_run_inside_a_view_matches_gram_matrices(view, tiny, pictures, monkeypatch):
    # The views teach Gatys et al.'s Gram matrices; the Stylize tab's default loss (sliced) must not leak in.
    import nst_core.explain.knobs as knobs
    import nst_core.explain.synthesis as synthesis
    losses = []

    def recording(photo, painting, settings, **kwargs):
        losses.append(settings.style_loss)
        return stylize_iter(photo, painting, settings, **kwargs)

    for module in (knobs, synthesis):
        monkeypatch.setattr(module, "stylize_iter", recording)
    run(view, tiny, pictures, steps=2)
    assert losses and set(losses) == {"gram"}


def test_the_compare_verdict_says_what_its_two_distances_show():
    """The lesson is said only when the table backs it; otherwise the words say what the table shows (issue 21)."""
    from nst_core.explain.knobs import compare_verdict

    def numbers(content: float, style: float) -> dict[str, float]:
        return {"content_distance": content, "style_distance": style}

    assert compare_verdict(numbers(0.5, 0.2), numbers(1.3, 0.6)).startswith("only the trained network knows")
    mixed = compare_verdict(numbers(0.5, 0.7), numbers(1.3, 0.6))
    assert "nearer the photo's content" in mixed and "nearer the painting's style here" in mixed
    assert "only the trained" not in mixed
    assert "knows" not in compare_verdict(numbers(1.5, 0.7), numbers(1.3, 0.6))


def test_the_grid_verdict_claims_more_painting_only_as_far_as_every_row_falls():
    from nst_core.explain.knobs import grid_verdict

    weights = (1.0, 10.0, 100.0)
    assert grid_verdict(weights, [[3, 2, 1], [5, 4, 3]]).startswith("more style weight gives more painting;")
    partly = grid_verdict(weights, [[3, 2, 1], [5, 4, 4.1]])
    assert partly.startswith("more style weight gives more painting up to x10;") and "not every row" in partly
    assert "gives more painting" not in grid_verdict(weights, [[3, 3.5, 1], [5, 4, 3]])
    assert "gives more painting" not in grid_verdict(weights, [[3, None, 1], [5, 4, 3]])


def test_reconstruct_and_texture_say_their_lesson_only_when_their_numbers_show_it():
    """A preset that rebuilds from relu4_1 alone, or grows a texture one layer at a time, cannot show "shallow
    against deep" or "more layers": their closing lines say what their tables show instead (issue 21)."""
    from nst_core.explain.synthesis import reconstruct_verdict, texture_verdict

    def psnr(**db: float) -> dict:
        return {name: {"psnr_db": value} for name, value in db.items()}

    assert reconstruct_verdict(["relu1_1", "relu5_1"], psnr(relu1_1=39.5, relu5_1=11.6, noise=8.9)).startswith(
        "shallow layers keep every pixel")
    alone = reconstruct_verdict(["relu4_1"], psnr(relu4_1=15.1, noise=8.9))
    assert "relu4_1 15.1 dB" in alone and "8.9 dB" in alone and "shallow" not in alone

    def gram(**distance: float) -> dict:
        return {name: {"gram_distance": value} for name, value in distance.items()}

    growing = ["relu1_1", "to_relu2_1"]
    assert texture_verdict("growing", growing, gram(relu1_1=0.5, to_relu2_1=0.3, noise=0.7)).startswith("the more")
    assert "the more" not in texture_verdict("growing", growing, gram(relu1_1=0.3, to_relu2_1=0.5, noise=0.7))
    assert "0.066" in texture_verdict("all", ["all5"], gram(all5=0.066, noise=0.69))
    assert "the more" not in texture_verdict("single", growing, gram(relu1_1=0.5, to_relu2_1=0.3, noise=0.7))
