"""The Video tab in a real browser (Debian's chromium): a clip uploaded, painted with its frames previewed and its
flicker charted, downloaded as an MP4 with every frame; Stop during a slow run keeping the frames painted; a file
that is not a video answered in one sentence, Paint usable again. Leaves screenshots in test-artifacts/
(video-painted.png, video-stopped.png)."""

from __future__ import annotations

import httpx
import pytest

from bench.video import make_pan_clip
from nst_core.fast.apply import shipped_styles
from nst_core.gallery import list_styles

from .apphelpers import app_server, studio_page  # noqa: F401  (app_server is a fixture)
from .test_app_browser import screenshot
from .test_errors_browser import badges, status
from .test_fast_browser import status_has
from .test_video import frames_of

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif("stained_glass" not in shipped_styles(), reason="no shipped stained_glass network")]


@pytest.fixture
def page(app_server, tmp_path):  # noqa: F811
    with studio_page(app_server.url, tmp_path / "profile", (1280, 1100)) as page:
        page.get_by_role("tab", name="Video").click()
        page.wait_for_selector("#video-clip", state="visible")
        yield page


def pick_painting(page, title: str) -> None:
    titles = [style.title for style in list_styles() if style.available]
    page.locator("#video-gallery button.thumbnail-item").nth(titles.index(title)).click()
    page.wait_for_selector("#video-painting img", state="visible", timeout=30_000)


def add_clip(page, path) -> None:
    page.set_input_files("#video-clip input[type=file]", str(path))
    page.wait_for_selector("#video-clip video", state="attached", timeout=30_000)


def downloaded(page, server_url: str, folder) -> list:
    link = page.locator("#video-download a[href]").first
    link.wait_for(state="attached", timeout=30_000)
    href = link.get_attribute("href")
    path = folder / "downloaded.mp4"
    path.write_bytes(httpx.get(href if href.startswith("http") else server_url + href, timeout=30).content)
    return frames_of(path)


def test_a_clip_is_painted_previewed_charted_and_downloaded(page, app_server, shared_images, tmp_path):  # noqa: F811
    clip = tmp_path / "pan.mp4"
    make_pan_clip(clip, shared_images / "tubingen.jpg", frames=16, size=(160, 120))
    add_clip(page, clip)
    pick_painting(page, "Stained glass")
    page.click("#video-paint")
    status_has(page, "#video-status", "Done", 120)
    page.wait_for_selector("#video-preview img", state="visible")
    page.wait_for_selector("#video-result video", state="attached", timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('#video-chart svg path, #video-chart canvas').length > 0",
                           timeout=30_000)
    assert len(downloaded(page, app_server.url, tmp_path)) == 16
    page.wait_for_selector("#video-paint:not([disabled])", timeout=15_000)
    status_has(page, "#history", "Video: Stained glass, fast, 16 frames", 30)
    screenshot(page, "video-painted.png")


def test_stop_during_a_slow_run_keeps_the_frames_painted(page, app_server, shared_images, tmp_path):  # noqa: F811
    clip = tmp_path / "long.mp4"
    make_pan_clip(clip, shared_images / "golden_gate.jpg", frames=40, size=(96, 64))
    add_clip(page, clip)
    pick_painting(page, "Ink hatching")
    page.get_by_label("Optimisation (seconds a frame: for any painting)").check()
    page.click("#video-paint")
    status_has(page, "#video-status", "Frame **2**".replace("**", ""), 180)
    page.click("#video-stop")
    status_has(page, "#video-status", "Stopped at frame", 120)
    text = page.locator("#video-status").inner_text()
    kept = int(text.split("Stopped at frame ")[1].split(" ")[0])
    assert 2 <= kept < 40, text
    assert len(downloaded(page, app_server.url, tmp_path)) == kept
    page.wait_for_selector("#video-paint:not([disabled])", timeout=15_000)
    screenshot(page, "video-stopped.png")


def test_a_file_that_is_not_a_video_is_one_sentence_and_paint_works_again(page, tmp_path):
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(b"this is text, not a video\n" * 100)
    page.set_input_files("#video-clip input[type=file]", str(fake))
    pick_painting(page, "Stained glass")
    page.click("#video-paint")
    status_has(page, "#video-status", "is not a video this studio can read", 60)
    page.wait_for_selector("#video-paint:not([disabled])", timeout=15_000)
    assert status(page, "video-status") == ("The file 'holiday.mp4' is not a video this studio can read (try an MP4, "
                                            "WebM or MOV).")
    assert badges(page, ("video-status", "video-preview", "video-chart", "video-result", "video-download")) == []


def test_on_a_phone_the_flicker_chart_fills_its_panel(app_server, shared_images, tmp_path):  # noqa: F811
    """A long chart title squeezed the plot to a sliver at 390 px wide."""
    clip = tmp_path / "pan.mp4"
    make_pan_clip(clip, shared_images / "tubingen.jpg", frames=6, size=(96, 72))
    with studio_page(app_server.url, tmp_path / "profile", (390, 844), phone=True) as page:
        page.get_by_role("tab", name="Video").click()
        add_clip(page, clip)
        pick_painting(page, "Stained glass")
        page.click("#video-paint")
        status_has(page, "#video-status", "Done", 120)
        page.wait_for_selector("#video-chart svg path.background", state="attached", timeout=30_000)
        plot, panel = page.evaluate("""() => [
            document.querySelector('#video-chart svg g.role-frame path.background').getBoundingClientRect().width,
            document.querySelector('#video-chart').getBoundingClientRect().width]""")
        assert plot > 0.6 * panel, (plot, panel)
