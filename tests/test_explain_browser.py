"""The Explain tab in a real browser at a projector's 1920x1080, projector mode on: upload a photo and a painting,
open Explain, and watch every view fill in live; a grid picture loads into Stylize; the history strip compares two
results and makes a time-lapse; a preset runs in one click; Stop works.

Leaves test-artifacts/explain-<view>.png (one per view) and explain-room.png. Views run small (64-96 px, a few
steps) to keep CI short.
"""

from __future__ import annotations

import time

import pytest

from .apphelpers import app_server, set_slider, studio_page  # noqa: F401  (app_server is a fixture)
from .test_app_browser import ARTIFACTS, PROJECTOR, boxes, off_screen, wait_for_status

pytestmark = pytest.mark.browser

# view -> (its label in the tab, size, steps) for the CI run
VIEWS = {
    "layers": ("What each layer sees", 96, None),
    "channel": ("What a channel looks for", 64, 24),
    "reconstruct": ("Content from each layer", 64, 24),
    "texture": ("Style from growing layer sets", 64, 24),
    "shuffle": ("Style forgets layout", 64, 12),
    "compare": ("Why a trained network", 64, 16),
    "grid": ("The knobs, as a grid", 64, 6),
}
PANEL_IMAGES = "#explain-panels img"


def explain_status(page) -> str:
    return page.locator("#explain-status").inner_text()


def run_view(page, view: str, label: str, size: int, steps: int | None) -> list[tuple[int, str]]:
    """Pick the view, press Run, and sample (pictures shown, status) until it is done."""
    page.get_by_label(label, exact=True).check()
    set_slider(page, "Size (px)", size)
    if steps is not None:
        set_slider(page, "Steps", steps)
    page.click("#explain-run")
    page.wait_for_function("() => !document.querySelector('#explain-status').innerText.startsWith('Done')",
                           timeout=30_000)
    samples = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        samples.append((page.locator(PANEL_IMAGES).count(), explain_status(page)))
        if samples[-1][1].startswith("Done") and page.locator("#explain-run:not([disabled])").count():
            # The status line shows at once; the gallery's last pictures may still be arriving: sample again
            # once the count has held for a second (at most 10 s).
            settle = time.monotonic() + 10
            while time.monotonic() < settle:
                time.sleep(1)
                count = page.locator(PANEL_IMAGES).count()
                if count == samples[-1][0]:
                    break
                samples.append((count, explain_status(page)))
            return samples
        time.sleep(0.25)
    pytest.fail(f"{view} did not finish in 240 s: {samples[-3:]}")


def projector_with_photo_and_painting(page, shared_images) -> None:
    """Tübingen and Starry Night loaded, and projector mode on: hints, labels and the chart's legend large enough
    for the back of the room."""
    page.set_input_files("#content input[type=file]", str(shared_images / "tubingen.jpg"))
    page.wait_for_selector("#content img", state="visible", timeout=30_000)
    page.set_input_files("#style input[type=file]", str(shared_images / "starry_night.jpg"))
    page.wait_for_selector("#style img", state="visible", timeout=30_000)
    page.get_by_label("Projector mode (large text for the back of the room)").check()
    page.wait_for_function("() => document.body.classList.contains('projector')", timeout=5_000)


