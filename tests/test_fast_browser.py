"""The Fast tab in a real browser (Debian's chromium with a fake camera): instant stylization (into the history
strip), a live training run with Stop, the webcam streaming through a network, Refine's Stop and errors. Leaves
screenshots in test-artifacts/ (fast-instant.png, fast-training.png, fast-webcam.png)."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from nst_core.fast.apply import shipped_models, style_model
from nst_core.fast.model import save_model
from nst_core.images import read_recipe

from .apphelpers import ROOT, app_server, set_slider, studio_page  # noqa: F401  (app_server is a fixture)
from .test_app_browser import ARTIFACTS, LAPTOP, boxes, off_screen, screenshot

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not shipped_models(), reason="no shipped fast models in styles/fast")]

FAKE_CAMERA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


@pytest.fixture
def page(app_server, tmp_path):  # noqa: F811
    with studio_page(app_server.url, tmp_path / "profile", (1280, 1100), extra_args=FAKE_CAMERA) as page:
        page.get_by_role("tab", name="Fast").click()
        page.wait_for_selector("#fast-photo", state="visible")
        yield page


def status_has(page, selector: str, text: str, timeout: float = 60) -> None:
    page.wait_for_function(f"() => (document.querySelector({selector!r})?.innerText || '').includes({text!r})",
                           timeout=timeout * 1000)


def test_a_photo_is_stylized_instantly_and_offered_as_a_png(page, shared_images):
    page.set_input_files("#fast-photo input[type=file]", str(shared_images / "tubingen.jpg"))
    page.wait_for_selector("#fast-result img", state="visible", timeout=60_000)
    status_has(page, "#fast-status", "one pass")
    assert " ms" in page.locator("#fast-status").inner_text()
    link = page.locator("#fast-download a[href]").first
    link.wait_for(state="attached", timeout=15_000)
    assert ".png" in link.get_attribute("href")
    # The picture joins the history strip below the tabs, with the network it came from (it never did).
    status_has(page, "#history", "Fast: ", 30)
    assert page.locator("#history img").count() == 1
    screenshot(page, "fast-instant.png")


def test_a_training_run_streams_and_stop_keeps_the_best_network(page, shared_images):
    page.set_input_files("#fast-photo input[type=file]", str(shared_images / "golden_gate.jpg"))
    page.wait_for_selector("#fast-result img", state="visible", timeout=60_000)
    page.get_by_text("Train a fast network for this painting").click()
    page.locator("#fast-gallery button.thumbnail-item").first.click()
    page.wait_for_selector("#fast-painting img", state="visible", timeout=30_000)
    set_slider(page, "Training time (s)", 60)
    page.click("#fast-train")
    page.wait_for_selector("#fast-train[disabled]", timeout=10_000)
    status_has(page, "#fast-train-status", "Step", 120)
    page.wait_for_selector("#fast-learning img", state="visible", timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('#fast-chart svg path, #fast-chart canvas').length > 2",
                           timeout=60_000)
    page.locator("#fast-train-box").scroll_into_view_if_needed()
    screenshot(page, "fast-training.png")
    page.click("#fast-train-stop")
    status_has(page, "#fast-train-status", "Stopped", 30)
    page.wait_for_selector("#fast-train:not([disabled])", timeout=15_000)
    assert "best network so far is kept" in page.locator("#fast-train-status").inner_text()
    link = page.locator("#fast-model-file a[href]").first
    link.wait_for(state="attached", timeout=15_000)
    assert ".pt" in link.get_attribute("href")
    status_has(page, "#fast-status", "your painting", 60)  # loaded again: the photo restyled with it


def start_webcam(page) -> None:
    """Open the webcam box, start the (fake) camera and wait for the first stylized frame."""
    page.get_by_text("Live webcam through the network").click()
    webcam = page.locator("#fast-webcam")
    webcam.scroll_into_view_if_needed()
    access = webcam.get_by_text("Click to Access Webcam")
    if access.count():
        access.first.click()
    webcam.locator("button").filter(has_text="Record").or_(webcam.get_by_label("start recording")).first.click()
    page.wait_for_selector("#fast-live img", state="visible", timeout=60_000)


def test_the_webcam_streams_through_the_network(page):
    start_webcam(page)
    first = page.locator("#fast-live img").first.get_attribute("src")
    page.wait_for_function(f"() => document.querySelector('#fast-live img')?.src !== {first!r}", timeout=30_000)
    screenshot(page, "fast-webcam.png")


def test_refine_and_train_work_after_an_error_and_stop_keeps_the_last_picture(page, app_server, shared_images):  # noqa: F811
    """As the Stylize tab's Run: an error leaves the button usable; Stop keeps the last picture as a PNG whose
    recipe says where it stopped and which network it was refined from."""
    page.click("#fast-refine")
    page.get_by_text("Add a photo first.").first.wait_for(timeout=15_000)
    page.wait_for_selector("#fast-refine:not([disabled])", timeout=5_000)
    page.get_by_text("Train a fast network for this painting").click()
    page.click("#fast-train")
    page.get_by_text("Add a photo first: the network").first.wait_for(timeout=15_000)
    page.wait_for_selector("#fast-train:not([disabled])", timeout=5_000)

    # 256 px: the engine's 150 steps last long enough to stop them on a fast machine too.
    set_slider(page.locator("#fast-size"), "Output size (px)", 256)
    page.set_input_files("#fast-photo input[type=file]", str(shared_images / "tubingen.jpg"))
    status_has(page, "#fast-status", "256×192")
    page.click("#fast-refine")
    page.wait_for_selector("#fast-refine[disabled]", timeout=10_000)
    # Past step 10, the first refined picture (a preview every 10 steps) has been shown and kept.
    step = "Number(/Step (\\d+)\\//.exec(document.querySelector('#fast-status')?.innerText)?.[1])"
    page.wait_for_function(f"() => {step} > 10", timeout=240_000)
    page.click("#fast-stop")
    status_has(page, "#fast-status", "Stopped", 30)
    page.wait_for_selector("#fast-refine:not([disabled])", timeout=15_000)
    href = page.locator("#fast-download a[href]").first.get_attribute("href")
    response = httpx.get(href if href.startswith("http") else app_server.url + href, timeout=15)
    recipe = read_recipe(response.content)
    assert recipe["refined_from"]["style"] and recipe["stopped_at_step"] >= 1 and recipe["output_size"] == [256, 192]
    # Stopped during the coarse scale, the PNG is still the size asked for (it was the coarse 128x96 picture).
    assert Image.open(io.BytesIO(response.content)).size == (256, 192)


def menu_shows(page) -> str:
    return page.locator("#fast-model input").input_value()


def test_a_training_stays_in_view_on_a_laptop_and_its_network_is_picked(app_server, shared_images, tmp_path):  # noqa: F811
    """At 1366x768, after Train, the network's output, the status and the loss chart sat a screen above the visible
    part of the page: only the greyed-out Train button was in view. And once trained, the menu still named the
    shipped network while the picture came from the trained one."""
    watched = ["#fast-train", "#fast-train-stop", "#fast-train-status", "#fast-learning", "#fast-chart"]
    with studio_page(app_server.url, tmp_path / "profile", LAPTOP) as page:
        page.get_by_role("tab", name="Fast").click()
        page.set_input_files("#fast-photo input[type=file]", str(shared_images / "golden_gate.jpg"))
        page.wait_for_selector("#fast-result img", state="visible", timeout=60_000)
        shipped = menu_shows(page)
        page.get_by_text("Train a fast network for this painting").click()
        page.locator("#fast-gallery button.thumbnail-item").first.click()
        page.wait_for_selector("#fast-painting img", state="visible", timeout=30_000)
        set_slider(page, "Training time (s)", 10)
        page.click("#fast-train")  # playwright scrolls to the button first, as a visitor would
        status_has(page, "#fast-train-status", "Step", 120)
        page.wait_for_function("() => document.querySelector('#fast-learning img')?.complete", timeout=120_000)
        assert off_screen(page, watched, LAPTOP) == {}, boxes(page, watched)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "fast-training-laptop.png"))
        status_has(page, "#fast-train-status", "Done", 120)
        page.wait_for_selector("#fast-train:not([disabled])", timeout=15_000)
        status_has(page, "#fast-status", "your painting", 60)  # the trained network restyled the photo above
        assert off_screen(page, watched, LAPTOP) == {}, boxes(page, watched)
        page.screenshot(path=str(ARTIFACTS / "fast-trained-laptop.png"))
        assert menu_shows(page) != shipped and "your painting" in menu_shows(page), menu_shows(page)


def test_the_menu_names_the_network_in_the_model_file_box(page, shared_images, tmp_path):
    """A model file in the box is what stylizes the photo, so the menu names it; picking a shipped network in the
    menu then uses that one (the file in the box had won over the menu)."""
    page.set_input_files("#fast-photo input[type=file]", str(shared_images / "tubingen.jpg"))
    page.wait_for_selector("#fast-result img", state="visible", timeout=60_000)
    status_has(page, "#fast-status", "one pass")
    save_model(style_model("stained_glass"), tmp_path / "stained_glass.pt")  # a file of one style
    page.set_input_files("#fast-model-file input[type=file]", str(tmp_path / "stained_glass.pt"))
    page.wait_for_function("() => ['stained_glass', 'one pass'].every(w => "
                           "document.querySelector('#fast-status').innerText.includes(w))", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#fast-model input').value.includes('stained_glass')",
                           timeout=15_000)
    assert menu_shows(page).startswith("Model file"), menu_shows(page)
    page.locator("#fast-model input").click()
    page.get_by_role("option", name="Swirling impasto").click()
    page.wait_for_function("() => ['swirling_impasto', 'one pass'].every(w => "
                           "document.querySelector('#fast-status').innerText.includes(w))", timeout=60_000)
    assert menu_shows(page) == "Swirling impasto"
    assert page.locator("#fast-model-file a[href]").count() == 0  # the box was emptied: the menu's pick is used


def test_a_file_of_several_styles_offers_each_and_blends_two_live(page, shared_images, tmp_path):
    """A model file of two styles: the menu offers each, "Blend with" offers the other one, and the blend slider
    moves the photo and the webcam between them (the shipped files of one style hide the blend)."""
    from .test_fast_server import two_style_file

    assert not page.locator("#fast-blend-with").is_visible()  # a shipped network of one style: nothing to blend
    page.set_input_files("#fast-photo input[type=file]", str(shared_images / "tubingen.jpg"))
    status_has(page, "#fast-status", "one pass")
    page.set_input_files("#fast-model-file input[type=file]", str(two_style_file(tmp_path / "two.pt")))
    status_has(page, "#fast-status", "stained_glass (slim")
    assert menu_shows(page) == "Model file: Stained glass"
    page.locator("#fast-blend-with input").click()
    page.get_by_role("option", name="Pointillism").click()
    status_has(page, "#fast-status", "stained_glass 0.5 + pointillism 0.5")
    page.wait_for_selector("#fast-blend", state="visible", timeout=10_000)
    set_slider(page.locator("#fast-blend"), "Blend (0: the style above, 1: the one beside)", 1)
    status_has(page, "#fast-status", "pointillism (slim")
    start_webcam(page)
    set_slider(page.locator("#fast-blend"), "Blend (0: the style above, 1: the one beside)", 0)
    status_has(page, "#fast-status", "stained_glass (slim")
    first = page.locator("#fast-live img").first.get_attribute("src")
    page.wait_for_function(f"() => document.querySelector('#fast-live img')?.src !== {first!r}", timeout=30_000)
    screenshot(page, "fast-blend-webcam.png")


def test_on_a_phone_the_blend_controls_fit_the_screen(app_server, shared_images, tmp_path):  # noqa: F811
    from .test_app_browser import PHONE
    from .test_fast_server import two_style_file

    with studio_page(app_server.url, tmp_path / "profile", PHONE, phone=True) as page:
        page.get_by_role("tab", name="Fast").click()
        page.set_input_files("#fast-photo input[type=file]", str(shared_images / "golden_gate.jpg"))
        status_has(page, "#fast-status", "one pass")
        page.set_input_files("#fast-model-file input[type=file]", str(two_style_file(tmp_path / "two.pt")))
        status_has(page, "#fast-status", "stained_glass (slim")
        page.locator("#fast-blend-with input").click()
        page.get_by_role("option", name="Pointillism").click()
        status_has(page, "#fast-status", "stained_glass 0.5 + pointillism 0.5")
        for selector in ("#fast-model", "#fast-blend-with", "#fast-blend"):
            box = page.locator(selector).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0], (selector, box)
        page.locator("#fast-blend").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "fast-blend-phone.png"))
