"""The Explain tab through its API (/explain): gradio_client against `python app.py` on 127.0.0.1 with the real
weights. Small views only (64-96 px, a few steps): the box may have two CPU cores."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .apphelpers import app_server, wait_job  # noqa: F401  (app_server is a fixture)
from .test_app_server import assert_one_clean_sentence

gradio_client = pytest.importorskip("gradio_client")
Client, handle_file = gradio_client.Client, gradio_client.handle_file

pytestmark = pytest.mark.server


@pytest.fixture
def client(app_server, tmp_path):  # noqa: F811
    return Client(app_server.url, verbose=False, download_files=str(tmp_path / "downloads"))


@pytest.fixture(scope="module")
def photos(shared_images) -> dict[str, Path]:
    return {"content": shared_images / "tubingen.jpg", "style": shared_images / "starry_night.jpg"}


def explain(client, photos, view: str, **options):
    return client.submit(view, handle_file(photos["content"]), handle_file(photos["style"]), api_name="/explain",
                         **options)


def settled(job) -> list:
    """Each output as the page shows it at the end: its last value in the stream. The last update alone may skip
    the numbers (a frame whose numbers did not change sends none): under load a view sent one more frame, and
    `job.result()`'s numbers were a bare skip."""
    shown: list = [None, None, None]
    for out in job.outputs():
        shown = [old if new == {"__type__": "update"} else new for old, new in zip(shown, out)]
    return shown


def galleries(outputs) -> list[list[dict]]:
    """The panel lists the stream carried (a gr.update with a value), in order."""
    return [out[0]["value"] for out in outputs if isinstance(out[0], dict) and "value" in out[0]]


def test_reconstruct_streams_its_panels_as_they_fill_in(client, photos):
    job = explain(client, photos, "reconstruct", layers=["relu1_1", "relu3_1"], size=64, steps=30)
    wait_job(job, 120)
    gallery, status, numbers = settled(job)
    panels = galleries(job.outputs())
    assert len(panels) >= 3, f"expected the panels to stream in, got {len(panels)} updates"
    assert [p["caption"] for p in panels[0]] == ["the photo", "the noise it starts from"]  # the first picture
    assert [p["caption"] for p in gallery["value"]] == ["the photo", "the noise it starts from", "from relu1_1",
                                                       "from relu3_1"]
    assert all(Path(p["image"]).is_file() for p in gallery["value"])
    assert status.startswith("Done") and "relu1_1" in numbers and "dB" in numbers


def test_layers_of_the_painting_name_its_busiest_channels(client, photos):
    job = explain(client, photos, "layers", source="painting", layer="relu2_1", channel="3", size=96)
    wait_job(job, 60)
    gallery, status, numbers = settled(job)
    assert [p["caption"] for p in gallery["value"]] == ["the picture", "16 busiest of 128 maps",
                                                       "Gram matrix (64 strongest)", "where channel 3 fires"]
    assert "relu2_1 has **128 channels**" in numbers


def test_the_visitor_has_one_job_across_both_tabs_and_stop_frees_it(client, photos):
    long_view = explain(client, photos, "texture", size=96, steps=300)
    deadline = time.monotonic() + 60
    while not any("step" in str(out[1]) for out in long_view.outputs()):
        assert not long_view.done() and time.monotonic() < deadline, long_view.outputs()
        time.sleep(0.05)
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(photos["content"]), handle_file(photos["style"]), 2, 64, api_name="/stylize")
    assert "You already have a job running" in str(caught.value)

    long_view.cancel()
    small = explain(client, photos, "layers", size=64)
    wait_job(small, 30)
    assert small.result()[1].startswith("Done")
    assert not any(str(out[1]).startswith("Done") for out in long_view.outputs()), "the cancelled view went on"


@pytest.mark.parametrize("view, options, expected", [
    ("layers", {"channel": "4000"}, "Channel must be between 0 and 255 for relu3_1"),
    ("layers", {"channel": "-2"}, "Channel must be a whole number, or blank for the busiest one"),
    ("shuffle", {"tiles": 1}, "Tiles per side must be between 2 and 16"),
    ("reconstruct", {"layers": []}, "Tick at least one layer"),
    ("grid", {"size": 4000}, "Size (px) must be between 32 and 512"),
])
def test_bad_options_get_one_sentence(client, photos, view, options, expected):
    with pytest.raises(Exception) as caught:
        explain(client, photos, view, **options).result()
    assert expected in str(caught.value)
    assert_one_clean_sentence(str(caught.value))


def test_an_unknown_view_is_refused(client, photos):
    with pytest.raises(Exception) as caught:
        explain(client, photos, "spiral").result()
    assert "'spiral'" in str(caught.value) and "not in the list of choices" in str(caught.value)


def test_a_view_needs_the_stylize_tabs_photo(client, photos):
    with pytest.raises(Exception) as caught:
        client.predict("reconstruct", None, handle_file(photos["style"]), api_name="/explain")
    assert "Add a photo first" in str(caught.value)
