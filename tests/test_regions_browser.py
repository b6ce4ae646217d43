"""Regions in a real browser (issue 23), at a laptop's and a phone's screen size: a region map uploaded under
*Regions*, its colours named, a run with them, and the download's recipe records the map.

Chromium through playwright against the shared test server (`python app.py`); never `playwright install`.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from .apphelpers import ROOT, app_server, downloaded_recipe, set_slider, studio_page, type_into  # noqa: F401  (app_server: fixture)
from .test_app_browser import LAPTOP, PHONE, wait_for_status
from .test_errors_browser import add_photo_and_painting

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("screen", [LAPTOP, PHONE], ids=("laptop", "phone"))
def test_a_region_map_keeps_the_photo_where_it_says(app_server, shared_images, tmp_path, screen):  # noqa: F811
    with Image.open(shared_images / "tubingen.jpg") as photo:
        size = photo.size
    region_map = Image.new("RGB", size, (255, 0, 0))
    ImageDraw.Draw(region_map).rectangle([0, size[1] // 2, size[0], size[1]], fill=(0, 255, 0))
    region_map.save(tmp_path / "map.png")
    with studio_page(app_server.url, tmp_path / "profile", screen, phone=screen == PHONE) as page:
        add_photo_and_painting(page, shared_images)
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
