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
    ({"size": 128}, "Only style_weight, content_weight, tv_weight and regions' strengths can change during a run, "
                    "not size."),
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


def region_plan():
    from PIL import Image, ImageDraw

    from nst_core.regions import make_plan

    region_map = Image.new("RGB", (80, 60), (255, 0, 0))  # the content_img fixture's shape
    ImageDraw.Draw(region_map).rectangle([0, 0, 79, 25], fill=(0, 0, 255))
    return make_plan(region_map, (80, 60), {(0, 0, 255): (0,)}, (0,))


def region_style(event, colour: str) -> float:
    return sum(value for name, value in event.terms.items() if name.startswith(f"style:{colour}:"))


def test_a_region_s_strength_multiplies_its_style_and_is_recorded(content_img, style_img):
    """Issue 23: each region's strength (fp32, tiny network). At the first step, from the same image, the blue
    region's style terms at strength 0.5 are half those at 1; the red region's are unchanged."""
    plan = region_plan()
    first = [next(stylize_iter(content_img, style_img, settings(), backbone=tiny_backbone(), regions=p))
             for p in (plan, plan.with_strengths({"#0000ff": 0.5}))]
    assert region_style(first[1], "#0000ff") == pytest.approx(0.5 * region_style(first[0], "#0000ff"), rel=1e-4)
    assert region_style(first[1], "#ff0000") == pytest.approx(region_style(first[0], "#ff0000"), rel=1e-4)
    recorded = plan.with_strengths({"#0000ff": 0.5}).to_recipe()["regions"]
    assert recorded == [{"colour": "#0000ff", "paintings": [0], "strength": 0.5},
                        {"colour": "#ff0000", "paintings": [0]}]


def test_a_region_s_strength_steered_during_a_run_applies_from_the_next_step_and_replays(content_img, style_img):
    steering = Steering()
    events = []
    for event in stylize_iter(content_img, style_img, settings(), backbone=tiny_backbone(), regions=region_plan(),
                              steering=steering):
        events.append(event)
        if event.step == 4:
            steering.set(**{"strength:#0000FF": 0.0})  # either case
    assert events[4].steered == {"strength:#0000ff": 0.0}
    assert region_style(events[3], "#0000ff") > 0 and region_style(events[4], "#0000ff") == 0
    assert region_style(events[4], "#ff0000") > 0
    assert event.recipe["schedule"] == [{"step": 5, "strength:#0000ff": 0.0}]
    assert "strength" not in event.recipe["regions"]["regions"][0], "the recipe's regions are as the run began"
    replayed = list(stylize_iter(content_img, style_img, settings(), backbone=tiny_backbone(), regions=region_plan(),
                                 steering=Steering(event.recipe["schedule"])))[-1]
    assert torch.allclose(to_tensor(replayed.preview), to_tensor(event.preview), atol=2 / 255)


@pytest.mark.parametrize("name, value, message", [
    ("strength:#0000ff", 11.0, "A region's strength must be between 0 and 10, not 11."),
    ("strength:#0000ff", math.nan, "A region's strength must be between 0 and 10, not nan."),
    ("strength:blue", 1.0, "blue"),
])
def test_a_strength_that_cannot_be_used_is_one_sentence(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Steering().set(**{name: value})
