"""The graph path of the step (step_graph.py), run on a CPU with a stand-in for CUDA graph capture; fp32.

A CPU cannot record a CUDA graph, but it can run everything around one: when a capture is made and made
again, that a replayed step keeps every tensor of its state at the address it was recorded on (a graph replays
reads and writes of those very addresses), and that a run through replays paints what an eager run paints.
tests/test_gpu.py records real graphs on a GPU."""

import logging

import pytest
import torch

from nst_core import Settings, engine, stylize_iter
from nst_core.steering import Steering
from nst_core.step_graph import WARMUP_STEPS

from .conftest import gradient_image
from .test_engine import NaNOnce


class StandInCapture:
    """Records nothing and runs nothing at capture, as CUDA's capture runs nothing; each replay runs the work
    again and writes its result into the tensor handed out at capture. It checks, at every replay, that the
    step's state is where it was at capture."""

    def __init__(self) -> None:
        self.captures = 0
        self.replays = 0
        self.guard = None

    def state(self) -> dict[str, int]:
        guard, optimiser = self.guard, self.guard.optimizer
        tensors = {"x": guard.x, "x.grad": guard.x.grad, "best": guard.best, "best_loss": guard.best_loss,
                   "evaluated": guard.evaluated, "tainted": guard.tainted}
        tensors.update({name: getattr(optimiser, name) for name in (
            "old_steps", "old_dirs", "rho", "head", "h_diag", "direction", "t", "previous_grad")})
        return {name: tensor.data_ptr() for name, tensor in tensors.items()}

    def __call__(self, work):
        self.captures += 1
        result = torch.empty(0)
        recorded = self.state()

        def replay():
            self.replays += 1
            assert self.state() == recorded, "a replayed step moved its state"
            out = work()
            result.resize_(out.shape).copy_(out)
            assert self.state() == recorded, "a replayed step moved its state"

        return replay, result


@pytest.fixture
def stand_in(monkeypatch):
    capture = StandInCapture()
    original = engine.GraphedSteps.__init__

    def remember_guard(self, guard, *args, **kwargs):
        capture.guard = guard
        original(self, guard, *args, **kwargs)

    monkeypatch.setattr(engine.GraphedSteps, "__init__", remember_guard)
    monkeypatch.setattr(engine, "step_capture", lambda device: capture)
    return capture


SETTINGS = dict(size=48, iterations=16, device="cpu", coarse_to_fine=False, precision="fp32")


def test_replayed_steps_paint_what_eager_steps_paint(content_img, style_img, tiny, stand_in, monkeypatch):
    graphed = list(stylize_iter(content_img, style_img, Settings(**SETTINGS), backbone=tiny))
    assert stand_in.captures == 1 and stand_in.replays == 16 - WARMUP_STEPS
    monkeypatch.setattr(engine, "step_capture", lambda device: None)
    eager = list(stylize_iter(content_img, style_img, Settings(**SETTINGS), backbone=tiny))
    assert [e.step for e in graphed] == [e.step for e in eager] == list(range(1, 17))
    # Replays take every history slot (empty ones are no-ops), eager steps only the filled ones: the same sums.
    assert [e.loss for e in graphed] == pytest.approx([e.loss for e in eager], rel=1e-4)


def test_each_scale_and_each_steered_objective_is_captured_again(style_img, tiny, stand_in):
    steering = Steering()
    settings = Settings(**{**SETTINGS, "iterations": 30, "coarse_to_fine": True, "size": 256})
    for event in stylize_iter(gradient_image(256, 192), style_img, settings, backbone=tiny, steering=steering):
        if event.step == 25:
            steering.set(style_weight=6000.0)
    scales = event.scales
    assert scales >= 2 and stand_in.captures == scales + 1  # one a scale, one more after the weight changed


def test_a_restart_is_captured_again(content_img, style_img, tiny, stand_in):
    events = list(stylize_iter(content_img, style_img, Settings(**SETTINGS), backbone=NaNOnce(tiny, bad_call=6)))
    assert [e.step for e in events if e.message] == [6]  # the NaN step (a replay) rolled back
    assert stand_in.captures == 2  # the restarted optimiser is new state: recorded again after its warm-up
    assert events[-1].loss is not None and events[-1].loss < events[0].loss


def test_a_step_that_cannot_be_captured_runs_eagerly(content_img, style_img, tiny, monkeypatch, caplog):
    def refuse(work):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(engine, "step_capture", lambda device: refuse)
    with caplog.at_level(logging.WARNING):
        events = list(stylize_iter(content_img, style_img, Settings(**SETTINGS), backbone=tiny))
    assert [e.step for e in events] == list(range(1, 17)) and events[-1].done
    assert sum("could not be captured" in r.message for r in caplog.records) == 1  # said once, not every step
