"""The Stylize tab's job in-process: what reaches the server process when the job runs elsewhere (ZeroGPU),
and what Stop offers afterwards."""

from __future__ import annotations

import multiprocessing
import pickle
from types import SimpleNamespace

import pytest
from PIL import Image

from nst_core import Progress
from nst_core.images import read_recipe
from nst_core.steering import Steering
from studio import controls, stylize_job
from studio.batches import Batches
from studio.files import ServedFiles
from studio.jobs import JobBoard
from studio.keepsakes import Keepsakes
from studio.limits import Limits
from studio.runner import JobRunner, Throttle
from studio.stylize_job import chart_rows
from studio.tab import Shared
from studio.tabs import stylize

from .conftest import gradient_image


def _worker(connection, args, kwargs) -> None:
    try:
        for frame in stylize.stylize_frames(*args, **kwargs):
            connection.send(pickle.dumps(frame))
    finally:
        connection.send(None)
        connection.close()


def in_another_process(*args, **kwargs):
    """Run the GPU job in a separate process and stream its pickled frames back, as ZeroGPU's wrapper does:
    nothing the job does to module state is seen by the server process."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    worker = context.Process(target=_worker, args=(sending, args, kwargs), daemon=True)
    worker.start()
    try:
        while (message := receiving.recv()) is not None:
            yield pickle.loads(message)
    finally:
        worker.kill()
        worker.join(10)


@pytest.fixture
def tab(tmp_path):
    return stylize.StylizeTab(Shared(Limits(), JobRunner(JobBoard(1)), ServedFiles(tmp_path / "served"), Keepsakes(),
                                     Batches(1)))


def job_values(tmp_path, **values) -> dict:
    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    gradient_image(160, 120, seed=1).save(photo)
    gradient_image(96, 96, seed=2).save(painting)
    chosen = {**controls.defaults(Limits()), "content": str(photo), "style": str(painting), "weights": "untrained",
              "content_layer": "relu2_1", "style_layers": ["relu1_1", "relu2_1"], "preview_every": 1}
    chosen.update(values)
    return chosen


def run_until(job, condition) -> tuple:
    """Iterate the tab's output tuples until `condition(output)`; then close the job, as Stop does."""
    try:
        for output in job:
            if condition(output):
                return output
        raise AssertionError("the job ended first")
    finally:
        job.close()


def shows_a_picture(output) -> bool:
    return isinstance(output[0], str) and output[0].endswith(".webp")


def test_stop_offers_the_last_picture_when_the_job_ran_in_another_process(tab, tmp_path, monkeypatch):
    """The last picture was remembered inside the GPU-wrapped function: on ZeroGPU that is another process,
    so after Stop there was nothing to download."""
    monkeypatch.setattr(stylize, "stylize_frames", in_another_process)
    request = SimpleNamespace(session_hash="visitor-1")
    run_until(tab.run(job_values(tmp_path, iterations=300, size=64), request), shows_a_picture)
    status, download = tab.after_stop(request)
    assert status.startswith("Stopped. The last image is kept")
    with Image.open(download) as png:
        assert max(png.size) == 64
    recipe = read_recipe(download)
    assert recipe["settings"]["iterations"] == 300 and recipe["stopped_at_step"] >= 1
    board = tab.runner.board
    assert not board.running and not board.sessions  # the slot was freed when the job was closed


def test_stopping_during_a_coarse_scale_gives_the_full_size_png(tab, tmp_path):
    """It silently gave a half-size PNG."""
    request = SimpleNamespace(session_hash="visitor-2")
    output = run_until(tab.run(job_values(tmp_path, iterations=300, size=256), request),
                       lambda out: shows_a_picture(out) and "scale 1 of 2" in out[1])
    assert Image.open(output[0]).size == (128, 96)
    status, download = tab.after_stop(request)
    assert "stopped at a coarse scale (128×96), so the PNG is that picture enlarged to 256×192" in status
    with Image.open(download) as png:
        assert png.size == (256, 192)
    assert read_recipe(download)["output_size"] == [256, 192]


