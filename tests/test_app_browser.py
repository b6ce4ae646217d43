"""The studio in a real browser: Debian's chromium driven by playwright against `python app.py` on 127.0.0.1,
at a laptop's, a phone's and a projector's screen size.

Never runs `playwright install`: it uses /usr/bin/chromium and skips when that or playwright is missing.
Leaves screenshots in test-artifacts/ (studio.png, laptop.png, phone.png, projector.png).
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from nst_core.images import read_recipe
from studio.components import gallery_items

from .apphelpers import (  # noqa: F401  (app_server is a fixture)
    ROOT,
    add_photo_and_painting,
    app_server,
    set_slider,
    studio_page,
    type_into,
)

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
LAPTOP, PHONE, PROJECTOR = (1366, 768), (390, 844), (1920, 1080)


@pytest.fixture
def page(app_server, tmp_path):  # noqa: F811
    with studio_page(app_server.url, tmp_path / "profile") as page:
        yield page


def wait_for_status(page, text: str, timeout: float = 60) -> None:
    page.wait_for_function(f"() => (document.querySelector('#status')?.innerText || '').includes({text!r})",
                           timeout=timeout * 1000)


def legend(page) -> list[str]:
    return page.locator("#chart .role-legend-label text").evaluate_all("els => els.map(e => e.textContent)")


def settled_legend(page, wanted: set[str], unwanted: set[str] = frozenset(), timeout: float = 15) -> list[str]:
    """The chart's legend once it shows `wanted` and none of `unwanted`, or as it is after `timeout` seconds. The
    status says Done as soon as the last frame arrives and the chart draws that frame afterwards: reading the
    legend at once can race the drawing."""
    deadline = time.monotonic() + timeout
    shown = legend(page)
    while (not wanted <= set(shown) or unwanted & set(shown)) and time.monotonic() < deadline:
        time.sleep(0.25)
        shown = legend(page)
    return shown


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    assert (ARTIFACTS / name).stat().st_size > 10_000


def test_run_preview_chart_stop_download(page, app_server, shared_images):  # noqa: F811
    add_photo_and_painting(page, shared_images)
    set_slider(page, "Output size (px)", 64)
    set_slider(page, "Iterations", 300)
    assert page.get_by_label("number input for Iterations").input_value() == "300"

    page.click("#run")
    page.wait_for_selector("#run[disabled]", timeout=10_000)  # Run is off while a job runs
    page.wait_for_selector("#result img", state="visible", timeout=60_000)
    assert page.locator("#result img").first.get_attribute("src"), "the preview image has no source"
    page.wait_for_function("() => document.querySelectorAll('#chart svg path, #chart canvas').length > 2",
                           timeout=30_000)
    wait_for_status(page, "Step", 30)
    step_text = page.locator("#status").inner_text()
    assert "Step" in step_text and "/300" in step_text and "s to go" in step_text, step_text

    page.click("#stop")
    page.wait_for_selector("#run:not([disabled])", timeout=15_000)
    wait_for_status(page, "Stopped", 15)
    link = page.locator("#download a[href]").first
    link.wait_for(state="attached", timeout=15_000)
    href = link.get_attribute("href")
    assert href and ".png" in href, href

    # What the download link offers is the PNG of the last image, with its recipe.
    url = href if href.startswith("http") else app_server.url + href
    response = httpx.get(url, timeout=15)
    assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"
    recipe = read_recipe(response.content)
    assert recipe is not None and recipe["settings"]["iterations"] == 300 and recipe["settings"]["size"] == 64
    time.sleep(0.5)  # let the chart and image settle for the picture
    screenshot(page, "studio.png")


def test_run_works_again_after_an_error(page, shared_images):
    """Run with no photo said "Add a content photo first." and stayed greyed out until a reload."""
    page.click("#run")
    page.get_by_text("Add a content photo first.").first.wait_for(timeout=15_000)
    page.wait_for_selector("#run:not([disabled])", timeout=5_000)
    add_photo_and_painting(page, shared_images)
    set_slider(page, "Output size (px)", 64)
    set_slider(page, "Iterations", 300)
    page.click("#run")
    wait_for_status(page, "Step")
    page.click("#stop")
    page.wait_for_selector("#run:not([disabled])", timeout=15_000)


def picture_fill(page) -> float:
    """How much of the result panel the picture covers along its tighter side (1 = edge to edge), measured on a
    decoded picture: during a run the next frame replaces the last, and a frame still loading has no size (NaN)."""
    return page.wait_for_function("""() => {
        const img = document.querySelector('#result img'), panel = document.querySelector('#result');
        if (!img || !img.complete || !img.naturalWidth) return null;
        const box = panel.getBoundingClientRect(), aspect = img.naturalWidth / img.naturalHeight;
        const shown = img.getBoundingClientRect();
        const width = Math.min(shown.width, shown.height * aspect), height = width / aspect;
        return {fill: Math.max(width / box.width, height / box.height)}; }""", timeout=30_000).json_value()["fill"]


def boxes(page, selectors: list[str]) -> dict[str, dict]:
    """Each selector's box on the screen (top, bottom, left, right, in viewport pixels)."""
    return page.evaluate("""(selectors) => Object.fromEntries(selectors.map(s => {
        const b = document.querySelector(s).getBoundingClientRect();
        return [s, {top: b.top, bottom: b.bottom, left: b.left, right: b.right}]; }))""", selectors)


