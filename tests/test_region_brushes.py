"""Regions painted in the browser (issue 23): the one-click presets' starting maps (nst_core.region_presets) and
the editor's strokes made into the region map and its names (studio.region_brushes). The page itself is tested
in test_regions_browser.py."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nst_core import NSTError
from nst_core.region_presets import KEEP, MAIN, SECOND, THIRD, horizon_row, keep_the_subject, preset_labels, sky_mask
from studio.region_brushes import BRUSHES, PALETTE, STROKE_ALPHA, map_values, outlined, painted_labels, tinted
from studio.stylize_job import checked_regions, recipe_regions


def landscape() -> Image.Image:
    """A blue sky over the top 40 rows, a brown town below with a sky-blue sign in it that no sky reaches."""
    pixels = np.zeros((100, 120, 3), dtype=np.uint8)
    pixels[:40] = np.linspace([90, 140, 210], [120, 170, 230], 40)[:, None]  # a gradient, as skies have
    rng = np.random.default_rng(0)
    pixels[40:] = rng.integers(60, 120, (60, 120, 3))
    pixels[60:80, 50:70] = (100, 150, 220)
    return Image.fromarray(pixels)


def test_the_sky_is_what_looks_like_the_top_edge_and_is_reached_from_it():
    sky = sky_mask(landscape())
    assert sky[:38].mean() > 0.98
    assert sky[42:].mean() < 0.01, "the sign in the town is sky-coloured but no sky reaches it"
    assert 38 <= horizon_row(sky) <= 42


def test_the_horizon_of_a_real_photo(shared_images):
    with Image.open(shared_images / "tubingen.jpg") as photo:
        photo = photo.convert("RGB")
    row = horizon_row(sky_mask(photo))
    assert 0.2 < row / photo.height < 0.45, "Tübingen's roofs meet its sky about a third of the way down"


def test_presets_paint_what_they_say():
    photo = landscape()
    sky_only = preset_labels("sky only", photo)
    assert (sky_only[:38] == MAIN).all() and (sky_only[42:] == KEEP).all()
    split = preset_labels("split at the horizon", photo)
    assert (split[:38] == MAIN).all() and (split[42:] == SECOND).all()
    subject = keep_the_subject((120, 100))
    assert subject[55, 60] == KEEP and subject[0, 0] == subject[-1, -1] == MAIN
    with pytest.raises(ValueError):
        preset_labels("everything", photo)


def stroke_layer(size: tuple[int, int], colour: str, box: tuple[int, int, int, int], alpha: int) -> Image.Image:
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    layer.paste((*[int(colour[i:i + 2], 16) for i in (1, 3, 5)], alpha), box)
    return layer


def test_strokes_win_over_the_preset_and_faint_edges_are_not_paint():
    base = np.full((100, 120), KEEP)
    blue, purple = BRUSHES[SECOND][0], BRUSHES[MAIN][0]
    layer = stroke_layer((120, 100), blue, (0, 0, 60, 50), 153)  # a brush at 0.6 opacity
    layer.alpha_composite(stroke_layer((120, 100), purple, (60, 0, 120, 50), 153))
    layer.alpha_composite(stroke_layer((120, 100), blue, (0, 50, 120, 52), STROKE_ALPHA // 2))  # an edge
    labels = painted_labels((120, 100), base, [layer])
    assert (labels[:50, :60] == SECOND).all() and (labels[:50, 60:] == MAIN).all()
    assert (labels[50:] == KEEP).all()


def test_a_stroke_in_a_colour_the_canvas_rounded_still_finds_its_brush():
    orange = PALETTE[THIRD] + np.array([3, -4, 2])  # un-premultiplying a half-transparent pixel rounds its colour
    layer = Image.new("RGBA", (10, 10), (*orange.tolist(), 90))
    assert (painted_labels((10, 10), None, [layer]) == THIRD).all()


def test_the_painted_map_is_the_regions_the_run_reads():
    """map_values' map and names go through the same check as an uploaded map and its typed names."""
    labels = np.full((60, 80), MAIN)
    labels[30:, :40] = KEEP
    labels[30:, 40:] = SECOND
    region_map, names = map_values(labels)
    assert names == "#3b82f6=painting 2, #22c55e=photo"
    photo, painting = Image.new("RGB", (160, 120)), Image.new("RGB", (64, 64))
    plan = checked_regions({"region_map": region_map, "region_paintings": names}, photo, [painting, painting])
    assert {region.label: region.paintings for region in plan.regions} == {
        "#3b82f6": (1,), "#22c55e": (), "#a855f7": (0,)}
    assert map_values(np.full((60, 80), MAIN)) == (None, ""), "nothing painted: no regions at all"


