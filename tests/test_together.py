"""Runs batched together (together.py) on the tiny network, fp32: each paints what it paints alone, and one run's
stop or failure leaves the others running."""

import numpy as np
import pytest
import torch

from nst_core import Settings, stylize_iter
from nst_core.errors import SettingsError
from nst_core.objective import Objective
from nst_core.together import Request, Together

from .conftest import gradient_image

BASE = dict(size=48, iterations=12, device="cpu", coarse_to_fine=False, precision="fp32")


def requests() -> list[Request]:
    """Three visitors: other photos, other paintings, other weights; the same size."""
    return [Request(gradient_image(80, 60, seed=1), gradient_image(64, 64, seed=2), Settings(**BASE)),
            Request(gradient_image(80, 60, seed=3), gradient_image(64, 64, seed=4),
                    Settings(**BASE, style_weight=5000.0)),
            Request(gradient_image(80, 60, seed=5), gradient_image(50, 70, seed=6), Settings(**BASE, init="noise"))]


def by_run(together: Together) -> dict[int, list]:
    seen: dict[int, list] = {0: [], 1: [], 2: []}
    for index, event in together:
        seen[index].append(event)
    return seen


def test_each_run_in_a_batch_paints_what_it_paints_alone(tiny):
    together = by_run(Together(requests(), backbone=tiny))
    for index, request in enumerate(requests()):
        alone = list(stylize_iter(request.content, request.styles, request.settings, backbone=tiny))
        batched = together[index]
        assert [e.step for e in batched] == [e.step for e in alone] == list(range(1, 13))
        assert batched[-1].done and batched[-1].recipe is not None
        # The same sums in another order (a batch's convolutions): as torch's own runs differ on 1 or 2 threads.
        assert [e.loss for e in batched] == pytest.approx([e.loss for e in alone], rel=0.03)
        difference = np.abs(np.asarray(batched[-1].preview, np.float32) - np.asarray(alone[-1].preview, np.float32))
        assert difference.mean() < 8


def test_a_stopped_run_leaves_the_others_running(tiny):
    together = Together(requests(), backbone=tiny)
    seen: dict[int, list] = {0: [], 1: [], 2: []}
    for index, event in together:
        seen[index].append(event.step)
        if index == 1 and event.step == 4:
            together.stop(1)
    assert seen[1] == [1, 2, 3, 4]
    assert seen[0] == seen[2] == list(range(1, 13))


def test_a_run_that_gives_up_leaves_the_others_running(tiny):
    together = Together(requests(), backbone=tiny)
    failing = together.runs[2]
    evaluate = Objective.from_features

    def nan(self, image, found):  # this run's objective alone turns non-finite
        values = evaluate(self, image, found)
        return values * float("nan") if self is failing.objective else values

    seen = {0: [], 1: [], 2: []}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Objective, "from_features", nan)
        for index, event in together:
            seen[index].append(event)
    assert "Stopped after" in seen[2][-1].message and seen[2][-1].done and len(seen[2]) < 12
    for index in (0, 1):
        assert [e.step for e in seen[index]] == list(range(1, 13)) and seen[index][-1].message is None
        assert np.isfinite(seen[index][-1].loss)


def test_runs_of_other_sizes_do_not_share_a_batch(tiny):
    mixed = requests()
    mixed[1] = Request(mixed[1].content, mixed[1].styles, Settings(**{**BASE, "size": 64}))
    with pytest.raises(SettingsError, match="sizes, steps, network and precision agree"):
        Together(mixed, backbone=tiny)


def test_a_batch_is_one_pass_of_the_network(tiny, monkeypatch):
    calls = []
    forward = type(tiny).forward

    def counted(self, image, *args, **kwargs):
        if image.requires_grad:
            calls.append(image.shape[0])
        return forward(self, image, *args, **kwargs)

    monkeypatch.setattr(type(tiny), "forward", counted)
    by_run(Together(requests(), backbone=tiny))
    assert calls == [3] * 12  # a step: one pass, three images
    assert torch.is_grad_enabled()


def test_a_run_stopped_from_another_runs_event_leaves_the_rest_running(tiny):
    """A visitor's Stop reaches the batch while another run's event is shown: run 0, already paused for the next
    batched step, is stopped at run 2's fourth event (the batched step then asked for run 0 and failed)."""
    together = Together(requests(), backbone=tiny)
    seen: dict[int, list] = {0: [], 1: [], 2: []}
    for index, event in together:
        seen[index].append(event.step)
        if index == 2 and event.step == 4:
            together.stop(0)
    assert seen[0] == [1, 2, 3, 4] and seen[1] == seen[2] == list(range(1, 13))