def off_screen(page, selectors: list[str], viewport: tuple[int, int]) -> dict[str, dict]:
    """The selectors whose box is not wholly on the screen, with their boxes."""
    return {s: box for s, box in boxes(page, selectors).items()
            if box["top"] < -1 or box["bottom"] > viewport[1] + 1 or box["left"] < -1 or box["right"] > viewport[0] + 1}


def test_a_portrait_run_can_be_followed_on_a_laptop(app_server, shared_images, tmp_path):  # noqa: F811
    """At 1366x768 a portrait photo's result was 760 px tall: the picture's bottom, the status line (step, time left)
    and the chart were below the screen for the whole run. Now Run brings the run's column into view, and the
    picture, the status line above it and the chart stay on the screen."""
    watched = ["#run", "#stop", "#status", "#result", "#chart"]
    with studio_page(app_server.url, tmp_path / "profile", LAPTOP) as page:
        page.set_input_files("#content input[type=file]", str(shared_images / "brad_pitt.jpg"))  # 1054x1331
        page.wait_for_selector("#content img", state="visible", timeout=30_000)
        page.locator("#gallery button.thumbnail-item").nth(2).click()
        page.wait_for_selector("#style img", state="visible", timeout=30_000)
        set_slider(page, "Output size (px)", 128)
        set_slider(page, "Iterations", 300)
        page.click("#run")
        wait_for_status(page, "Step")
        page.wait_for_function("() => document.querySelector('#result img')?.complete", timeout=60_000)
        assert off_screen(page, watched, LAPTOP) == {}, boxes(page, watched)
        assert picture_fill(page) > 0.9  # the picture fills its (smaller) panel
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "laptop-portrait.png"))
        # Still there some steps later, the status line having changed.
        first = page.locator("#status").inner_text()
        page.wait_for_function(f"() => document.querySelector('#status').innerText !== {first!r}", timeout=60_000)
        assert off_screen(page, watched, LAPTOP) == {}, boxes(page, watched)
        page.click("#stop")
        page.wait_for_selector("#run:not([disabled])", timeout=15_000)


