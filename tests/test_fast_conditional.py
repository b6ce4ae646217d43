"""One fast network of several styles (conditional instance normalisation, Dumoulin et al. 2017): its semantics,
the shipped one-style files read and written as before, and files of several styles."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from nst_core.fast.apply import shipped_models, stylize_fast
from nst_core.fast.model import (
    ConditionalInstanceNorm,
    FastModel,
    ModelError,
    StyleEntry,
    TransformerNet,
    blend_weights,
    load_model,
    model_bytes,
    save_model,
    style_digest,
)

from .conftest import gradient_image


def multi_style_net(styles: int = 3, seed: int = 0) -> TransformerNet:
    """A network whose styles differ: random scales and shifts for every style."""
    torch.manual_seed(seed)
    net = TransformerNet("slim", styles).eval()
    with torch.no_grad():
        for norm in net.norms().values():
            for scale, shift in zip(norm.scales, norm.shifts):
                scale.uniform_(0.5, 1.5)
                shift.normal_(0, 0.3)
    return net


def test_a_style_is_a_plain_instance_norm_and_a_blend_interpolates_its_scale_and_shift():
    torch.manual_seed(0)
    norm = ConditionalInstanceNorm(5, 3)
    with torch.no_grad():
        for scale, shift in zip(norm.scales, norm.shifts):
            scale.uniform_(0.5, 2)
            shift.normal_()
    x = torch.randn(2, 5, 9, 7)
    for k in range(3):
        plain = nn.InstanceNorm2d(5, affine=True)
        plain.load_state_dict({"weight": norm.scales[k].detach(), "bias": norm.shifts[k].detach()})
        with torch.no_grad():
            assert torch.equal(norm(x, k), plain(x))  # bit for bit
            assert torch.equal(norm(x, torch.eye(3)[k]), plain(x))  # a one-hot blend is the style itself
    plain = nn.InstanceNorm2d(5, affine=True)
    with torch.no_grad():
        plain.weight.copy_(0.25 * norm.scales[0] + 0.75 * norm.scales[2])
        plain.bias.copy_(0.25 * norm.shifts[0] + 0.75 * norm.shifts[2])
        assert torch.allclose(norm(x, torch.tensor([0.25, 0.0, 0.75])), plain(x), atol=1e-6)


def test_a_network_of_styles_runs_each_style_and_blend_as_its_one_style_copy():
    net = multi_style_net()
    x = torch.rand(1, 3, 36, 44)
    blend = blend_weights([2.0, 0.0, 2.0])
    assert blend.tolist() == [0.5, 0.0, 0.5]
    with torch.no_grad():
        outs = [net(x, k) for k in range(3)]
        assert all(not torch.equal(outs[0], other) for other in outs[1:])
        assert torch.equal(net.one_style(1)(x), outs[1])
        assert torch.allclose(net.one_style(blend)(x), net(x, blend), atol=1e-6)
        assert not torch.allclose(net(x, blend), outs[0], atol=1e-3)
    with pytest.raises(ValueError, match="holds 3 styles"):
        net(x)
    with pytest.raises(ValueError, match="one weight per style"):
        net(x, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="non-negative"):
        blend_weights([1.0, -1.0])


def plain_instance_norm_net(weights: dict[str, torch.Tensor]) -> TransformerNet:
    """The network as it was before conditional normalisation: nn.InstanceNorm2d(affine=True) at every norm,
    loaded with a one-style file's weights under their own names."""
    net = TransformerNet("slim")
    for name, norm in net.norms().items():
        parent, index = name.rsplit(".", 1)
        net.get_submodule(parent)[int(index)] = nn.InstanceNorm2d(norm.scales[0].numel(), affine=True)
    net.load_state_dict({k: v.float() for k, v in weights.items()})
    return net.eval()


@pytest.mark.skipif(not shipped_models(), reason="no shipped fast models in styles/fast")
@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_a_shipped_model_paints_as_before_and_is_saved_as_before(name):
    path = shipped_models()[name]
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "nst-fast-1"
    model = load_model(path)
    assert model.net.styles == 1 and [e.name for e in model.styles] == [name] and model.select(name) is model
    x = torch.rand(1, 3, 45, 61, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model.net(x), plain_instance_norm_net(raw["weights"])(x))
    again = torch.load(io.BytesIO(model_bytes(model)), weights_only=True)
    assert again["format"] == "nst-fast-1" and again["weights"].keys() == raw["weights"].keys()
    assert all(torch.equal(again["weights"][k], raw["weights"][k]) for k in raw["weights"])


def test_a_file_of_several_styles_is_small_and_selects_a_style_or_a_blend(tmp_path):
    net = multi_style_net()
    names = ["a", "b", "c"]
    entries = [StyleEntry(n, style_digest(gradient_image(40, 30, seed=i)), gradient_image(40, 30, seed=i))
               for i, n in enumerate(names)]
    entries[2] = StyleEntry("c")  # a style without its painting still stylizes
    model = FastModel(net, {"teacher": "perceptual", "steps_done": 3}, styles=entries)
    save_model(model, tmp_path / "abc.pt")
    assert (tmp_path / "abc.pt").stat().st_size < 700_000
    assert torch.load(tmp_path / "abc.pt", weights_only=True)["format"] == "nst-fast-2"
    loaded = load_model(tmp_path / "abc.pt")
    assert [e.name for e in loaded.styles] == names and loaded.style == "a, b, c" and loaded.digest == model.digest
    assert loaded.styles[1].painting.tobytes() == entries[1].painting.tobytes() and loaded.styles[2].painting is None
    x = torch.rand(1, 3, 32, 32)
    b = loaded.select("b")
    assert b.meta["style"] == "b" and b.meta["style_digest"] == entries[1].digest and b.painting is not None
    assert loaded.select(entries[1].digest).meta["style"] == "b"  # by its painting's digest
    mix = loaded.select({"a": 1, "c": 3})
    assert mix.meta["blend"] == {"a": 0.25, "c": 0.75} and mix.painting is None
    with torch.no_grad():
        assert (b.net(x) - net(x, 1)).abs().max().item() < 5e-3  # fp16 storage
        assert (mix.net(x) - net(x, torch.tensor([0.25, 0.0, 0.75]))).abs().max().item() < 5e-3
    assert stylize_fast(mix, gradient_image(50, 40), 48).size == (48, 38)
    with pytest.raises(ModelError, match=r"abc.pt holds no style called 'd'; it holds a, b, c\."):
        loaded.select({"a": 1, "d": 1})
    with pytest.raises(ModelError, match="non-negative"):
        loaded.select({"a": -1})