def test_a_finished_job_offers_its_png_with_the_engines_recipe(tab, tmp_path):
    request = SimpleNamespace(session_hash="visitor-3")
    outputs = list(tab.run(job_values(tmp_path, iterations=3, size=64, tv_weight=0.5), request))
    image, status, chart, download = outputs[-1]
    assert status.startswith("**Done**") and Image.open(image).size == (64, 48)
    assert read_recipe(download)["settings"]["tv_weight"] == 0.5
    terms = set(chart["term"])
    assert {"total", "content", "style", "tv"} <= terms and not any(t.startswith("relu") for t in terms)


def test_the_chart_plots_no_point_for_a_loss_that_was_not_finite():
    # The engine reports a NaN step's losses as None; the job's highest-point scan takes only numbers.
    event = Progress(step=4, total=9, loss=None, terms={"content": None, "style:relu1_1": 2.0, "tv": 0.5},
                     elapsed=1.0, rate=4.0, eta=1.0, size=(64, 48), output_size=(64, 48), scale=1, scales=1,
                     device="cpu")
    rows = chart_rows(event, show_layers=True)
    assert [(row["term"], row["loss"]) for row in rows] == [("style", 2.0), ("tv", 0.5), ("relu1_1", 2.0)]


def test_a_short_runs_time_lapse_has_a_frame_every_step_and_its_previews_stay_as_set(tab, tmp_path):
    """A 40-step run previewed every 10 steps made a time-lapse of 5 frames."""
    request = SimpleNamespace(session_hash="visitor-4")
    outputs = list(tab.run(job_values(tmp_path, iterations=40, size=64, preview_every=10), request))
    shown = [out for out in outputs if shows_a_picture(out)]
    assert len(shown) <= 5  # steps 1, 10, 20, 30, 40 at most (fewer where the throttle held one back)
    film = tab.keepsakes.film(tab.key("visitor-4"))
    steps = [shot.step for shot in film.shots]
    assert len(steps) >= 24 and steps == sorted(steps) and steps[-1] == 40, steps
    assert read_recipe(outputs[-1][3])["settings"]["preview_every"] == 10


def test_a_job_without_a_film_yields_no_quiet_frames(tmp_path, monkeypatch):
    """The comparison of two style losses shows every frame's status: it asks for no film, so gets no quiet frames,
    even where the throttle holds its previews back (here all of them but the last)."""
    monkeypatch.setattr(stylize_job, "Throttle", lambda: Throttle(picture=1000))
    values = job_values(tmp_path, iterations=12, size=64, preview_every=1)
    content, styles, settings = stylize.checked_inputs(values, Limits())
    frames = list(stylize.stylize_frames(content, styles, settings, False))
    assert frames and all(frame.status and "film" not in frame.meta for frame in frames)


def test_a_weight_moved_during_a_job_is_marked_on_the_chart_and_said_in_the_status(tmp_path, monkeypatch):
    """Issue 23 (4): the page's sliders steer the running job; the chart draws a red line where and the status says
    what changed from which step; the recipe records the schedule."""
    monkeypatch.setattr(stylize_job, "Throttle", lambda: Throttle(picture=0))
    values = job_values(tmp_path, iterations=10, size=64, coarse_to_fine=False)
    content, styles, settings = stylize.checked_inputs(values, Limits())
    steering = Steering()
    frames = []
    for frame in stylize.stylize_frames(content, styles, settings, False, steering=steering):
        frames.append(frame)
        if frame.step == 4:
            steering.set(style_weight=60.0)
    rows = [row for frame in frames for row in frame.rows if row["term"] == stylize_job.STEERED]
    assert rows[0] == {"step": 1, "loss": None, "term": "weights moved"}  # named first: the chart draws it
    assert [row["step"] for row in rows[1:]] == [4.5, 4.5] and rows[2]["loss"] > 0  # a vertical line at step 5
    assert "Style weight 60 from step 5." in frames[-1].status
    assert not any("from step" in frame.status for frame in frames if frame.step < 5)
    assert frames[-1].recipe["schedule"] == [{"step": 5, "style_weight": 60.0}]