def test_every_view_fills_in_live_on_a_projector(app_server, shared_images, tmp_path):  # noqa: F811
    with studio_page(app_server.url, tmp_path / "profile", PROJECTOR) as page:
        projector_with_photo_and_painting(page, shared_images)
        set_slider(page, "Output size (px)", 64)
        set_slider(page, "Iterations", 12)
        page.get_by_label("Show each style layer's loss").check()
        page.click("#run")
        wait_for_status(page, "Done", 120)
        sizes = page.evaluate("""() => ({
            hint: parseFloat(getComputedStyle(document.querySelector('.info-text')).fontSize),
            legend: Math.min(...[...document.querySelectorAll('#chart .role-legend-label text')]
                              .map(e => e.getBoundingClientRect().height)),
            zoom: parseFloat(getComputedStyle(document.querySelector('.gradio-container')).zoom)})""")
        assert sizes["hint"] * sizes["zoom"] >= 20, sizes  # was 12 px light grey
        assert sizes["legend"] >= 18, sizes  # was 12 px; a glyph box ~1.4x the font size
        page.locator("#history img").first.wait_for(timeout=30_000)  # the Stylize result joined the strip

        page.get_by_role("tab", name="Explain").click()
        page.wait_for_selector("#explain-caption", state="visible")
        assert "trained network is the third picture" in page.locator("#explain-why").inner_text()
        caption = page.locator("#explain-caption").inner_text()
        assert "relu1_1" in caption and "arrangement" in caption
        for view, (label, size, steps) in VIEWS.items():
            samples = run_view(page, view, label, size, steps)
            live = [count for count, status in samples if count and not status.startswith("Done")]
            if view != "layers":  # layers is one forward pass: it may be done before the first look
                assert live, f"{view} showed no picture before it was done: {samples[:5]}"
            assert samples[-1][0] >= 2, f"{view} ended with {samples[-1][0]} pictures"
            assert page.locator("#explain-numbers").inner_text().strip(), f"{view} showed no numbers"
            page.wait_for_function(f"() => [...document.querySelectorAll('{PANEL_IMAGES}')].every(i => i.complete)",
                                   timeout=15_000)
            page.locator("#explain-view").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / f"explain-{view}.png"), full_page=True)

        # The grid's last picture (style x100, content relu4_2) loads into the Stylize tab.
        page.locator("#explain-panels .thumbnail-item, #explain-panels button").last.click()
        page.wait_for_function("() => document.querySelector('#run')?.offsetParent !== null", timeout=10_000)
        assert page.get_by_label("number input for Style weight (log10)").input_value() == "2"
        assert page.get_by_label("number input for Content weight (log10)").input_value() == "0"
        # The cell's own 6 steps (at 64 px, like Stylize's size here, both one scale), not Stylize's 12 from above:
        # with its own length Stylize made another picture (issue 21, item 8).
        assert page.get_by_label("number input for Iterations").input_value() == "6"
        assert page.get_by_label("number input for Output size (px)").input_value() == "64"
        assert "Loaded from the grid" in page.locator("#status").inner_text()
        page.get_by_role("tab", name="Explain").click()

        # Two results side by side, and the time-lapse of the second one picked.
        strip = page.locator("#history .thumbnail-item")
        assert strip.count() >= 3, f"the strip holds {strip.count()} results"
        strip.nth(0).click()
        page.wait_for_selector("#compare-a img", timeout=15_000)
        page.wait_for_function("() => document.querySelector('#compare-notes').innerText.includes('Pick another')",
                               timeout=15_000)
        strip.nth(strip.count() - 1).click()
        page.wait_for_selector("#compare-b img", timeout=15_000)
        notes = page.locator("#compare-notes").inner_text()
        assert "Stylize" in notes and "Explain" in notes and "tab" in notes, notes
        page.click("#timelapse-make")
        page.wait_for_selector("#timelapse-gif img", timeout=30_000)
        page.wait_for_selector("#timelapse-mp4 video", timeout=30_000)
        assert ".gif" in page.locator("#timelapse-gif img").get_attribute("src")
        page.locator("#history").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "explain-room.png"), full_page=True)

        # A preset in one click: the view, its options and Run.
        page.get_by_role("button", name="Untrained network").click()
        page.wait_for_function("() => document.querySelector('#explain-status').innerText.includes('Step')",
                               timeout=30_000)
        assert page.get_by_label("Why a trained network", exact=True).is_checked()
        page.wait_for_function("() => document.querySelector('#explain-status').innerText.startsWith('Done')",
                               timeout=120_000)

        # Stop ends a long view and Run comes back.
        page.get_by_label("Content from each layer", exact=True).check()
        set_slider(page, "Steps", 400)
        page.click("#explain-run")
        page.wait_for_function("() => document.querySelector('#explain-status').innerText.includes('step')",
                               timeout=30_000)
        page.click("#explain-stop")
        page.wait_for_selector("#explain-run:not([disabled])", timeout=15_000)
        # includes, not startsWith: while the Stop's follow-up is queued, the status shows its timer first.
        page.wait_for_function("() => document.querySelector('#explain-status').innerText.includes('Stopped')",
                               timeout=15_000)


