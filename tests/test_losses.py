"""Loss terms against hand-computed values, and the whole objective against an independent textbook
implementation (plain conv2d calls from the state dict, numpy Gram matrices) on the same inputs."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nst_core import config, losses
from nst_core.config import Settings
from nst_core.engine import _Run, stylize_iter
from nst_core.errors import SettingsError
from nst_core.features import gram
from nst_core.images import resize_longest, to_tensor
from nst_core.losses import GramLoss, content_loss, total_variation

from .conftest import tiny_backbone


def test_gram_by_hand():
    # One image, two channels, two positions: F = [[1, 2], [3, 4]].
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    expected = torch.tensor([[1 + 4, 3 + 8], [3 + 8, 9 + 16]]) / (2 * 1 * 2)
    assert torch.allclose(gram(f)[0], expected)


def test_gram_gradient_matches_autograd_of_the_plain_product():
    # The Gram has a hand-written backward; check it numerically and against autograd's own.
    features = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gram, (features,))
    weights = torch.randn(2, 3, 3, dtype=torch.float64)
    (gram(features) * weights).sum().backward()
    flat = features.detach().reshape(2, 3, 20).requires_grad_(True)
    ((flat @ flat.transpose(1, 2) / 60) * weights).sum().backward()
    assert torch.allclose(features.grad.reshape(2, 3, 20), flat.grad)


def test_content_and_style_loss_by_hand():
    target = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
    out = torch.tensor([2.0, 2.0, 3.0, 2.0]).view(1, 1, 2, 2)
    # squared errors 1, 0, 0, 4 -> mean 1.25; target energy mean (1 + 4 + 9 + 16) / 4 = 7.5
    assert content_loss(out, target).item() == pytest.approx(1.25 / 7.5, rel=1e-6)
    assert content_loss(target, target).item() == 0.0
    # Two channels, two positions; gram() divides by C*H*W = 4.
    image = torch.tensor([[2.0, 0.0], [2.0, 2.0]]).view(1, 2, 1, 2)  # Gram [[1, 1], [1, 2]]
    painting = torch.tensor([[2.0, 0.0], [0.0, 2.0]]).view(1, 2, 1, 2)  # Gram [[1, 0], [0, 1]]
    assert torch.allclose(gram(image)[0], torch.tensor([[1.0, 1.0], [1.0, 2.0]]))
    target = GramLoss().target([painting], [1.0])
    assert torch.allclose(target[0], torch.eye(2))
    # squared Gram errors 0, 1, 1, 1 over the target's energy 1 + 1
    assert GramLoss()(image, target).item() == pytest.approx(3 / 2, rel=1e-6)


def test_total_variation_and_blend_by_hand():
    image = torch.tensor([[0.0, 1.0], [1.0, 1.0]]).view(1, 1, 2, 2)
    # horizontal diffs 1, 0 -> mean 0.5; vertical diffs 1, 0 -> mean 0.5
    assert total_variation(image).item() == pytest.approx(1.0)
    ones, zeros = torch.ones(1, 2, 1, 1), torch.zeros(1, 2, 1, 1)  # Grams of all 1/2 and of 0
    blended = GramLoss().target([ones, zeros], [3.0, 1.0])
    assert torch.allclose(blended, torch.full((1, 2, 2), 0.375))


def textbook_features(model, image: torch.Tensor, names: list[str]) -> dict[str, np.ndarray]:
    """VGG forward written out by hand from the model's parameters, RGB -> normalised, avg pooling."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (image - mean) / std
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    blocks = [2, 2, 4, 4, 4]
    out, k = {}, 0
    for b, n in enumerate(blocks, start=1):
        for i in range(1, n + 1):
            x = F.relu(F.conv2d(x, convs[k].weight, convs[k].bias, padding=1))
            k += 1
            out[f"relu{b}_{i}"] = x[0].detach().double().numpy()
        x = F.avg_pool2d(x, 2)
    return {n: out[n] for n in names}


def textbook_gram(f: np.ndarray) -> np.ndarray:
    c, h, w = f.shape
    m = f.reshape(c, h * w)
    return np.einsum("ik,jk->ij", m, m) / (c * h * w)


def test_objective_matches_a_textbook_implementation(content_img, style_img):
    model = tiny_backbone()
    settings = Settings(size=64, style_weight=30.0, content_weight=2.0, tv_weight=5.0,
                        style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1"),
                        style_layer_weights=(1.0, 2.0, 3.0, 4.0), coarse_to_fine=False, device="cpu",
                        content_layer="relu4_2", border="zeros", style_loss="gram",  # as the textbook
                        precision="fp32")  # so is the textbook: bf16 (auto, on a CPU that has it) rounds past 2e-4
    run = _Run(settings, model, torch.device("cpu"), content_img, [style_img], [1.0])
    content = run.prepare_scale((64, 48)).content
    image = torch.rand(content.shape, generator=torch.Generator().manual_seed(3))
    ours = dict(zip(["total", *run.objective.names], run.objective(image, run.extract).tolist()))

    names = list(settings.style_layers)
    c_t = textbook_features(model, content, ["relu4_2"])["relu4_2"]
    s_t = textbook_features(model, to_tensor(resize_longest(style_img, 64)), names)
    x_t = textbook_features(model, image, names + ["relu4_2"])
    expected_content = 2.0 * np.mean((x_t["relu4_2"] - c_t) ** 2) / np.mean(c_t ** 2)
    weights = np.array([1.0, 2.0, 3.0, 4.0]) / 10.0
    per_layer = [30.0 * w * np.sum((textbook_gram(x_t[n]) - textbook_gram(s_t[n])) ** 2)
                 / np.sum(textbook_gram(s_t[n]) ** 2) for n, w in zip(names, weights)]
    img = image[0].double().numpy()
    tv = np.mean((img[:, :, 1:] - img[:, :, :-1]) ** 2) + np.mean((img[:, 1:, :] - img[:, :-1, :]) ** 2)
    expected = {"total": expected_content + sum(per_layer) + 5.0 * tv, "content": expected_content,
                **{f"style:{n}": value for n, value in zip(names, per_layer)}, "tv": 5.0 * tv}
    assert list(ours) == list(expected)
    assert ours == pytest.approx(expected, rel=2e-4)


class MeanLoss(losses.StyleLoss):
    """A toy style loss: match each feature map's mean, nothing else."""

    name = "mean"
    calls = 0

    def target(self, features, weights):
        return sum(f.float().mean(dim=(2, 3)) * w for f, w in zip(features, weights)) / sum(weights)

    def __call__(self, features, target):
        MeanLoss.calls += 1
        return (features.float().mean(dim=(2, 3)) - target).pow(2).sum() / (target.pow(2).sum() + 1e-8)


def test_a_new_style_loss_is_one_class_and_one_setting(monkeypatch, content_img, style_img):
    with pytest.raises(SettingsError, match="style_loss must be one of gram"):
        Settings(style_loss="mean")
    monkeypatch.setitem(losses.STYLE_LOSSES, "mean", MeanLoss)  # the loss module
    monkeypatch.setattr(config, "STYLE_LOSSES", (*config.STYLE_LOSSES, "mean"))  # and Settings' choices
    settings = Settings(style_loss="mean", size=48, iterations=4, coarse_to_fine=False, device="cpu")
    events = list(stylize_iter(content_img, style_img, settings, backbone=tiny_backbone()))
    assert MeanLoss.calls >= 4 * len(settings.style_layers) and events[-1].done
    assert events[-1].recipe["settings"]["style_loss"] == "mean"
