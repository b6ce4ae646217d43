"""The limits of one job: the wall-clock limit ends it with its last image, and running out of memory (simulated
on the CPU, in this process) is one sentence after which the next job runs."""

from __future__ import annotations

import re
import time

import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image

from nst_core.images import read_recipe

from .apphelpers import (
    assert_no_leak,
    job_error,
    new_client,
    report,
    small_job,
    statuses,
    wait_job,
)

pytestmark = pytest.mark.server


def test_wall_clock_limit_ends_a_long_job_with_its_image(limited_server, files, tmp_path):
    client = new_client(limited_server, tmp_path / "downloads")
    warm = small_job(client, files)  # the first job of a fresh server loads the weights: keep that out
    wait_job(warm, 45)
    started = time.monotonic()  # the yardstick: a small job's whole time, start to finish, on this machine now
    reference = small_job(client, files)
    wait_job(reference, 45)
    small_seconds = time.monotonic() - started
    submitted = time.monotonic()
    job = client.submit(handle_file(files["content"]), handle_file(files["style"]), 1000, 128, preview_every=25,
                        api_name="/stylize")
    wait_job(job, 40)
    ran = time.monotonic() - submitted
    image, status, _chart, download = job.result()
    report(f"wall-clock limit 3 s: the 1000-step job ended {ran:.2f} s after it was submitted; status {status!r}")
    assert "Done" in status and "Stopped at the 3 s time limit" in status, status
    steps = int(re.search(r"after (\d+) steps", status).group(1))
    assert 1 <= steps < 1000
    # It acts at the first step past 3 s: allow the job's start and finish (twice a small job's whole time) and
    # two of its own steps.
    allowed = 3 + 2 * small_seconds + 2 * 3 / steps
    assert ran < allowed, f"the 3 s limit took {ran:.1f} s to act (allowed {allowed:.1f} s on this machine now)"
    with Image.open(image) as img:
        assert max(img.size) == 128
    assert isinstance(download, str) and download.endswith(".png")
    with Image.open(download) as png:
        assert png.format == "PNG" and max(png.size) == 128
    recipe = read_recipe(download)
    assert recipe is not None and recipe["settings"]["iterations"] == 1000


def test_out_of_memory_gives_a_clean_error_and_the_next_job_runs(inprocess_app, files, tmp_path, monkeypatch):
    import nst_core.engine

    app, url = inprocess_app
    raised = []

    def exhausted(self, image):  # (the run, the image being optimised)
        raised.append(image.shape)
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.1 GiB total)")

    with monkeypatch.context() as patch:
        patch.setattr(nst_core.engine._Run, "evaluate", exhausted)  # every step, whole or tiled, evaluates here
        client = Client(url, verbose=False, download_files=str(tmp_path / "a"))
        job = small_job(client, files)
        wait_job(job, 30)
        message = job_error(job)
    assert raised, "the patched evaluation was never called"
    assert message is not None, f"the out-of-memory job did not fail: {statuses(job)}"
    assert "ran out of memory" in message and "choose a smaller size" in message, message
    assert "CUDA out of memory" not in message and "GiB" not in message, message
    assert "\n" not in message and len(re.findall(r"[.!?](\s|$)", message)) == 1, message
    assert_no_leak(message)
    assert not app.demo.board.running and not app.demo.board.waiting and not app.demo.board.sessions

    # The next job, from the same session and from a new one, runs normally.
    again = small_job(client, files)
    wait_job(again, 30)
    assert "Done" in again.result()[1], statuses(again)
    other = small_job(Client(url, verbose=False, download_files=str(tmp_path / "b")), files)
    wait_job(other, 30)
    assert "Done" in other.result()[1], statuses(other)
    report(f"out of memory: client saw {message!r}; the next two jobs completed")