def test_laptop_chart_marks_scales_and_lists_only_what_was_run(app_server, shared_images, tmp_path):  # noqa: F811
    """The loss jumped at the scale switch with no mark, tv was a flat zero line when off, and the per-layer
    legend listed layers that were not selected. (TV is on at today's defaults; the second run turns it off.)"""
    with studio_page(app_server.url, tmp_path / "profile", LAPTOP) as page:
        add_photo_and_painting(page, shared_images, painting=2)
        set_slider(page, "Output size (px)", 256)
        set_slider(page, "Iterations", 30)  # 256 px: 20 steps at 128 px, then 10 at 256
        page.get_by_label("Show each style layer's loss").check()
        page.click("#run")
        wait_for_status(page, "Done", 120)
        status = page.locator("#status").inner_text()
        first = settled_legend(page, {"scale 2 starts", "tv", "relu5_1"})
        assert "scale 2 starts" in first and "tv" in first and "relu5_1" in first, (first, status)
        page.wait_for_function("() => document.querySelector('#result img')?.complete", timeout=15_000)
        assert picture_fill(page) > 0.9
        screenshot(page, "laptop.png")

        for layer in ("relu4_1", "relu5_1"):
            page.locator("label").filter(has_text=layer).first.click()
        page.get_by_text("Advanced", exact=True).click()
        tv = page.get_by_label("Total-variation weight")
        type_into(page, tv, "0")
        page.click("#run")
        page.wait_for_function("() => !document.querySelector('#status').innerText.includes('Done')", timeout=30_000)
        wait_for_status(page, "Done", 120)
        status = page.locator("#status").inner_text()
        second = settled_legend(page, {"relu3_1"}, {"relu4_1", "relu5_1", "tv"})
        assert "relu3_1" in second and "relu4_1" not in second and "relu5_1" not in second, (second, status)
        assert "tv" not in second, (second, status)


def test_phone_shows_every_style_and_keeps_run_in_reach(app_server, shared_images, tmp_path):  # noqa: F811
    """On a phone the gallery hid 7 of 13 styles behind a sideways scroll with cut captions, and Run was
    about 1900 px down the page."""
    with studio_page(app_server.url, tmp_path / "profile", PHONE, phone=True) as page:
        items = page.locator("#gallery button.thumbnail-item")
        assert items.count() == len(gallery_items())
        for i in range(items.count()):
            box = items.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0], f"style {i} is off the screen: {box}"
        cut = page.evaluate("""() => [...document.querySelectorAll('#gallery .caption-label')]
                                  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)""")
        assert cut == [], f"captions cut: {cut}"
        run = page.locator("#run").bounding_box()
        assert 0 <= run["y"] and run["y"] + run["height"] <= PHONE[1], f"Run is not on the first screen: {run}"
        screenshot(page, "phone-start.png")

        add_photo_and_painting(page, shared_images, painting=4)
        set_slider(page, "Output size (px)", 128)
        page.click("#run")
        wait_for_status(page, "Step")
        result = page.locator("#result").bounding_box()
        assert result["y"] < PHONE[1] / 2, f"the result is not in view after Run: {result}"
        page.wait_for_selector("#result img", state="visible", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "phone.png"))
        page.click("#stop")
        page.wait_for_selector("#run:not([disabled])", timeout=15_000)


LEGEND_SEEN = """() => {
    const svg = document.querySelector('#chart svg'), box = svg.getBoundingClientRect();
    const after = document.querySelector('#chart').nextElementSibling.getBoundingClientRect();
    return [...document.querySelectorAll('#chart .role-legend-label text')].map(e => {
        const b = e.getBoundingClientRect();
        const hit = document.elementFromPoint((b.left + b.right) / 2, (b.top + b.bottom) / 2);
        return {label: e.textContent, right: b.right, bottom: b.bottom, inside: b.left >= box.left - 1 &&
                b.right <= Math.min(box.right, window.innerWidth) + 1 && b.bottom <= after.top + 1,
                seen: !!hit && !!hit.closest('#chart')}; }); }"""


def test_phone_chart_shows_every_legend_entry(app_server, shared_images, tmp_path):  # noqa: F811
    """On a phone the chart's legend is one row wider than the chart: its last entry ("tv" at the defaults) was cut
    off at the chart's edge, and with each style layer's loss shown five more were."""
    with studio_page(app_server.url, tmp_path / "profile", PHONE, phone=True) as page:
        add_photo_and_painting(page, shared_images, painting=4)
        set_slider(page, "Output size (px)", 256)
        set_slider(page, "Iterations", 4)  # 256 px: two scales, so the scale marker is in the legend too
        page.get_by_label("Show each style layer's loss").check()
        page.click("#run")
        wait_for_status(page, "Done", 180)
        page.locator("#chart").scroll_into_view_if_needed()
        time.sleep(0.5)  # the legend is laid out in the frame after the chart is drawn
        entries = page.evaluate(LEGEND_SEEN)
        # total, content, style, tv, 5 layers, the scale marker and the weights-moved marker
        assert len(entries) == 11, [e["label"] for e in entries]
        hidden = [e for e in entries if not (e["inside"] and e["seen"])]
        assert hidden == [], hidden
        page.locator("#chart").screenshot(path=str(ARTIFACTS / "phone-chart.png"))


