"""Regions in a real browser (issue 23), at a laptop's and a phone's screen size: a region map uploaded under
*Regions*, its colours named, a run with them, and the download's recipe records the map.

Chromium through playwright against the shared test server (`python app.py`); never `playwright install`.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from nst_core.images import read_recipe

from .apphelpers import (
    ROOT,
    add_photo_and_painting,
    app_server,  # noqa: F401  (a fixture)
    downloaded_png,
    downloaded_recipe,
    drop_recipe,
    set_slider,
    studio_page,
    type_into,
)
from .test_app_browser import LAPTOP, PHONE, wait_for_status

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("screen", [LAPTOP, PHONE], ids=("laptop", "phone"))
def test_a_region_map_keeps_the_photo_where_it_says(app_server, shared_images, tmp_path, screen):  # noqa: F811
    with Image.open(shared_images / "tubingen.jpg") as photo:
        size = photo.size
    region_map = Image.new("RGB", size, (255, 0, 0))
    ImageDraw.Draw(region_map).rectangle([0, size[1] // 2, size[0], size[1]], fill=(0, 255, 0))
    region_map.save(tmp_path / "map.png")
    with studio_page(app_server.url, tmp_path / "profile", screen, phone=screen == PHONE) as page:
        add_photo_and_painting(page, shared_images, painting=1)
        page.get_by_text("Regions: which painting goes where", exact=True).click()
        page.set_input_files("#region-map input[type=file]", str(tmp_path / "map.png"))
        page.wait_for_selector("#region-map img", state="visible", timeout=30_000)
        type_into(page, page.locator("#region-paintings textarea, #region-paintings input").first, "#00ff00=photo")
        set_slider(page, "Output size (px)", 64)
        set_slider(page, "Iterations", 3)
        page.click("#run")
        wait_for_status(page, "Done", 120)
        recipe = downloaded_recipe(page, app_server.url)
        assert recipe["regions"]["regions"] == [{"colour": "#00ff00", "paintings": "photo"},
                                                {"colour": "#ff0000", "paintings": [0]}]
        page.locator("#region-map").scroll_into_view_if_needed()
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "test-artifacts" / f"regions-{'phone' if screen == PHONE else 'laptop'}.png"))


def image_at(server_url: str, src: str) -> np.ndarray:
    response = httpx.get(src if src.startswith("http") else server_url + src, timeout=15)
    with Image.open(io.BytesIO(response.content)) as image:
        return np.asarray(image.convert("RGB"))


def paint_stroke(page, colour_index: int, start: tuple[float, float], end: tuple[float, float]) -> None:
    """One brush stroke on the region editor's canvas, from `start` to `end` (fractions of the canvas), in the
    brush colour at `colour_index` of the editor's fixed palette."""
    page.locator("#region-editor button[aria-label='Brush']").click()
    page.locator("#region-editor button[aria-label='Color']").click()
    page.locator("#region-editor menu.swatch button.color").nth(colour_index).click()
    canvas = page.locator("#region-editor canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    (x0, y0), (x1, y1) = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in (start, end)]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x0 + (x1 - x0) * i / 20, y0 + (y1 - y0) * i / 20)
    page.mouse.up()


@pytest.mark.parametrize("screen", [LAPTOP, PHONE], ids=("laptop", "phone"))
def test_regions_painted_in_the_browser_steer_the_run(app_server, shared_images, tmp_path, screen):  # noqa: F811
    """Issue 23 (3): the "sky only" preset, then a stroke of the first painting's brush across the river: the run
    keeps the photo where the map says, and the download's recipe records the painted map, stroke and all."""
    with studio_page(app_server.url, tmp_path / "profile", screen, phone=screen == PHONE) as page:
        add_photo_and_painting(page, shared_images, painting=1)
        page.get_by_text("Regions: which painting goes where", exact=True).click()
        page.click("#preset-sky-only")
        page.wait_for_function("() => document.querySelector('#region-paintings textarea, #region-paintings input')"
                               ".value.includes('photo')", timeout=30_000)
        names = page.locator("#region-paintings textarea, #region-paintings input").first
        assert names.input_value() == "#22c55e=photo"
        assert "sky" in page.locator("#regions-note").inner_text()
        page.wait_for_selector("#region-map img", state="visible", timeout=30_000)
        # Purple, the first painting, across the town: 0.6 of the canvas is in the photo's lower half on both screens
        # (on the phone the photo is letterboxed in a taller canvas).
        paint_stroke(page, 0, (0.3, 0.6), (0.7, 0.6))
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        shot = ROOT / "test-artifacts" / f"regions-painted-{'phone' if screen == PHONE else 'laptop'}.png"
        page.screenshot(path=str(shot))
        set_slider(page, "Output size (px)", 64)
        set_slider(page, "Iterations", 3)
        page.click("#run")
        wait_for_status(page, "Done", 120)
        png = downloaded_png(page, app_server.url)
        regions = read_recipe(png)["regions"]
        assert regions["regions"] == [{"colour": "#22c55e", "paintings": "photo"},
                                      {"colour": "#a855f7", "paintings": [0]}]
        with Image.open(io.BytesIO(base64.b64decode(regions["map_png"]))) as painted:
            labels = np.asarray(painted)
        height, width = labels.shape
        assert labels[: height // 10].mean() > 0.9, "the sky keeps the first painting (label 1)"
        painted_rows = (labels[height // 2:, int(0.4 * width):int(0.6 * width)] == 1).mean(axis=1) > 0.9
        assert 0 < painted_rows.mean() < 0.6, "a band across the lower half (the stroke) takes the first painting"
        assert (labels[int(0.5 * height):] == 0).mean() > 0.3, "the rest of the town keeps the photo"

        # The overlay: the result again with the regions' borders drawn on it (white), and without them.
        plain_src = page.locator("#result img").first.get_attribute("src")
        page.locator("#regions-overlay input").check()
        page.wait_for_function("(src) => document.querySelector('#result img')?.getAttribute('src') !== src",
                               arg=plain_src, timeout=15_000)
        plain, overlaid = (image_at(app_server.url, src) for src in
                           (plain_src, page.locator("#result img").first.get_attribute("src")))
        changed = np.abs(overlaid.astype(int) - plain.astype(int)).sum(-1) > 30
        assert 0.005 < changed.mean() < 0.25, "a line along the borders, not the whole picture"
        white = [(image > 220).all(axis=-1).mean() for image in (plain, overlaid)]
        assert white[1] > white[0] + 0.005, "the line is white (WebP blurs a 64 px picture's 1 px line a little)"
        page.locator("#regions-overlay input").uncheck()
        page.wait_for_function("(src) => document.querySelector('#result img')?.getAttribute('src') === src",
                               arg=plain_src, timeout=15_000)

        # Dropped back in, the download brings its map and names back (the map a PNG of the same regions).
        page.click("#regions-clear")
        page.wait_for_function("() => document.querySelector('#region-paintings textarea, #region-paintings input')"
                               ".value === ''", timeout=15_000)
        said = drop_recipe(page, png, tmp_path)
        assert "its region map too" in said, said
        assert names.input_value() == "#22c55e=photo, #a855f7=painting 1"


def test_split_at_the_horizon_paints_with_a_second_painting_picked_from_the_gallery(app_server, shared_images,  # noqa: F811
                                                                                    tmp_path):
    """Issue 23 (3): each region's painting from the gallery: "A gallery pick becomes: painting 2" fills the second
    slot, and the "split at the horizon" preset's lower part is painted by it."""
    with studio_page(app_server.url, tmp_path / "profile", LAPTOP) as page:
        add_photo_and_painting(page, shared_images, painting=1)  # the gallery's second thumbnail: the painting
        page.locator("#gallery-target").get_by_text("painting 2", exact=True).click()
        page.locator("#gallery button.thumbnail-item").nth(3).click()
        page.get_by_text("Blend up to three paintings", exact=True).click()
        page.wait_for_selector("#style-2 img", state="visible", timeout=30_000)
        assert page.locator("#style img").first.get_attribute("src") != page.locator("#style-2 img").first \
            .get_attribute("src"), "the pick went to painting 2, not over the first painting"
        page.get_by_text("Regions: which painting goes where", exact=True).click()
        page.click("#preset-split-at-the-horizon")
        page.wait_for_function("() => document.querySelector('#region-paintings textarea, #region-paintings input')"
                               ".value.includes('painting 2')", timeout=30_000)
        assert "Add a second painting" not in page.locator("#regions-note").inner_text()
        set_slider(page, "Output size (px)", 64)
        set_slider(page, "Iterations", 3)
        page.click("#run")
        wait_for_status(page, "Done", 120)
        recipe = downloaded_recipe(page, app_server.url)
        assert recipe["regions"]["regions"] == [{"colour": "#3b82f6", "paintings": [1]},
                                                {"colour": "#a855f7", "paintings": [0]}]
        assert len(recipe["style_sizes"]) == 2
