"""Stopping work on a public server: a storm of cancelled jobs, and a closed browser tab, leave nothing
computing and the next visitor is served at once. Tiny jobs; every loop bounded in count and time."""

from __future__ import annotations

import random
import time

import pytest
from gradio_client import handle_file

from .apphelpers import (  # noqa: F401  (app_server is a fixture)
    app_server,
    assert_fresh_job_runs_promptly,
    job_error,
    new_client,
    report,
    set_slider,
    small_job,
    statuses,
    steps_per_second,
    studio_page,
    timed_small_job,
    wait_for_status,
    wait_idle,
    wait_queue_empty,
)

pytestmark = pytest.mark.server

IDLE = 0.3  # of a core: an idle server uses far less (Gradio's heartbeats), a computing one a core or more


def settle_seconds(small_job_seconds: float, step_seconds: float = 0.0) -> float:
    """How long to give the server to become idle: a step between two yields finishes before a cancel acts,
    and a loaded machine does that, and the clean-up after it, several times slower than a quiet one."""
    return max(10.0, 5 * (small_job_seconds + step_seconds))


def test_cancel_storm_leaves_no_running_work(app_server, files, tmp_path):  # noqa: F811
    _, small_seconds = timed_small_job(app_server, files, tmp_path / "yardstick")  # this machine's speed now
    storm = new_client(app_server, tmp_path / "storm")
    blocker = new_client(app_server, tmp_path / "blocker").submit(
        handle_file(files["content"]), handle_file(files["style"]), 1000, 128, preview_every=50,
        api_name="/stylize")
    assert wait_for_status(blocker, "Step", 45), f"the blocking job never started: {statuses(blocker)}"

    rng = random.Random(1)
    seen = {"waiting": 0, "running": 0, "refused": 0, "other": 0}
    started = time.monotonic()
    for index in range(20):
        if index == 8:
            blocker.cancel()  # from now on the storm's jobs get the compute slot and are cancelled running
        job = small_job(storm, files, iterations=300, preview_every=10)
        if index < 8:
            reached = wait_for_status(job, "busy", 5)
        else:
            reached = wait_for_status(job, "Step", 10)
        time.sleep(rng.uniform(0, 0.15))
        job.cancel()
        deadline = time.monotonic() + 10
        while not job.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        error = job_error(job) if job.done() else None
        if error and "already have a job" in error:
            seen["refused"] += 1
        elif reached:
            seen["waiting" if index < 8 else "running"] += 1
        else:
            seen["other"] += 1
        assert not any("Done" in s for s in statuses(job)), "a cancelled 300-step job ran to the end"
    storm_seconds = time.monotonic() - started
    report(f"cancel storm: 20 jobs in {storm_seconds:.1f} s, outcomes {seen}")
    assert seen["waiting"] >= 4 and seen["running"] >= 6, seen

    assert wait_queue_empty(app_server) == 0, "events are still queued after the storm"
    share = wait_idle(app_server.process.pid, below=IDLE, timeout=settle_seconds(small_seconds))
    assert share < IDLE, f"the server still computes after the storm ({share:.0%} of a core)"
    took, busy = assert_fresh_job_runs_promptly(app_server, files, tmp_path / "fresh")
    report(f"after the storm: idle at {share:.0%} of a core; a fresh job took {took:.2f} s ({busy} busy updates)")
    assert blocker.done() and not any("Done" in s for s in statuses(blocker))


@pytest.mark.browser
def test_closing_the_tab_frees_the_compute_slot(app_server, files, shared_images, tmp_path):  # noqa: F811
    _, small_seconds = timed_small_job(app_server, files, tmp_path / "yardstick")  # this machine's speed now
    with studio_page(app_server.url, tmp_path / "profile") as page:
        page.set_input_files("#content input[type=file]", str(shared_images / "tubingen.jpg"))
        page.wait_for_selector("#content img", state="visible", timeout=30_000)
        page.locator("#gallery button.thumbnail-item").first.click()
        page.wait_for_selector("#style img", state="visible", timeout=30_000)
        set_slider(page, "Output size (px)", 256)
        set_slider(page, "Iterations", 1000)
        page.click("#run")
        page.wait_for_function("() => (document.querySelector('#status')?.innerText || '').includes('Step')",
                               timeout=60_000)
        step_text = page.locator("#status").inner_text()
        assert "/1000" in step_text, step_text
        page.close()
        closed_at = time.monotonic()
    # The server notices the closed stream and closes the generator; the only compute slot is free again.
    rate = steps_per_second([step_text])
    settle = settle_seconds(small_seconds, 1 / rate if rate > 0 else 0.0)
    share = wait_idle(app_server.process.pid, below=IDLE, timeout=settle)
    idle_after = time.monotonic() - closed_at
    took, busy = assert_fresh_job_runs_promptly(app_server, files, tmp_path / "after-close")
    report(f"tab close: server idle {idle_after:.2f} s after the close ({share:.0%} of a core); "
           f"a fresh job then took {took:.2f} s ({busy} busy updates)")
    assert share < IDLE, f"the closed tab's job still computes ({share:.0%} of a core) {settle:.0f} s after"
