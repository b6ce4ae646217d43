"""The Stylize tab's one control spec: the API, Settings, recipe restore and hints all derive from it."""

from __future__ import annotations

import dataclasses
import math

import pytest

from nst_core import Settings
from nst_core.errors import NSTError
from studio import controls
from studio.controls import CONTROLS, RESTORABLE
from studio.limits import Limits

# Settings a visitor does not set: the server decides them, or they have no control yet.
# tile_size: the studio's size limit (NST_MAX_SIZE, 1024 by default) keeps every scale untiled; a host who
# raises it gets tiles of the default size, which bounds the server's memory; a visitor has no reason to move it.
NOT_CONTROLS = {"learning_rate", "coarse_to_fine", "scale_step_ratio", "pooling", "weights_convention", "device",
                "precision", "max_seconds", "style_blend", "tile_size"}


def test_every_setting_has_one_control_or_is_named_as_server_side():
    set_by_controls = [c.setting for c in CONTROLS if c.setting]
    assert len(set_by_controls) == len(set(set_by_controls))
    assert set(set_by_controls) | NOT_CONTROLS == {f.name for f in dataclasses.fields(Settings)}


def test_the_api_signature_is_the_spec_in_order_with_its_defaults():
    signature = controls.api_signature(Limits())
    names = list(signature.parameters)
    assert names == [*controls.API_NAMES, "request"] and names[:4] == ["content", "style", "iterations", "size"]
    defaults = {name: p.default for name, p in signature.parameters.items()}
    # The slider shows three decimals of the log10 weight.
    assert defaults["style_weight_log10"] == pytest.approx(math.log10(Settings().style_weight), abs=1e-3)
    assert defaults["iterations"] == Settings().iterations and defaults["style_layers"] == list(Settings().style_layers)
    assert controls.defaults(Limits(max_size=128))["size"] == 128  # a server limit below the default caps it


def values_for(settings: Settings) -> dict:
    """The controls' values that would produce `settings`, as recipe restore computes them."""
    values = controls.defaults(Limits())
    values.update(dict(zip((c.name for c in RESTORABLE), controls.restored_values(settings, "untrained"))))
    values.update(content="photo.png", style="painting.png", style_2=None, style_3=None)
    return values


def test_restored_values_make_the_same_settings_again():
    chosen = Settings(iterations=321, size=320, style_weight=300.0, content_weight=0.5, tv_weight=0.01,
                      content_layer="relu3_2", style_layers=("relu1_1", "relu3_1"), style_layer_weights=(2.0, 0.5),
                      optimizer="adam", init="noise", seed=9, preserve_color="histogram", style_scale=1.5,
                      weights="untrained", preview_every=5, style_loss="sliced", fine_falloff=0.3, depth_falloff=0.5,
                      border="reflect", average_decay=0.9)
    again = controls.settings_from(values_for(chosen), Limits())
    # The weights travel as log10 to three decimals, what the sliders show.
    assert again.style_weight == pytest.approx(300.0, rel=1e-3) and again.content_weight == pytest.approx(0.5, rel=1e-3)
    same_weights = dataclasses.replace(chosen, style_weight=again.style_weight, content_weight=again.content_weight)
    assert dataclasses.replace(again, max_seconds=0.0) == same_weights
    assert again.max_seconds == Limits().job_seconds


def test_blend_weights_count_only_the_paintings_given():
    values = values_for(Settings(weights="untrained"))
    values.update(style_2="second.png", blend=3.0, blend_2=1.0, blend_3=7.0)
    assert controls.settings_from(values, Limits()).style_blend == (3.0, 1.0)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("layer_weights", "relu9_9=2", "Per-layer weights look like"),
    ("layer_weights", "relu1_1=lots", "The weight for relu1_1 must be a number"),
    ("weights", "/etc/passwd", "Network weights must be one of"),
    ("style_weight_log10", float("nan"), "Style weight (log10) must be a finite number"),
    ("size", 2048, "Output size (px) is limited to 1024 on this server."),
])
def test_bad_values_get_a_sentence(name, value, message):
    values = values_for(Settings(weights="untrained"))
    values[name] = value
    with pytest.raises(NSTError, match=message.replace("(", r"\(").replace(")", r"\)")):
        controls.settings_from(values, Limits())


def test_hints_speak_in_each_controls_units():
    """The log10 slider said "Useful range 1 to 1000" over a scale from 0 to 4; the weights menu offered
    "a path to a local VGG file" where nothing takes a path."""
    style = controls.BY_NAME["style_weight_log10"].hint()
    assert "Useful range 0 to 3 on this log10 scale (a weight of 1 to 1000)." in style
    assert "Useful range -1 to 1 on this log10 scale" in controls.BY_NAME["content_weight_log10"].hint()
    assert all("path" not in (c.hint() or "") for c in CONTROLS)
    assert "vgg19" in controls.BY_NAME["weights"].hint()
