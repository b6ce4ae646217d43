"""Mistakes and failures through the API (issue 21): an API client is told by an error event carrying the one
sentence, and the status output carries the same sentence just before it (what the page shows in place of
Gradio's red "Error" badges). gradio_client against `python app.py` on 127.0.0.1 (the shared test server)."""

from __future__ import annotations

import httpx
import pytest

from .apphelpers import app_server, job_error, new_client, wait_job  # noqa: F401  (app_server is a fixture)

gradio_client = pytest.importorskip("gradio_client")
handle_file = gradio_client.handle_file

pytestmark = pytest.mark.server

NOT_AN_IMAGE = "This file is not an image we accept: use JPEG, PNG, WebP, GIF, BMP or TIFF."


@pytest.fixture
def text_photo(tmp_path):
    path = tmp_path / "holiday.jpg"
    path.write_text("this is text, not a picture\n")
    return path


def last_status(job, index: int = 1) -> str | None:
    texts = [out[index] for out in job.outputs() if isinstance(out[index], str)]
    return texts[-1] if texts else None


def test_a_refused_job_tells_the_status_then_the_error(app_server, text_photo, shared_images, tmp_path):  # noqa: F811
    client = new_client(app_server, tmp_path / "downloads")
    job = client.submit(handle_file(text_photo), handle_file(shared_images / "starry_night.jpg"), 2, 64,
                        api_name="/stylize")
    wait_job(job, 60)
    assert job_error(job) == NOT_AN_IMAGE
    assert last_status(job) == NOT_AN_IMAGE


def test_a_job_that_fails_on_its_way_tells_the_status_then_the_error(app_server, shared_images,  # noqa: F811
                                                                     tmp_path):
    client = new_client(app_server, tmp_path / "downloads")
    job = client.submit(handle_file(shared_images / "tubingen.jpg"), "mosaic_tesserae", 2, 64, weights="vgg19",
                        api_name="/stylize")
    wait_job(job, 60)
    message = job_error(job)
    assert message and "not downloaded" in message
    assert last_status(job) == message


def test_the_fast_tabs_instant_picture_reports_like_a_job(app_server, text_photo, tmp_path):  # noqa: F811
    """The Fast tab's photo-to-picture handler raised alone: its picture, status and download were marked "Error"."""
    client = new_client(app_server, tmp_path / "downloads")
    job = client.submit(handle_file(text_photo), "swirling_impasto", None, 128, api_name="/fast_stylize")
    wait_job(job, 60)
    assert job_error(job) == NOT_AN_IMAGE
    assert last_status(job) == NOT_AN_IMAGE


def weights_menus(server) -> list[tuple[list[tuple[str, str]], str]]:
    """The (label, value) options and the default of each Network weights menu as the server builds it (the page
    narrows the options on load to what runs here: tests/test_errors_browser.py)."""
    config = httpx.get(server.url + "/config", timeout=30).json()
    return [([tuple(choice) for choice in c["props"]["choices"]], c["props"]["value"]) for c in config["components"]
            if c.get("props", {}).get("label") == "Network weights"]


def test_offline_without_nst_weights_the_default_runs_and_the_sentence_shows_the_way(offline_server, shared_images,
                                                                                     tmp_path):
    """Issue 21 (2): offline without NST_WEIGHTS, vgg19, vgg16 and the Caffe conversions all failed the same way,
    each sentence sending the newcomer to "another option", and nothing named NST_WEIGHTS. Now the default is what
    runs here (untrained); the API still takes every source's name, and one it cannot fetch gets the way out."""
    menus = weights_menus(offline_server)
    assert len(menus) == 2  # Stylize's and Explain's
    for menu, default in menus:
        assert default == "untrained", menus
        assert menu[0][1] == "vgg19" and menu[-1][1] == "untrained" and "ready" in menu[-1][0]
        assert all("not downloaded" in label for label, value in menu if value != "untrained"), menu

    client = new_client(offline_server, tmp_path / "downloads")
    photo = handle_file(shared_images / "tubingen.jpg")
    job = client.submit(photo, "mosaic_tesserae", 2, 64, weights="vgg19", api_name="/stylize")
    wait_job(job, 90)
    message = job_error(job)
    assert message == ("The vgg19 weights are not downloaded and this server could not fetch them; choose one "
                       "marked ready under Network weights, or start the server with NST_WEIGHTS set to a VGG "
                       "weights file.")
    assert last_status(job) == message
    job = client.submit(photo, "mosaic_tesserae", 2, 64, content_layer="relu2_1", style_layers=["relu1_1", "relu2_1"],
                        api_name="/stylize")  # the default: untrained
    wait_job(job, 90)
    assert "Done" in job.result()[1]