def test_the_editor_shows_a_preset_as_a_tint_and_leaves_the_first_paintings_part_as_it_was():
    photo = landscape()
    labels = preset_labels("sky only", photo)
    shown = np.asarray(tinted(photo, labels), dtype=np.int32)
    original = np.asarray(photo, dtype=np.int32)
    assert (shown[:38] == original[:38]).all()
    green = PALETTE[KEEP]
    assert (np.abs(shown[50:] - green).sum(-1) < np.abs(original[50:] - green).sum(-1)).all()


def test_a_recipe_s_regions_come_back_as_the_map_and_names_the_studio_takes():
    labels = np.full((60, 80), MAIN)
    labels[30:] = KEEP
    region_map, names = map_values(labels)
    photo, painting = Image.new("RGB", (160, 120)), Image.new("RGB", (64, 64))
    recorded = checked_regions({"region_map": region_map, "region_paintings": names}, photo, [painting]).to_recipe()
    restored_map, restored_names, *strengths = recipe_regions(recorded)
    assert strengths == [1.0, 1.0, 1.0]
    assert restored_names == "#22c55e=photo, #a855f7=painting 1"
    assert (np.asarray(restored_map) == np.asarray(region_map)).all()
    blended = {**recorded, "regions": [{"colour": "#22c55e", "paintings": [0, 1]}]}
    assert recipe_regions(blended) is None, "a blend per region is the command line's: the studio cannot name it"
    assert recipe_regions({**recorded, "map_png": "not base64!"}) is None
    assert recipe_regions({"regions": "#22c55e"}) is None


def test_the_overlay_draws_the_borders_between_regions_and_nothing_else():
    picture = Image.new("RGB", (500, 400), (40, 30, 20))
    labels = np.zeros((40, 50), dtype=np.int64)
    labels[20:] = 1  # one border, across the middle
    shown = np.asarray(outlined(picture, labels), dtype=np.int32)
    white = (shown == 255).all(axis=-1)
    rows = np.flatnonzero(white.any(axis=1))
    assert white[rows].all(), "the line crosses the whole picture"
    assert 198 <= rows.min() and rows.max() <= 202 and 1 < len(rows) <= 3, "about 1/250 of the side, at the border"
    assert (shown[~white] == (40, 30, 20)).all()


def test_each_painting_s_strength_slider_sets_its_regions_strength():
    labels = np.full((60, 80), MAIN)
    labels[30:, :40] = KEEP
    labels[30:, 40:] = SECOND
    region_map, names = map_values(labels)
    photo, painting = Image.new("RGB", (160, 120)), Image.new("RGB", (64, 64))
    values = {"region_map": region_map, "region_paintings": names, "region_strength": 1.0, "region_strength_2": 0.5,
              "region_strength_3": 2.0}
    plan = checked_regions(values, photo, [painting, painting])
    assert {region.label: region.strength for region in plan.regions} == {"#3b82f6": 0.5, "#22c55e": 1.0,
                                                                          "#a855f7": 1.0}
    recorded = plan.to_recipe()
    assert recipe_regions(recorded)[2:] == (1.0, 0.5, 1.0)
    with pytest.raises(NSTError, match="between 0 and 10"):
        checked_regions({**values, "region_strength_2": 50.0}, photo, [painting, painting])
