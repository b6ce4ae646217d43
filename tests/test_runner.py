"""The job runner every tab's handler goes through, without a server: the ticket is always given back, a user
error is one sentence, one job per session across tabs, waiting says so; and the throttle's timing."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

from nst_core import NSTError
from nst_core.errors import NotDownloaded
from studio import jobs
from studio.jobs import JobBoard
from studio.runner import ONE_JOB, JobRunner, Throttle, reported, status_update, user_errors


def visitor(name: str) -> SimpleNamespace:
    return SimpleNamespace(session_hash=name)


def counting(checked: int, session: str):
    for step in range(checked):
        yield f"{session} step {step + 1}"


def stream(runner: JobRunner, name: str, job=counting, check=lambda: 3, **options):
    return runner.stream(visitor(name), check, job, waiting=lambda line: f"waiting: {line}", **options)


def assert_board_empty(board: JobBoard) -> None:
    assert not board.running and not board.waiting and not board.sessions


def test_a_finished_job_streams_its_updates_and_leaves_the_board():
    runner = JobRunner(JobBoard(1))
    assert list(stream(runner, "a")) == ["a step 1", "a step 2", "a step 3"]
    assert_board_empty(runner.board)


def test_a_user_error_in_the_job_is_one_sentence_and_the_ticket_is_given_back():
    runner = JobRunner(JobBoard(1))

    def failing(checked, session):
        yield "a first picture"
        raise NSTError("The painting is too small.")

    updates = stream(runner, "a", failing)
    assert next(updates) == "a first picture"
    assert next(updates) == "waiting: The painting is too small."  # the status line says it; the picture stays
    with pytest.raises(gr.Error) as caught:
        next(updates)
    assert caught.value.message == "The painting is too small." and caught.value.print_exception is False
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no traceback of ours to show
    assert_board_empty(runner.board)


def test_a_bad_input_is_refused_before_the_job_takes_a_place():
    runner = JobRunner(JobBoard(1))

    def check():
        raise NSTError("Add a content photo first.")

    updates = stream(runner, "a", check=check)
    assert next(updates) == "waiting: Add a content photo first."
    assert_board_empty(runner.board)
    with pytest.raises(gr.Error) as caught:
        next(updates)
    assert caught.value.message == "Add a content photo first."
    assert_board_empty(runner.board)


def test_any_other_error_leaves_the_board_too():
    runner = JobRunner(JobBoard(1))

    def broken(checked, session):
        raise RuntimeError("a bug")
        yield

    with pytest.raises(RuntimeError):
        list(stream(runner, "a", broken))
    assert_board_empty(runner.board)


def test_stop_while_running_or_while_waiting_gives_the_ticket_back(monkeypatch):
    monkeypatch.setattr(jobs, "WAIT_POLL", 0.01)
    runner = JobRunner(JobBoard(1))
    running = stream(runner, "a", check=lambda: 100)
    assert next(running) == "a step 1"
    waiting = stream(runner, "b")
    assert next(waiting).startswith("waiting: The studio is busy: 1 job ahead")
    waiting.close()  # Stop while waiting: Gradio closes the generator at its yield
    assert runner.board.sessions and not runner.board.waiting
    running.close()
    assert_board_empty(runner.board)
    assert list(stream(runner, "b")) == ["b step 1", "b step 2", "b step 3"]  # the slot is free again


def test_one_job_per_session_whichever_tab_asks():
    runner = JobRunner(JobBoard(2))
    first = stream(runner, "a", check=lambda: 100)
    next(first)
    second = stream(runner, "a", lambda checked, session: iter(["another tab's job"]))
    assert next(second) == f"waiting: {ONE_JOB}"
    with pytest.raises(gr.Error) as caught:
        next(second)
    assert caught.value.message == ONE_JOB
    first.close()
    assert list(stream(runner, "a", check=lambda: 1)) == ["a step 1"]


def test_what_comes_first_is_shown_before_the_wait_for_a_slot(monkeypatch):
    monkeypatch.setattr(jobs, "WAIT_POLL", 0.01)
    runner = JobRunner(JobBoard(1))
    busy = stream(runner, "a", check=lambda: 100)
    next(busy)
    late = stream(runner, "b", first=lambda checked, session: iter([f"{session}'s instant picture"]))
    assert next(late) == "b's instant picture"
    assert next(late).startswith("waiting:")
    late.close()
    busy.close()
    assert_board_empty(runner.board)


def test_a_failure_is_a_status_line_then_the_error_whatever_the_stage():
    """Issue 21 (4): a raised error alone let Gradio mark every output "Error" over the last picture, and the
    status kept its old line ("Stopped. The last image is kept"): the status line comes first, then the error
    (for the toast and API clients), and nothing else is touched."""
    runner = JobRunner(JobBoard(1))

    def refused():
        raise NSTError("Add a content photo first.")

    def failing_at_once(checked, session):
        raise NSTError("The weights are not downloaded.")
        yield

    for updates, sentence in ((stream(runner, "a", check=refused), "Add a content photo first."),
                              (stream(runner, "a", failing_at_once), "The weights are not downloaded.")):
        shown = []
        with pytest.raises(gr.Error) as caught:
            for update in updates:
                shown.append(update)
        assert shown == [f"waiting: {sentence}"] and caught.value.message == sentence
        assert_board_empty(runner.board)


def test_a_one_shot_handler_reports_like_a_job():
    assert list(reported(lambda line: f"status: {line}", lambda: "a picture")) == ["a picture"]

    def broken():
        raise NSTError("The image file is damaged or incomplete.")

    updates = reported(lambda line: f"status: {line}", broken)
    assert next(updates) == "status: The image file is damaged or incomplete."
    with pytest.raises(gr.Error) as caught:
        next(updates)
    assert caught.value.message == "The image file is damaged or incomplete."


def test_a_missing_download_says_what_to_do_instead():
    with pytest.raises(gr.Error) as caught, user_errors():
        raise NotDownloaded("The vgg19 weights are not downloaded.", "vgg19")
    assert caught.value.message == ("The vgg19 weights are not downloaded and this server could not fetch them; "
                                    "choose one marked ready under Network weights, or start the server with "
                                    "NST_WEIGHTS set to a VGG weights file.")


def test_a_status_update_leaves_the_other_outputs_alone():
    update = status_update(1, 3)("busy")
    assert update[1] == "busy" and all(isinstance(out, type(gr.skip())) for out in (update[0], update[2]))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_spaces_updates_and_pictures():
    clock = Clock()
    throttle = Throttle(update=0.1, picture=0.25, clock=clock)
    assert throttle.due(picture=True) == (True, True)  # the first event goes out with its picture
    clock.now += 0.05
    assert throttle.due(picture=True) == (False, False)
    clock.now += 0.06
    assert throttle.due(picture=True) == (True, False)  # an update is due, a picture not yet
    clock.now += 0.15
    assert throttle.due(picture=True) == (True, True)
    clock.now += 0.01
    assert throttle.due(picture=False, urgent=True) == (True, False)


def test_the_last_event_always_goes_out_with_its_picture():
    clock = Clock()
    throttle = Throttle(update=0.1, picture=0.25, clock=clock)
    throttle.due(picture=True)
    assert throttle.due(picture=True, last=True) == (True, True)
    assert throttle.due(picture=False, last=True) == (True, False)