def cells(page) -> list[dict]:
    return page.locator("#explain-panels .thumbnail-item").evaluate_all(
        "els => els.map(e => { const b = e.getBoundingClientRect(); "
        "return {top: b.top, bottom: b.bottom, width: b.width}; })")


def test_a_projector_opens_explain_on_run_and_the_first_pictures(app_server, shared_images, tmp_path):  # noqa: F811
    """At 1920x1080 in projector mode the tab opened on a screen of text: the pictures began about a screen down
    and Run about two; number boxes stayed at 12 px; the nine-cell grid spanned three screens."""
    with studio_page(app_server.url, tmp_path / "profile", PROJECTOR) as page:
        projector_with_photo_and_painting(page, shared_images)
        page.evaluate("window.scrollTo(0, 0)")
        page.get_by_role("tab", name="Explain").click()
        page.wait_for_selector("#explain-run", state="visible")
        assert page.evaluate("window.scrollY") == 0
        assert off_screen(page, ["#explain-view", "#explain-run", "#explain-stop"], PROJECTOR) == {}, \
            boxes(page, ["#explain-view", "#explain-run", "#explain-panels"])
        typed = page.evaluate("""() => Math.min(...[...document.querySelectorAll('#explain-tab input[type=number]')]
            .filter(e => e.offsetParent).map(e => parseFloat(getComputedStyle(e).fontSize)))
            * parseFloat(getComputedStyle(document.querySelector('.gradio-container')).zoom)""")
        assert typed >= 20, f"number boxes are drawn {typed:.0f} px high"  # were 12 px x 1.25

        # The default view (content from each layer) at 96 px: its first pictures come on the first screen.
        set_slider(page, "Size (px)", 96)
        set_slider(page, "Steps", 10)
        page.evaluate("window.scrollTo(0, 0)")
        page.click("#explain-run")
        page.wait_for_function("() => document.querySelectorAll('#explain-panels .thumbnail-item').length >= 2",
                               timeout=120_000)
        first = cells(page)[0]
        assert 0 <= first["top"] and first["bottom"] <= PROJECTOR[1], first
        assert first["width"] >= 300, f"pictures drawn {first['width']:.0f} px wide: too small for the back row"
        page.screenshot(path=str(ARTIFACTS / "explain-projector-first-screen.png"))
        page.wait_for_function("() => document.querySelector('#explain-status').innerText.startsWith('Done')",
                               timeout=240_000)

        # The nine-cell grid fits one screen, its pictures still large.
        page.get_by_label("The knobs, as a grid", exact=True).check()
        page.wait_for_function("() => document.querySelector('#explain-caption').innerText.includes('grid')",
                               timeout=10_000)
        set_slider(page, "Size (px)", 64)
        set_slider(page, "Steps", 3)
        page.click("#explain-run")
        page.wait_for_function("() => document.querySelectorAll('#explain-panels .thumbnail-item').length === 9 && "
                               "document.querySelector('#explain-status').innerText.startsWith('Done')",
                               timeout=240_000)
        page.locator("#explain-output").evaluate("e => e.scrollIntoView({block: 'start'})")
        grid = cells(page)
        assert grid[-1]["bottom"] - grid[0]["top"] <= PROJECTOR[1] - 60, grid
        assert min(c["width"] for c in grid) >= 280, grid
        assert all(0 <= c["top"] and c["bottom"] <= PROJECTOR[1] for c in grid), grid
        page.screenshot(path=str(ARTIFACTS / "explain-projector-grid.png"))
