"""Steering in a real browser (issue 23): the style weight moved while a run paints changes the following steps,
the chart marks the change, the status says it, and Stop's download records the schedule, which the next Run
replays once the download is dropped back in.

Chromium through playwright against the shared test server (`python app.py`); never `playwright install`.
"""

from __future__ import annotations

import pytest

from nst_core import Settings
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
)
from .test_app_browser import settled_legend, wait_for_status

pytestmark = pytest.mark.browser


def stop_after_the_next_picture(page) -> None:
    """Stop keeps the last picture shown: wait for one painted after the change (one before it has none)."""
    before = page.locator("#result img").first.get_attribute("src")
    page.wait_for_function("(src) => document.querySelector('#result img')?.getAttribute('src') !== src",
                           arg=before, timeout=30_000)
    page.click("#stop")
    wait_for_status(page, "Stopped", 15)


def test_a_weight_moved_during_a_run_steers_it_and_the_download_records_it(app_server,  # noqa: F811
                                                                             shared_images, tmp_path):
    with studio_page(app_server.url, tmp_path / "profile", (1366, 768)) as page:
        add_photo_and_painting(page, shared_images, painting=1)
        set_slider(page, "Output size (px)", 64)
        set_slider(page, "Iterations", 300)
        page.click("#run")
        page.wait_for_function("() => /Step \\d+\\/300/.test(document.querySelector('#status').innerText)",
                               timeout=60_000)
        set_slider(page, "Style weight (log10)", 4)  # from 10^2.8, while the run goes on
        wait_for_status(page, "Style weight 10000 from step", 60)
        assert "weights moved" in settled_legend(page, {"weights moved"})
        stop_after_the_next_picture(page)
        png = downloaded_png(page, app_server.url)
        first_link = page.locator("#download a[href]").first.get_attribute("href")
        recipe = read_recipe(png)
        (change,) = recipe["schedule"]
        assert change["style_weight"] == pytest.approx(10_000) and change["step"] > 1

        # The download makes the picture again: dropped back in, its schedule is replayed by the next Run.
        said = drop_recipe(page, png, tmp_path)
        assert "the next Run moves the weights as that run did (1 change)" in said, said
        set_slider(page, "Style weight (log10)", 2)  # moved back before the run: the replay moves it again
        page.click("#run")
        wait_for_status(page, f"Style weight 10000 from step {change['step']}", 120)
        stop_after_the_next_picture(page)
        page.wait_for_function("(old) => { const a = document.querySelector('#download a[href]');"
                               " return a && a.getAttribute('href') !== old; }", arg=first_link, timeout=15_000)
        assert downloaded_recipe(page, app_server.url)["schedule"] == recipe["schedule"]
        assert recipe["settings"]["style_weight"] == pytest.approx(Settings().style_weight, rel=0.01)  # at the start
        page.locator("#chart").scroll_into_view_if_needed()
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "test-artifacts" / "steered-run.png"))


def test_a_region_s_strength_moved_during_a_run_steers_it(app_server, shared_images, tmp_path):  # noqa: F811
    """Issue 23 (4): each region's strength, during a run: the sky's painting (the "sky only" preset) turned off
    while it paints; the status says so and Stop's download records it, and the map."""
    with studio_page(app_server.url, tmp_path / "profile", (1366, 768)) as page:
        add_photo_and_painting(page, shared_images, painting=1)
        page.get_by_text("Regions: which painting goes where", exact=True).click()
        page.click("#preset-sky-only")
        page.wait_for_function("() => document.querySelector('#region-paintings textarea, #region-paintings input')"
                               ".value.includes('photo')", timeout=30_000)
        set_slider(page, "Output size (px)", 64)
        set_slider(page, "Iterations", 300)
        page.click("#run")
        page.wait_for_function("() => /Step \\d+\\/300/.test(document.querySelector('#status').innerText)",
                               timeout=60_000)
        set_slider(page, "Strength of the first painting's regions", 0)
        wait_for_status(page, "The #a855f7 region's strength 0 from step", 60)
        stop_after_the_next_picture(page)
        recipe = downloaded_recipe(page, app_server.url)
        (change,) = recipe["schedule"]
        assert change["strength:#a855f7"] == 0 and change["step"] > 1
        # Stop's download keeps the map too.
        assert recipe["regions"]["regions"] == [{"colour": "#22c55e", "paintings": "photo"},
                                                {"colour": "#a855f7", "paintings": [0]}]
        assert recipe["regions"]["map_png"] and recipe["stopped_at_step"] >= change["step"]
