"""The studio in a real browser: Debian's chromium driven by playwright against `python app.py` on 127.0.0.1.

Never runs `playwright install`: it uses /usr/bin/chromium and skips when that or playwright is missing.
Leaves a screenshot in test-artifacts/studio.png.
"""

from __future__ import annotations

import time

import httpx
import pytest

from nst_core.images import read_recipe

from .apphelpers import ROOT, app_server, set_slider, studio_page  # noqa: F401  (app_server is a fixture)

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "test-artifacts" / "studio.png"

@pytest.fixture
def page(app_server, tmp_path):  # noqa: F811
    with studio_page(app_server.url, tmp_path / "profile") as page:
        yield page


def test_run_preview_chart_stop_download(page, app_server, shared_images):  # noqa: F811
    page.set_input_files("#content input[type=file]", str(shared_images / "tubingen.jpg"))
    page.wait_for_selector("#content img", state="visible", timeout=30_000)

    thumbnails = page.locator("#gallery button.thumbnail-item")
    assert thumbnails.count() >= 1, "the style gallery shows no thumbnails"
    thumbnails.first.click()
    page.wait_for_selector("#style img", state="visible", timeout=30_000)

    set_slider(page, "Output size (px)", 64)
    set_slider(page, "Iterations", 300)
    assert page.get_by_label("number input for Iterations").input_value() == "300"

    page.click("#run")
    page.wait_for_selector("#run[disabled]", timeout=10_000)  # Run is off while a job runs
    page.wait_for_selector("#result img", state="visible", timeout=60_000)
    assert page.locator("#result img").first.get_attribute("src"), "the preview image has no source"
    page.wait_for_function(
        """() => {
            const chart = document.querySelector('#chart');
            if (!chart) return false;
            const canvas = chart.querySelector('canvas');
            if (canvas && canvas.width > 0 && canvas.height > 0) return true;
            return chart.querySelectorAll('svg path, svg line').length > 2;
        }""", timeout=30_000)
    page.wait_for_function("() => (document.querySelector('#status')?.innerText || '').includes('Step')",
                           timeout=30_000)
    step_text = page.locator("#status").inner_text()
    assert "Step" in step_text and "/300" in step_text, step_text

    page.click("#stop")
    page.wait_for_selector("#run:not([disabled])", timeout=15_000)
    page.wait_for_function("() => (document.querySelector('#status')?.innerText || '').includes('Stopped')",
                           timeout=15_000)
    link = page.locator("#download a[href]").first
    link.wait_for(state="attached", timeout=15_000)
    href = link.get_attribute("href")
    assert href and ".png" in href, href
    assert page.locator("#run").is_enabled()

    # What the download link offers is the PNG of the last image, with its recipe.
    url = href if href.startswith("http") else app_server.url + href
    response = httpx.get(url, timeout=15)
    assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"
    recipe = read_recipe(response.content)
    assert recipe is not None and recipe["settings"]["iterations"] == 300 and recipe["settings"]["size"] == 64

    time.sleep(0.5)  # let the chart and image settle for the picture
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