def test_a_time_lapse_is_shown_whole_and_large(app_server, shared_images, tmp_path):  # noqa: F811
    """A 40-step run's time-lapse had 5 frames, and its 256 px GIF was drawn at 256 px in a 600 px panel."""
    with studio_page(app_server.url, tmp_path / "profile", LAPTOP) as page:
        add_photo_and_painting(page, shared_images, painting=4)
        set_slider(page, "Output size (px)", 64)
        set_slider(page, "Iterations", 40)
        page.click("#run")
        wait_for_status(page, "Done", 180)
        page.locator("#history img").first.wait_for(timeout=30_000)
        page.click("#timelapse-make")
        page.wait_for_function("() => document.querySelector('#timelapse-gif img')?.complete", timeout=60_000)
        frames = int(re.search(r"\((\d+) frames\)", page.locator("#compare-notes").inner_text()).group(1))
        assert frames >= 24, page.locator("#compare-notes").inner_text()
        page.locator("#timelapse-gif").scroll_into_view_if_needed()
        shown = page.evaluate("""() => {
            const img = document.querySelector('#timelapse-gif img'), panel = document.querySelector('#timelapse-gif');
            const box = img.getBoundingClientRect(), outer = panel.getBoundingClientRect();
            const aspect = img.naturalWidth / img.naturalHeight;
            const width = Math.min(box.width, box.height * aspect), height = width / aspect;  // object-fit: contain
            const top = box.top + (box.height - height) / 2;
            return {width, height, top, bottom: top + height, panel: outer.width, panelBottom: outer.bottom,
                    natural: img.naturalWidth}; }""")
        assert shown["width"] >= 0.9 * shown["panel"] or shown["height"] >= LAPTOP[1] - 160, shown
        assert shown["top"] >= 0 and shown["bottom"] <= min(shown["panelBottom"], LAPTOP[1]) + 1, shown
        page.locator("#timelapse-gif").screenshot(path=str(ARTIFACTS / "timelapse-laptop.png"))


def test_projector_shows_the_result_at_the_panels_size(app_server, shared_images, tmp_path):  # noqa: F811
    """A 256x135 result was shown at its own size in a 600x420 panel, a fifth of a projector's width."""
    with studio_page(app_server.url, tmp_path / "profile", PROJECTOR) as page:
        add_photo_and_painting(page, shared_images, painting=8)
        set_slider(page, "Output size (px)", 128)
        set_slider(page, "Iterations", 20)
        page.click("#run")
        wait_for_status(page, "Done", 120)
        page.wait_for_function("() => document.querySelector('#result img')?.complete", timeout=15_000)
        assert picture_fill(page) > 0.9
        screenshot(page, "projector.png")


def test_compare_two_style_losses_with_the_slider(page, shared_images):
    add_photo_and_painting(page, shared_images)
    set_slider(page, "Output size (px)", 64)
    set_slider(page, "Iterations", 4)
    page.locator("#compare").get_by_text("Compare two style losses").click()
    page.locator("#compare-right").get_by_text("w2", exact=True).click()
    page.click("#compare-run")
    page.wait_for_selector("#compare-run[disabled]", timeout=10_000)  # off while the comparison runs
    page.wait_for_function("() => (document.querySelector('#compare-status')?.innerText || '').includes('Done.')",
                           timeout=180_000)
    status = page.locator("#compare-status").inner_text()
    assert "gram" in status and "w2" in status and "ms a step" in status, status
    page.wait_for_selector("#compare-run:not([disabled])", timeout=15_000)
    sources = page.locator("#compare-slider img").evaluate_all("els => els.map(e => e.src)")
    assert len(set(sources)) == 2, sources  # two different pictures, one each side of the slider
    screenshot(page, "compare.png")
