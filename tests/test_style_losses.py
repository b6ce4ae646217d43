"""The W2 and sliced Wasserstein style losses against hand-computed values and the properties that
distinguish them from the Gram loss; the cheap square-root gradient against finite differences."""

import pytest
import torch
import torch.nn.functional as F

from nst_core import Settings, stylize_iter
from nst_core.losses import GramLoss, SlicedLoss, W2Loss, _sorted, _TraceSqrt, make_style_loss

from .conftest import tiny_backbone


def two_channels(mean: float, spread_a: float, spread_b: float) -> torch.Tensor:
    """(1, 2, 2, 2) features with mean (mean, 0), variances spread_a², spread_b² and no covariance."""
    a = torch.tensor([1.0, -1.0, 1.0, -1.0]) * spread_a + mean
    b = torch.tensor([1.0, 1.0, -1.0, -1.0]) * spread_b
    return torch.stack([a, b]).view(1, 2, 2, 2)


def test_w2_by_hand_for_diagonal_covariances():
    # Commuting covariances: W2² = |Δmean|² + Σ (σ_image - σ_painting)², relative to |mean_t|² + trace(S_t).
    image, painting = two_channels(0.5, 1.0, 2.0), two_channels(2.0, 2.0, 1.0)
    target = W2Loss().target([painting], [1.0])
    expected = ((2.0 - 0.5) ** 2 + (1 - 2) ** 2 + (2 - 1) ** 2) / (2.0**2 + 4 + 1)
    assert W2Loss()(image, target).item() == pytest.approx(expected, rel=1e-3)
    assert W2Loss()(painting, target).item() == pytest.approx(0.0, abs=1e-4)


def test_the_square_root_trace_has_the_right_gradient():
    root = torch.randn(6, 6, dtype=torch.float64)
    matrix = (root @ root.T + 0.5 * torch.eye(6, dtype=torch.float64)).requires_grad_(True)
    floor = torch.tensor(1e-9, dtype=torch.float64)
    value = _TraceSqrt.apply(matrix, floor)
    values, vectors = torch.linalg.eigh(matrix.detach())
    assert value.item() == pytest.approx(values.sqrt().sum().item())
    # Symmetric perturbations only: the function is defined on symmetric matrices.
    direction = torch.randn(6, 6, dtype=torch.float64)
    direction = direction + direction.T
    value.backward()
    step = 1e-6
    numeric = (_TraceSqrt.apply(matrix.detach() + step * direction, floor)
               - _TraceSqrt.apply(matrix.detach() - step * direction, floor)) / (2 * step)
    assert (matrix.grad * direction).sum().item() == pytest.approx(numeric.item(), rel=1e-6)


def test_w2_gradient_matches_finite_differences_through_the_features():
    torch.manual_seed(0)
    painting = torch.randn(1, 4, 5, 5, dtype=torch.float64).relu() + 0.1
    image = torch.randn(1, 4, 5, 5, dtype=torch.float64).relu().requires_grad_(True)
    loss = W2Loss()
    target = loss.target([painting.float()], [1.0])
    target.mean, target.covariance, target.root = (t.double() for t in (target.mean, target.covariance, target.root))
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (image,), eps=1e-6, atol=1e-5)


def test_sliced_sees_what_second_moments_cannot():
    # Two distributions of one channel with the same mean and variance: ±1 and a spread of five values.
    plus_minus = torch.tensor([1.0, -1.0] * 8).view(1, 1, 4, 4)
    spread = torch.tensor([-1.5, -0.5, 0.0, 0.5, 1.5, 0.0, 0.0, 0.0] * 2)
    spread = ((spread - spread.mean()) / spread.std(unbiased=False)).view(1, 1, 4, 4)
    for loss in (GramLoss(), W2Loss()):
        assert loss(spread, loss.target([plus_minus], [1.0])).item() == pytest.approx(0.0, abs=1e-3)
    sliced = SlicedLoss()
    assert sliced(spread, sliced.target([plus_minus], [1.0])).item() > 0.05
    assert sliced(plus_minus, sliced.target([plus_minus], [1.0])).item() == pytest.approx(0.0, abs=1e-7)


def test_sliced_compares_different_pixel_counts_and_ignores_where_things_are():
    torch.manual_seed(1)
    painting = torch.rand(1, 8, 6, 6)
    sliced = SlicedLoss()
    target = sliced.target([painting], [1.0])
    bigger = painting.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # the same distribution, 4x the pixels
    shuffled = painting.flatten(2)[..., torch.randperm(36)].view(1, 8, 6, 6)
    assert sliced(bigger, target).item() < 0.05 * sliced(bigger * 0.5, target).item()
    assert sliced(shuffled, target).item() == pytest.approx(0.0, abs=1e-7)
    # The directions are drawn once per target from a fixed seed: one function for every step.
    again = sliced.target([painting], [1.0])
    assert torch.equal(again.directions, target.directions)
    assert torch.allclose(sliced.target([painting, painting], [1.0, 3.0]).quantiles, target.quantiles)


@pytest.mark.parametrize("name", ["w2", "sliced"])
def test_each_loss_runs_in_the_engine_and_lowers_the_style_loss(name, content_img, style_img):
    settings = Settings(size=48, iterations=15, coarse_to_fine=False, device="cpu", style_loss=name, init="noise")
    events = list(stylize_iter(content_img, style_img, settings, backbone=tiny_backbone()))
    assert events[-1].done and events[-1].groups["style"] < 0.5 * events[0].groups["style"]
    assert events[-1].recipe["settings"]["style_loss"] == name and type(make_style_loss(name)).name == name


def test_sliced_sorts_like_torch_and_its_gradient_matches_finite_differences():
    # The sort's order comes from numpy on the CPU (faster); the values and the gradient must be torch's.
    torch.manual_seed(2)
    painting = torch.rand(1, 3, 5, 4)
    image = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    loss = SlicedLoss()
    target = loss.target([painting], [1.0])
    target.directions, target.quantiles = target.directions.double(), target.quantiles.double()
    rows = torch.randn(6, 50, dtype=torch.float64)
    assert torch.equal(_sorted(rows), rows.sort(dim=1).values)
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (image,), eps=1e-6, atol=1e-6)


def test_a_big_paintings_quantiles_come_from_a_sample_of_its_positions(monkeypatch):
    torch.manual_seed(3)
    painting = torch.rand(1, 4, 64, 64) ** 2  # a skewed distribution, 4096 positions
    full = SlicedLoss().target([painting], [1.0])
    monkeypatch.setattr(SlicedLoss, "MAX_POSITIONS", 1024)
    sampled = SlicedLoss().target([painting], [1.0])
    assert sampled.quantiles.shape == (4, 1024) and full.quantiles.shape == (4, 4096)
    # The sample's quantile function is the painting's, within sampling error (largest in the sparse tails).
    error = (sampled.quantiles - F.interpolate(full.quantiles[None], size=1024, mode="linear")[0]).abs()
    spread = (full.quantiles[:, -1] - full.quantiles[:, 0]).min()
    assert error.mean() < 0.02 * spread and error.max() < 0.1 * spread
    assert torch.equal(SlicedLoss().target([painting], [1.0]).quantiles, sampled.quantiles)  # seeded: repeatable
