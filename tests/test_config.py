import dataclasses
import math

import pytest

from nst_core.config import Settings, field_info
from nst_core.errors import SettingsError


def test_defaults_are_valid_and_match_field_helpers():
    s = Settings()
    assert s.optimizer == "lbfgs" and s.content_layer == "relu4_1" and s.depth_falloff == 0.35
    assert s.style_loss == "sliced" and s.style_weight == 600
    assert "Raise it" in field_info("style_weight")["help"] and field_info("style_weight")["useful"] == (1, 1000)
    assert field_info("style_loss")["choices"] == ("gram", "w2", "sliced")


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Settings)
                                  if field_info(f.name)["low"] is not None and f.name not in
                                  ("style_layer_weights", "style_blend")])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1e12, 1e12])
def test_every_number_rejects_nan_inf_and_out_of_range(name, bad):
    with pytest.raises(SettingsError, match=name):
        Settings(**{name: bad})


@pytest.mark.parametrize("values", [
    {"optimizer": "sgd"}, {"init": "zeros"}, {"preserve_color": "yes"}, {"pooling": "min"},
    {"style_layers": ("relu9_9",)}, {"style_layers": ()}, {"style_layers": ("relu1_1", "relu1_1")},
    {"content_layer": "conv4_2"}, {"style_layer_weights": (1.0, 2.0)}, {"style_layer_weights": (0.0,) * 5},
    {"style_blend": (math.nan,)}, {"iterations": 2.5}, {"size": "big"}, {"coarse_to_fine": "yes"},
    {"seed": True}, {"weights": "  "},
])
def test_bad_choices_name_what_is_allowed(values):
    with pytest.raises(SettingsError) as info:
        Settings(**values)
    assert next(iter(values)) in str(info.value)


def test_whole_floats_become_ints_and_replace_revalidates():
    s = Settings(size=200.0, iterations=50.0)
    assert s.size == 200 and isinstance(s.size, int)
    with pytest.raises(SettingsError):
        dataclasses.replace(s, size=math.nan)


def test_dict_round_trip_ignores_unknown_keys():
    s = Settings(style_layers=("relu1_1", "relu3_1"), style_layer_weights=(1.0, 3.0), seed=7)
    values = s.to_dict()
    assert values["style_layers"] == ["relu1_1", "relu3_1"]
    assert Settings.from_dict({**values, "from_the_future": 1}) == s


def test_nst_weights_environment_sets_the_default(monkeypatch):
    monkeypatch.setenv("NST_WEIGHTS", "/some/vgg.pth")
    assert Settings().weights == "/some/vgg.pth"
    monkeypatch.delenv("NST_WEIGHTS")
    assert Settings().weights == "vgg19"


def test_style_layers_weigh_less_with_depth_unless_weights_are_given():
    halving = Settings(depth_falloff=0.5)
    assert list(halving.layer_weights().values()) == pytest.approx([16 / 31, 8 / 31, 4 / 31, 2 / 31, 1 / 31])
    # It follows the blocks, not the list: relu3_1 is two blocks below relu1_1.
    assert list(Settings(style_layers=("relu1_1", "relu3_1"), depth_falloff=0.5).layer_weights().values()) == \
        pytest.approx([0.8, 0.2])
    given = Settings(style_layer_weights=(1.0,) * 5, depth_falloff=0.5)
    assert list(given.layer_weights().values()) == pytest.approx([0.2] * 5)
    # At a finer scale fine_falloff multiplies in: 0.5 * 0.5 per block.
    finer = list(Settings(depth_falloff=0.5, fine_falloff=0.5).layer_weights(finer=1).values())
    assert finer == pytest.approx([4.0**-k / sum(4.0**-j for j in range(5)) for k in range(5)])
