"""Big scales in tiles: the windows cover the image once, tiles give the untiled loss, gradient and picture."""

import numpy as np
import pytest
import torch

from nst_core import Settings, stylize_iter
from nst_core.engine import _Run
from nst_core.tiling import ALIGN, Tiler

from .conftest import gradient_image, tiny_backbone

WIDTH, HEIGHT = 240, 176


def test_windows_sum_to_one_and_tiles_start_on_the_pooling_grid():
    tiler = Tiler(HEIGHT, WIDTH, 128)
    assert len(tiler.tiles) == 2 * 3  # windows of 128 px, 64 px apart or more
    coverage = torch.zeros(HEIGHT, WIDTH)
    for tile in tiler.tiles:
        assert tile.top % ALIGN == 0 and tile.left % ALIGN == 0
        coverage[tile.top:tile.bottom, tile.left:tile.right] += tile.window[0, 0]
        # The margin is context only: the window is zero at the crop's inner edges.
        if tile.top > 0:
            assert tile.window[0, 0, :16].abs().max() == 0
        if tile.right < WIDTH:
            assert tile.window[0, 0, :, -16:].abs().max() == 0
    assert torch.allclose(coverage, torch.ones(HEIGHT, WIDTH), atol=1e-6)
    # Each layer's pooled windows cover its feature map once too (relu3_1: a quarter of the resolution).
    pooled = torch.zeros(HEIGHT // 4, WIDTH // 4)
    for tile in tiler.tiles:
        pooled[tile.place("relu3_1")] += tile.weights("relu3_1")[0, 0]
    assert torch.allclose(pooled, torch.ones_like(pooled), atol=1e-6)
    assert len(Tiler(HEIGHT, WIDTH, 512).tiles) == 1



def test_a_painting_whose_height_leaves_a_sliver_past_the_last_tile_gives_every_tile_deep_features():
    # Starry Night (1024x640) at 320 px is 320x200: disjoint tiles of 192 px left an 8 px last tile, which holds
    # no relu5_1 position, and building the style targets failed ("min(): Expected reduction dim").
    tiler = Tiler(200, 320, 192, overlap=0)
    assert [(t.top, t.bottom) for t in tiler.tiles if t.left == 0] == [(0, 200)]
    assert all(tile.weights("relu5_1").sum() > 0 for tile in tiler.tiles)
    events = list(stylize_iter(gradient_image(320, 240, seed=1), gradient_image(1024, 640, seed=2),
                               Settings(size=320, tile_size=192, iterations=2, preview_every=1000),
                               backbone=tiny_backbone()))
    assert events[-1].done and events[-1].preview.size == (320, 240)

def runs(loss: str, **options) -> tuple[_Run, _Run]:
    """The same scale at once and in 6 tiles, in fp32: the comparisons are of float rounding, and bf16's
    (precision="auto" on a CPU with bf16 instructions) is coarser than the tolerances."""
    content, style = gradient_image(WIDTH, HEIGHT, seed=1), gradient_image(200, 200, seed=2)
    model = tiny_backbone()
    common = dict(size=WIDTH, coarse_to_fine=False, device="cpu", tv_weight=3.0, style_loss=loss, precision="fp32",
                  **options)
    made = []
    for tile_size in (1024, 128):
        run = _Run(Settings(**common, tile_size=tile_size), model, torch.device("cpu"), content, [style], [1.0])
        run.prepare_scale((WIDTH, HEIGHT))
        made.append(run)
    assert made[0].tiler is None and len(made[1].tiler.tiles) == 6
    return made[0], made[1]


# fp32 sums in another order; W2's square roots come from fp32 eigendecompositions, which magnify that.
@pytest.mark.parametrize(("loss", "tolerance"), [("gram", 1e-4), ("w2", 1e-2)])
def test_tiles_give_the_whole_images_loss_and_gradient(loss, tolerance):
    whole, tiled = runs(loss, border="replicate")
    for name, target in whole.targets.style.items():  # the 200 px painting was taken in 128 px tiles too
        if loss == "gram":
            assert torch.allclose(target, tiled.targets.style[name], rtol=1e-4, atol=1e-7)
    assert torch.allclose(whole.targets.content_features, tiled.targets.content_features, atol=1e-5)
    x = torch.rand(1, 3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    expected = by_name(whole, whole.evaluate(x))
    gradient, x.grad = x.grad, None
    got = by_name(tiled, tiled.evaluate(x))
    assert list(got) == list(expected) == ["total", "content", *(f"style:{n}" for n in Settings().style_layers), "tv"]
    assert got == pytest.approx(expected, rel=tolerance / 10)
    assert ((x.grad - gradient).norm() / gradient.norm()).item() < tolerance


def by_name(run: _Run, values: torch.Tensor) -> dict[str, float]:
    """An evaluation's [total, each term...] keyed by the objective's term names."""
    return dict(zip(["total", *run.objective.names], values.tolist()))


def test_the_sliced_loss_runs_tile_by_tile():
    """Sorting is not a sum over tiles: tiled, each tile matches the painting's distribution on its own, so
    the loss is close to, not equal to, the whole image's."""
    whole, tiled = runs("sliced")
    x = torch.rand(1, 3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    expected, got = by_name(whole, whole.evaluate(x)), by_name(tiled, tiled.evaluate(x))
    assert torch.isfinite(x.grad).all() and x.grad.abs().max() > 0
    style = [name for name in expected if name.startswith("style:")]
    assert sum(got[n] for n in style) == pytest.approx(sum(expected[n] for n in style), rel=0.1)
    # Layer by layer too: the painting's tiles pool into one distribution. Blended like several paintings (the
    # mean of their quantile functions) they made a narrower target, and relu1_1's tiled loss was 2.8x the whole's.
    assert [got[n] for n in style] == pytest.approx([expected[n] for n in style], rel=0.15)


@pytest.mark.parametrize("loss", ["gram", "sliced"])
def test_a_tiled_run_paints_the_untiled_picture_without_seams(loss):
    content, style = gradient_image(WIDTH, HEIGHT, seed=1), gradient_image(96, 96, seed=2)
    pictures, events = [], []
    for tile_size in (1024, 128):
        # fp32: L-BFGS amplifies rounding, and bf16's (precision="auto" on a CPU with bf16 instructions) is more.
        settings = Settings(size=WIDTH, iterations=6, coarse_to_fine=False, device="cpu", tile_size=tile_size,
                            style_weight=100.0, style_loss=loss, average_decay=0.0, precision="fp32")
        run = list(stylize_iter(content, style, settings, backbone=tiny_backbone()))
        events.append(run[-1])
        pictures.append(np.asarray(run[-1].preview, np.float32) / 255)
    assert events[0].tiles == 1 and events[1].tiles == 6
    # The tiled run's events name the same terms as the whole image's.
    assert list(events[0].terms) == list(events[1].terms) == ["content", *(f"style:{n}" for n in settings.style_layers),
                                                              "tv"]
    change = np.abs(pictures[0] - np.asarray(content, np.float32) / 255).mean()
    difference = np.abs(pictures[0] - pictures[1])
    if loss == "gram":  # exact in tiles: the same picture but for float rounding, which L-BFGS amplifies
        assert difference.mean() < 0.1 * change
    # The sliced loss is matched tile by tile (an approximation: its picture differs), but neither has a seam:
    # along the tiles' overlaps the tiled picture is as close to the untiled one as anywhere else.
    seams = [tile.left + 32 for tile in Tiler(HEIGHT, WIDTH, 128).tiles if tile.left > 0]
    assert difference[:, seams].mean() < 3 * difference.mean() + 1e-4
