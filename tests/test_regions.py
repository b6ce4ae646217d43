"""Regions (issue 23): the guided style losses against values computed by hand, the mass normalisation, the map
taken to each layer, map errors, tiles, and the engine and CLI keeping a region's photo while painting the rest.

Numbers are compared in fp32 (features made here, or precision="fp32" runs)."""

import base64
import io
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from nst_core import Settings, stylize_iter
from nst_core.engine import _Run
from nst_core.errors import SettingsError
from nst_core.features import gram
from nst_core.images import read_recipe, to_tensor
from nst_core.losses import GramLoss, SlicedLoss, W2Loss
from nst_core.regions import layer_mask, make_plan, parse_colour

from .conftest import ROOT, gradient_image, tiny_backbone

BLUE, GREEN, RED = (0, 0, 255), (0, 255, 0), (255, 0, 0)


def features(seed: int, channels: int = 8, height: int = 6, width: int = 10) -> torch.Tensor:
    return torch.randn(1, channels, height, width, generator=torch.Generator().manual_seed(seed))


def left_half(height: int = 6, width: int = 10) -> torch.Tensor:
    mask = torch.zeros(1, 1, height, width)
    mask[..., : width // 2] = 1
    return mask


def inside(found: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The positions where `mask` is 1, as (1, C, n, 1) features."""
    return found.flatten(2)[:, :, mask.flatten() > 0.5, None]


@pytest.mark.parametrize("loss", [GramLoss(), W2Loss(), SlicedLoss()], ids=lambda loss: loss.name)
def test_a_guided_loss_is_the_loss_of_the_region_s_own_positions(loss):
    found, painting = features(1), features(2, height=9, width=9)
    target = loss.target([painting], [1.0])
    mask = left_half()
    assert loss.guided(found, mask, target).item() == pytest.approx(loss(inside(found, mask), target).item(),
                                                                     rel=1e-4)
    assert loss.guided(found, torch.ones_like(mask), target).item() == pytest.approx(loss(found, target).item(),
                                                                                      rel=1e-4)


def test_the_guided_gram_by_hand():
    """F diag(m) Fᵀ / (C Σm) against the target Gram, relative to the target's energy."""
    found, painting = features(3, channels=4, height=3, width=4), features(4, channels=4)
    mask = torch.rand(1, 1, 3, 4, generator=torch.Generator().manual_seed(5))  # soft weights
    flat, m = found[0].reshape(4, -1), mask.flatten()
    by_hand = (flat * m) @ flat.T / (4 * m.sum())
    target = gram(painting)
    expected = (by_hand - target[0]).pow(2).sum() / target.pow(2).sum()
    assert GramLoss().guided(found, mask, target).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("loss, rel", [(GramLoss(), 1e-4), (W2Loss(), 1e-4), (SlicedLoss(), 0.15)],
                         ids=("gram", "w2", "sliced"))
def test_a_small_region_counts_as_much_as_a_large_one(loss, rel):
    """The same texture over a quarter or three quarters of the picture gives one loss (not a third of it): the
    statistics are divided by the region's mass (without it a small region had little or no gradient). The sorted
    loss reads the painting's quantiles at 16 or 48 ranks, which differ a little."""
    tile = features(6, height=4, width=4)
    found = tile.repeat(1, 1, 1, 4)  # four copies side by side
    target = loss.target([features(7, height=8, width=8)], [1.0])
    small, large = torch.zeros(1, 1, 4, 16), torch.zeros(1, 1, 4, 16)
    small[..., :4], large[..., :12] = 1, 1
    assert loss.guided(found, small, target).item() == pytest.approx(loss.guided(found, large, target).item(),
                                                                      rel=rel)


def test_a_region_with_no_position_at_a_layer_adds_nothing():
    target = SlicedLoss().target([features(8)], [1.0])
    assert SlicedLoss().guided(features(9), torch.zeros(1, 1, 6, 10), target).item() == 0


def test_the_mask_is_area_pooled_to_each_layer_and_eroded_by_one_position_from_relu3_on():
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., :, :32] = 1
    relu3 = layer_mask(mask, "relu3_1")  # a 16 x 16 grid, 4 px a position
    assert relu3.shape == (1, 1, 16, 16)
    assert relu3[0, 0, 0].tolist() == [1.0] * 7 + [0.0] * 9  # column 7 touched the border: eroded
    shifted = torch.zeros(1, 1, 64, 64)
    shifted[..., :, :30] = 1  # the border inside a position: pooled to a share, then eroded
    assert layer_mask(shifted, "relu3_1")[0, 0, 0, 6].item() == 0.5 and layer_mask(shifted, "relu3_1")[0, 0, 0, 7] == 0
    speck = torch.zeros(1, 1, 64, 64)
    speck[..., 16:32, 16:32] = 1  # one relu5 position: erosion would leave nothing, so the pooled mask stays
    assert layer_mask(speck, "relu5_1").sum().item() == 1
    # relu1 and relu2 see a few pixels each: pooled, not eroded (their erosion left a pale line along borders)
    assert torch.equal(layer_mask(mask, "relu1_1"), mask)
    assert layer_mask(mask, "relu2_1")[0, 0, 0].tolist() == [1.0] * 16 + [0.0] * 16


def map_image(size=(80, 60), sky=0.4) -> Image.Image:
    image = Image.new("RGB", size, RED)
    ImageDraw.Draw(image).rectangle([0, 0, size[0], round(size[1] * sky) - 1], fill=BLUE)
    return image


def test_a_painted_map_s_edges_go_to_the_nearest_region():
    """A map drawn over a photo, at its size: an antialiased edge or a stray touch covers well under 1 % of it."""
    image = map_image((200, 150))
    draw = ImageDraw.Draw(image)
    draw.line([0, 60, 200, 60], fill=(128, 0, 128))  # an antialiased edge between blue and red
    draw.point([(170, 120), (171, 120)], fill=(250, 250, 250))  # a stray touch
    plan = make_plan(image, (800, 600), {BLUE: (1,)}, (0,))
    assert [r.colour for r in plan.regions] == [BLUE, RED] and [r.paintings for r in plan.regions] == [(1,), (0,)]
    assert set(np.unique(plan.labels)) == {0, 1}
    masks = plan.pixel_masks((40, 30))
    assert masks.shape == (2, 1, 30, 40) and torch.allclose(masks.sum(0), torch.ones(1, 30, 40))


@pytest.mark.parametrize("make, message", [
    (lambda: make_plan(map_image((60, 80)), (800, 600), {}, (0,)), "The region map is 60×80 but the photo is 800×600"),
    (lambda: make_plan(map_image(), (800, 600), {GREEN: ()}, (0,)), "has no #00ff00 region"),
    (lambda: parse_colour("blue"), "A region colour looks like '#ff8800', not 'blue'."),
])
def test_a_map_that_does_not_fit_is_one_sentence(make, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        make()


def test_too_many_regions_is_one_sentence():
    image = Image.new("RGB", (90, 10))
    for i in range(9):
        ImageDraw.Draw(image).rectangle([i * 10, 0, i * 10 + 9, 10], fill=(i * 25, 0, 0))
    with pytest.raises(SettingsError, match="9 colours; paint it with at most 8"):
        make_plan(image, (90, 10), {}, (0,))


def fp32(**values) -> Settings:
    return Settings(device="cpu", precision="fp32", preview_every=1000, **values)


@pytest.mark.parametrize("loss, rel", [("gram", 1e-4), ("w2", 1e-3), ("sliced", 0.15)])
def test_region_terms_have_the_same_value_in_tiles(loss, rel):
    """Gram and W2 sum over positions, so tiles give the whole image's value (W2 to its eigensolver's fp32
    rounding); the sorted loss is the tiles' own losses by their share of the region's positions, an estimate, as
    for a plain run (test_tiling)."""
    width, height = 240, 176
    content, styles = gradient_image(width, height, seed=1), [gradient_image(96, 96, seed=2),
                                                              gradient_image(96, 96, seed=3).rotate(90)]
    plan = make_plan(map_image((width, height)), (width, height), {BLUE: (1,)}, (0,))
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    values = []
    for tile_size in (1024, 128):
        run = _Run(fp32(size=width, coarse_to_fine=False, tile_size=tile_size, style_loss=loss), tiny_backbone(),
                   torch.device("cpu"), content, styles, [1.0, 1.0])
        run.plan = plan
        run.prepare_scale((width, height))
        assert len([n for n in run.objective.names if n.startswith("style:#0000ff:")]) == 5
        values.append(dict(zip(run.objective.names, run.evaluate(x)[1:].tolist())))
    whole, tiled = values
    assert tiled == pytest.approx(whole, rel=rel)


def region_run(content: Image.Image, styles: list[Image.Image], plan, backbone, **values):
    events = list(stylize_iter(content, styles, fp32(**values), backbone=backbone, regions=plan))
    return events[-1]


def test_a_photo_region_keeps_the_photo_and_the_recipe_records_the_map(content_img, style_img):
    width, height = content_img.size
    image = map_image((width, height), sky=0.5)
    plan = make_plan(image, content_img.size, {BLUE: ()}, (0,))
    last = region_run(content_img, [style_img], plan, tiny_backbone(), size=width, iterations=25,
                      style_weight=1e4, coarse_to_fine=False)
    out, photo = to_tensor(last.preview)[0], to_tensor(content_img)[0]
    change = (out - photo).abs().mean(0)
    kept, painted = change[: height // 2 - 3].mean().item(), change[height // 2 + 3:].mean().item()
    assert kept < 0.03 and painted > 4 * kept, (kept, painted)
    assert "keep" in last.terms and any(name.startswith("style:#ff0000:") for name in last.terms)
    regions = last.recipe["regions"]
    assert regions["regions"] == [{"colour": "#0000ff", "paintings": "photo"},
                                  {"colour": "#ff0000", "paintings": [0]}]
    labels = np.asarray(Image.open(io.BytesIO(base64.b64decode(regions["map_png"]))))
    assert (labels == plan.labels).all()


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nst_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "NST_WEIGHTS": ""})


def test_the_cli_paints_each_region_from_its_painting(tmp_path):
    photo, painting, map_file, out = (tmp_path / name for name in ("photo.png", "glass.png", "map.png", "out.png"))
    gradient_image(96, 64, seed=5).save(photo)
    gradient_image(64, 64, seed=6).rotate(90).save(painting)
    map_image((48, 32)).save(map_file)
    result = cli(str(photo), "stained_glass", "--weights", "untrained", "--size", "48", "--iterations", "4",
                 "--regions", str(map_file), "--region-style", f"#0000ff={painting}", "-o", str(out))
    assert result.returncode == 0, result.stderr
    recipe = read_recipe(out)
    assert recipe["regions"]["regions"] == [{"colour": "#0000ff", "paintings": [1]},
                                            {"colour": "#ff0000", "paintings": [0]}]
    assert len(recipe["style_sizes"]) == 2


def test_the_cli_makes_a_steered_region_picture_again_from_its_recipe(tmp_path):
    """Issue 23: "the recipe records the schedule so the download reproduces it". A run with regions whose style
    weight was moved at step 3 (as the studio's slider does), saved as the studio saves it; `--recipe` with the
    same photo and paintings makes the same picture (fp32, untrained network: no weights needed)."""
    from nst_core.gallery import resolve_style_source
    from nst_core.images import save_png
    from nst_core.steering import Steering

    photo, painting, made, again = (tmp_path / n for n in ("photo.png", "glass.png", "made.png", "again.png"))
    gradient_image(96, 64, seed=5).save(photo)
    gradient_image(64, 64, seed=6).rotate(90).save(painting)
    styles = [resolve_style_source("stained_glass"), painting]
    settings = Settings(weights="untrained", size=48, iterations=6, seed=3, precision="fp32", device="cpu")
    region_map = map_image((48, 32))
    ImageDraw.Draw(region_map).rectangle([24, 20, 47, 31], fill=GREEN)  # kept as the photo
    plan = make_plan(region_map, (96, 64), {BLUE: (1,), GREEN: ()}, (0,))
    steering = Steering()
    for event in stylize_iter(photo, styles, settings, regions=plan, steering=steering):
        if event.step == 3:
            steering.set(style_weight=5000.0)
    save_png(event.preview, made, dict(event.recipe))
    assert event.recipe["schedule"] == [{"step": 4, "style_weight": 5000.0}]

    result = cli(str(photo), "stained_glass", str(painting), "--recipe", str(made), "-o", str(again))
    assert result.returncode == 0, result.stderr
    recipe = read_recipe(again)
    assert recipe["schedule"] == event.recipe["schedule"] and recipe["regions"] == event.recipe["regions"]
    assert recipe["settings"] == event.recipe["settings"]
    assert torch.allclose(to_tensor(Image.open(again)), to_tensor(event.preview), atol=2 / 255)

    plain = cli(str(photo), "stained_glass", str(painting), "--weights", "untrained", "--size", "48",
                "--iterations", "6", "--seed", "3", "--precision", "fp32", "-o", str(tmp_path / "plain.png"))
    assert plain.returncode == 0, plain.stderr
    assert not torch.allclose(to_tensor(Image.open(tmp_path / "plain.png")), to_tensor(event.preview), atol=2 / 255)

    short = cli(str(photo), "stained_glass", "--recipe", str(made), "-o", str(again))
    assert short.returncode == 2, short.stderr
    assert short.stderr.strip() == ("error: The recipe was made with 2 painting(s), not 1: give them all, in the order "
                                    "they were given then.")
    bare = cli(str(photo), "stained_glass", "--recipe", str(photo), "-o", str(again))
    assert bare.returncode == 2, bare.stderr
    assert bare.stderr.strip() == "error: photo.png carries no recipe (only pictures made here do)."


@pytest.mark.parametrize("extra, message", [
    (["--region-style", "#0000ff=photo"], "--region-style and --style-regions need --regions, the photo's map."),
    (["--regions", "{map}", "--region-style", "#0000ff"], "--region-style looks like '#0000ff=starry_night'"),
    (["--regions", "{map}", "--region-style", "#123456=photo"], "The region map has no #123456 region to paint"),
])
def test_cli_region_mistakes_are_one_line(tmp_path, extra, message):
    photo, map_file = tmp_path / "photo.png", tmp_path / "map.png"
    gradient_image(96, 64, seed=5).save(photo)
    map_image((48, 32)).save(map_file)
    result = cli(str(photo), "stained_glass", "--weights", "untrained", "--size", "32", "--iterations", "1",
                 *[a.replace("{map}", str(map_file)) for a in extra], "-o", str(tmp_path / "out.png"))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_painting_s_map_paints_each_region_from_the_part_under_its_colour():
    """Sky from sky: the photo's blue region takes its style from the painting's blue-mapped half only."""
    warm = Image.new("RGB", (48, 64), (200, 60, 30))
    cool = gradient_image(48, 64, seed=4)
    painting = Image.new("RGB", (96, 64))
    painting.paste(warm, (0, 0))
    painting.paste(cool, (48, 0))
    painting_map = Image.new("RGB", (96, 64), RED)
    ImageDraw.Draw(painting_map).rectangle([0, 0, 47, 63], fill=BLUE)
    content = gradient_image(80, 60, seed=1)
    plan = make_plan(map_image((80, 60)), content.size, {}, (0,))
    plan = replace(plan, painting_maps={0: make_plan(painting_map, painting.size, {}, (), of="painting")})
    backbone = tiny_backbone()
    run = _Run(fp32(size=80, coarse_to_fine=False, style_loss="gram", style_scale=1.2), backbone,
               torch.device("cpu"), content, [painting], [1.0])
    run.plan = plan
    targets = run.prepare_scale((80, 60))
    halves = {name: gram(run.extract(to_tensor(half), ["relu1_1"])["relu1_1"]) for name, half in
              (("warm", warm), ("cool", cool))}
    for label, own, other in (("#0000ff", "warm", "cool"), ("#ff0000", "cool", "warm")):
        target = targets.region_style[label]["relu1_1"]
        assert (target - halves[own]).norm() < 0.5 * (target - halves[other]).norm(), label
    assert "painting_maps" in plan.to_recipe() and set(plan.to_recipe()["painting_maps"]) == {"0"}


def test_a_painting_map_of_another_shape_is_one_line(tmp_path):
    photo, map_file, painting_map = (tmp_path / name for name in ("photo.png", "map.png", "painting-map.png"))
    gradient_image(96, 64, seed=5).save(photo)
    map_image((48, 32)).save(map_file)
    map_image((20, 80)).save(painting_map)
    result = cli(str(photo), "stained_glass", "--weights", "untrained", "--size", "32", "--iterations", "1",
                 "--regions", str(map_file), "--style-regions", str(painting_map), "-o", str(tmp_path / "out.png"))
    assert result.returncode == 2 and "The region map is 20×80 but the painting is" in result.stderr, result.stderr
    assert "draw the map over the painting, at its shape." in result.stderr
