"""The objective as a list of named terms: a new term is one class and one builder, and every loop carries it."""

import pytest
import torch

from nst_core import Settings, objective, stylize_iter
from nst_core.engine import _Run
from nst_core.objective import ScaleContext, Term, build_objective, group_totals

from .conftest import gradient_image, tiny_backbone

WIDTH, HEIGHT = 240, 176  # 6 tiles of 128 px


class MeanActivation(Term):
    """A toy term: the mean activation at a layer, pulled to `target`. A sum over positions, so it tiles."""

    def loss(self, found):
        return (found.float().mean() - self.target) ** 2

    def sums(self, found, tile):
        return ((found.float() * tile.weights(self.layer)).sum(dim=(0, 2, 3)),)  # per channel

    def loss_from_sums(self, sums, tiler):
        return (sums[0].mean() / tiler.count(self.layer) - self.target) ** 2


def toy_terms(at: ScaleContext) -> list[Term]:
    return [MeanActivation(name="toy:relu2_1", layer="relu2_1", weight=50.0, target=0.5)]


@pytest.fixture
def with_toy(monkeypatch):
    monkeypatch.setattr(objective, "TERMS", [*objective.TERMS, toy_terms])  # the one place a term is declared


def settings(tile_size: int) -> Settings:
    # fp32: the tiled and whole values are compared to float rounding, which bf16 (auto, on a CPU with bf16
    # instructions) exceeds.
    return Settings(size=WIDTH, iterations=3, coarse_to_fine=False, device="cpu", tile_size=tile_size,
                    precision="fp32", preview_every=1000)


def test_a_new_term_shows_in_the_events_and_the_total_of_plain_and_tiled_runs(with_toy):
    content, style = gradient_image(WIDTH, HEIGHT, seed=1), gradient_image(96, 96, seed=2)
    for tile_size, tiles in ((1024, 1), (128, 6)):
        events = list(stylize_iter(content, style, settings(tile_size), backbone=tiny_backbone()))
        assert events[-1].tiles == tiles
        for event in events:
            assert list(event.terms)[-2:] == ["tv", "toy:relu2_1"] and event.terms["toy:relu2_1"] > 0
            assert event.groups["toy"] == event.terms["toy:relu2_1"]
            assert event.loss == pytest.approx(sum(event.terms.values()), rel=1e-5)


def test_a_new_term_has_the_same_value_and_gradient_in_tiles(with_toy):
    content, style = gradient_image(WIDTH, HEIGHT, seed=1), gradient_image(96, 96, seed=2)
    x = torch.rand(1, 3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    found = []
    for tile_size in (1024, 128):
        run = _Run(settings(tile_size), tiny_backbone(), torch.device("cpu"), content, [style], [1.0])
        run.prepare_scale((WIDTH, HEIGHT))
        # The toy term alone, so the gradient compared is its own.
        run.objective = objective.Objective(tuple(t for t in run.objective.terms if t.name.startswith("toy:")))
        x.grad = None
        found.append((run.evaluate(x).tolist(), x.grad.clone()))
    (whole, gradient), (tiled, tiled_gradient) = found
    assert tiled == pytest.approx(whole, rel=1e-4) and whole[1] > 0
    assert ((tiled_gradient - gradient).norm() / gradient.norm()).item() < 1e-3


def test_style_layers_are_weighted_per_scale(content_img, style_img):
    s = Settings(size=64, coarse_to_fine=False, device="cpu", style_weight=10.0, depth_falloff=0.5, fine_falloff=0.5)
    run = _Run(s, tiny_backbone(), torch.device("cpu"), content_img, [style_img], [1.0])
    for finer in (0, 1):
        targets = run.prepare_scale((64, 48), finer=finer)
        built = build_objective(ScaleContext(s, targets, run.style_loss, finer))
        weights = {t.layer: t.weight for t in built.terms if t.name.startswith("style:")}
        assert weights == pytest.approx({name: 10.0 * w for name, w in s.layer_weights(finer).items()})
    assert s.layer_weights(1) != pytest.approx(s.layer_weights(0))  # so the check above tells the scales apart


def test_no_tv_term_when_it_is_off_and_names_must_be_unique(content_img, style_img, monkeypatch):
    s = Settings(size=64, coarse_to_fine=False, device="cpu", tv_weight=0.0)
    run = _Run(s, tiny_backbone(), torch.device("cpu"), content_img, [style_img], [1.0])
    run.prepare_scale((64, 48))
    assert "tv" not in run.objective.names and run.objective.layers == {s.content_layer, *s.style_layers}
    monkeypatch.setattr(objective, "TERMS", [*objective.TERMS, objective.content_terms])
    with pytest.raises(ValueError, match="two terms share a name"):
        run.prepare_scale((64, 48))


def test_group_totals_sum_by_the_name_before_the_colon_and_keep_a_missing_value_missing():
    terms = {"content": 1.0, "style:relu1_1": 2.0, "style:relu2_1": 0.5, "tv": 0.25}
    assert group_totals(terms) == {"content": 1.0, "style": 2.5, "tv": 0.25}
    assert group_totals({**terms, "style:relu2_1": None}) == {"content": 1.0, "style": None, "tv": 0.25}
