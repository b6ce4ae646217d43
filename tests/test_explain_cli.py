"""python -m nst_core.explain, run as a user runs it (a subprocess), on the shared photos with the real weights:
the facts the views teach, measured from the JSON line it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from nst_core.explain.__main__ import main
from nst_core.images import read_recipe

from .conftest import ROOT, gradient_image


def explain(*args: str, weights=None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NST_WEIGHTS"}
    if weights is not None:
        env["NST_WEIGHTS"] = str(weights)
    return subprocess.run([sys.executable, "-m", "nst_core.explain", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


def summary(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one JSON line, got {result.stdout!r}"
    return json.loads(lines[0])


@pytest.mark.weights
def test_reconstruct_shallow_is_the_photo_deep_is_only_its_arrangement(real_weights, shared_images, tmp_path):
    out = tmp_path / "reconstruct"
    numbers = summary(explain("reconstruct", str(shared_images / "tubingen.jpg"), "--layers", "relu1_1", "relu5_1",
                              "--size", "64", "--steps", "40", "-o", str(out), weights=real_weights))["numbers"]
    shallow, deep, noise = numbers["relu1_1"], numbers["relu5_1"], numbers["noise"]
    assert shallow["psnr_db"] > 30, "relu1_1 should give the photo back pixel for pixel"
    assert deep["psnr_db"] < 15, "relu5_1 should not give the photo's pixels back"
    # ...yet in the network's deep features it is far more like the photo than like noise.
    assert deep["relu4_2_to_photo"] < 0.6 * noise["relu4_2_to_photo"]
    assert deep["relu4_2_to_photo"] < 0.5 * deep["relu4_2_to_noise"]
    assert sorted(p.name for p in out.iterdir()) == ["noise.png", "photo.png", "relu1_1.png", "relu5_1.png",
                                                     "sheet.png"]


@pytest.mark.weights
def test_texture_from_five_layers_has_a_fraction_of_noises_gram_distance(real_weights, shared_images, tmp_path):
    painting = str(shared_images / "starry_night.jpg")
    result = explain("texture", painting, "--sets", "all", "--size", "64", "--steps", "40", "-o", str(tmp_path),
                     weights=real_weights)
    numbers = summary(result)["numbers"]
    assert numbers["all5"]["gram_distance"] < 0.2 * numbers["noise"]["gram_distance"]


@pytest.mark.weights
def test_shuffle_changes_the_grams_several_times_less_than_the_content(real_weights, shared_images, tmp_path):
    result = summary(explain("shuffle", str(shared_images / "starry_night.jpg"), "--steps", "2", "-o", str(tmp_path),
                             weights=real_weights))
    numbers = result["numbers"]
    assert numbers["content_change"] > 4 * numbers["gram_change"], numbers
    assert "bars.png" in result["panels"]


def test_layers_writes_a_png_per_panel_a_sheet_and_a_time_lapse(tmp_path):
    photo = tmp_path / "photo.png"
    gradient_image(96, 64, seed=4).save(photo)
    out = tmp_path / "out"
    result = summary(explain("layers", str(photo), "--weights", "untrained", "--layer", "relu2_1", "--channel", "7",
                             "--top", "4", "--size", "64", "--timelapse", "-o", str(out)))
    assert result["panels"] == ["image.png", "relu2_1_maps.png", "relu2_1_gram.png", "relu2_1_ch7.png",
                                "timelapse.gif", "timelapse.mp4"]
    assert result["numbers"]["channel"] == 7 and len(result["numbers"]["top_channels"]) == 4
    assert read_recipe(out / "relu2_1_ch7.png")["panel"] == "relu2_1_ch7"
    assert Image.open(out / "sheet.png").width > 4 * 64
    assert (out / "timelapse.mp4").stat().st_size > 1000


def test_grid_cells_are_pngs_the_stylize_tab_can_restore(tmp_path):
    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    gradient_image(80, 60, seed=1).save(photo)
    gradient_image(64, 64, seed=2).save(painting)
    result = summary(explain("grid", str(photo), str(painting), "--weights", "untrained", "--rows", "style",
                             "--style-weights", "1", "100", "--size", "48", "--steps", "2", "-o", str(tmp_path / "g")))
    assert len(result["panels"]) == 6
    recipe = read_recipe(tmp_path / "g" / "style100_to_relu5_1.png")
    assert recipe["settings"]["style_weight"] == 100 and len(recipe["settings"]["style_layers"]) == 5


@pytest.mark.parametrize("args, message", [
    (["layers", "{photo}", "--weights", "untrained", "--channel", "5000"], "Channel must be between 0 and 255"),
    (["shuffle", "{photo}", "--weights", "untrained", "--tiles", "1"], "Tiles must be between 2 and 16"),
    (["texture", "{photo}", "--weights", "no_such_weights.pth"], "No weights file at 'no_such_weights.pth'"),
    (["channel", "--photo", "missing.jpg", "--weights", "untrained"], "There is no image file at 'missing.jpg'"),
])
def test_mistakes_get_one_line_and_exit_code_2(tmp_path, capsys, args, message):
    """In-process (main() is what the subprocess runs): a subprocess each would only add start-up time."""
    photo = tmp_path / "photo.png"
    gradient_image(64, 48, seed=4).save(photo)
    assert main([*[a.format(photo=photo) for a in args], "-o", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err and len(captured.err.splitlines()) == 1
    assert captured.out == ""
