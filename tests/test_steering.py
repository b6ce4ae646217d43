"""Steering (issue 23): weights moved during a run apply from the next step, the run goes on from the same image,
the recipe records the schedule, and replaying it makes the same picture. fp32 runs on the tiny network."""

import math
import pickle

import pytest
import torch

from nst_core import Settings, stylize_iter
from nst_core.errors import SettingsError
from nst_core.images import to_tensor
from nst_core.steering import Steering

from .conftest import tiny_backbone


def settings(**values) -> Settings:
    return Settings(size=64, iterations=12, coarse_to_fine=False, device="cpu", precision="fp32", preview_every=1000,
                    **values)


def style_total(event) -> float:
    return sum(value for name, value in event.terms.items() if name.startswith("style:"))


def test_a_weight_set_during_a_run_applies_from_the_next_step_and_is_recorded(content_img, style_img):
    steering = Steering()
    events = []
    for event in stylize_iter(content_img, style_img, settings(), backbone=tiny_backbone(), steering=steering):
        events.append(event)
        if event.step == 5:
            steering.set(style_weight=6000.0)  # ten times the default, as a slider moved while step 5 shows
    by_step = {event.step: event for event in events}
    assert by_step[6].steered == {"style_weight": 6000.0} and all(e.steered is None for e in events if e.step != 6)
    # The same image measured with ten times the weight: the style terms jump tenfold at the change.
    assert style_total(by_step[6]) > 5 * style_total(by_step[5])
    assert not any(event.message for event in events), "the raised loss was taken for a divergence"
    recipe = events[-1].recipe
    assert recipe["schedule"] == [{"step": 6, "style_weight": 6000.0}]
    assert recipe["settings"]["style_weight"] == Settings().style_weight  # as asked at the start


def test_the_recipe_s_schedule_makes_the_same_picture_again(content_img, style_img):
    steering = Steering()
    for event in stylize_iter(content_img, style_img, settings(), backbone=tiny_backbone(), steering=steering):
        if event.step == 4:
            steering.set(content_weight=30.0, tv_weight=0.0)
        if event.step == 8:
            steering.set(style_weight=60.0)
    live = event
    replayed = list(stylize_iter(content_img, style_img, settings(), backbone=tiny_backbone(),
                                 steering=Steering(live.recipe["schedule"])))[-1]
    assert replayed.recipe["schedule"] == live.recipe["schedule"] == [
        {"step": 5, "content_weight": 30.0, "tv_weight": 0.0}, {"step": 9, "style_weight": 60.0}]
    assert "tv" not in replayed.terms  # TV off from step 5: the term is gone, not computed at weight 0
    assert torch.allclose(to_tensor(replayed.preview), to_tensor(live.preview), atol=2 / 255)
    plain = list(stylize_iter(content_img, style_img, settings(), backbone=tiny_backbone()))[-1]
    assert not torch.allclose(to_tensor(plain.preview), to_tensor(live.preview), atol=2 / 255)


def test_a_value_set_to_what_it_already_is_changes_nothing(content_img, style_img):
    steering = Steering()
    steering.set(style_weight=Settings().style_weight)
    last = list(stylize_iter(content_img, style_img, settings(), backbone=tiny_backbone(), steering=steering))[-1]
    assert "schedule" not in last.recipe


@pytest.mark.parametrize("values, message", [
    ({"style_weight": math.nan}, "style_weight must be a finite number"),
    ({"style_weight": -1.0}, "style_weight must be between"),
    ({"size": 128}, "Only style_weight, content_weight, tv_weight can change during a run, not size."),
])
def test_a_weight_that_cannot_be_used_is_one_sentence(values, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        Steering().set(**values)


def test_a_steering_pickles_with_its_schedule_for_a_job_in_another_process():
    steering = Steering([{"step": 3, "style_weight": 10.0}])
    steering.set(tv_weight=5.0)
    copy = pickle.loads(pickle.dumps(steering))
    copy.set(content_weight=2.0)  # the copy has a lock of its own
    assert copy.due(3) == {"style_weight": 10.0, "tv_weight": 5.0, "content_weight": 2.0}
