"""The command line, run as a user runs it: a subprocess of `python -m nst_core`."""

import io
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

import nst_core
from nst_core import Settings, stylize_iter
from nst_core.__main__ import ProgressBar
from nst_core.images import read_recipe

from .conftest import ROOT, gradient_image, tiny_backbone


def cli(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "NST_WEIGHTS"}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "nst_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=environment)


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.jpg"
    gradient_image(90, 60, seed=5).save(path)
    return path


def test_the_status_line_names_the_loss_groups_and_a_loss_that_was_not_finite(photo, style_img):
    event = next(stylize_iter(photo, style_img, Settings(size=32, iterations=1, device="cpu"),
                              backbone=tiny_backbone()))
    rolled_back = replace(event, loss=None, terms={**event.terms, "content": None})  # as after a NaN step
    stream = io.StringIO()
    ProgressBar(stream).update(rolled_back)
    line = stream.getvalue()
    assert "loss not finite (content not finite, style " in line and ", tv " in line


def test_help_explains_the_weights_and_their_ranges():
    result = cli("--help")
    assert result.returncode == 0
    for phrase in ("--style-weight", "Useful range", "--content-weight", "--iterations", "--size", "--weights",
                   "untrained", "--preserve-color", "--list-styles", "examples:"):
        assert phrase in result.stdout


def test_untrained_run_writes_a_png_with_its_recipe(tmp_path, photo):
    out = tmp_path / "out.png"
    result = cli(str(photo), "stained_glass", "--weights", "untrained", "--size", "48", "--iterations", "4",
                 "--seed", "3", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "4/4" in result.stderr and "it/s" in result.stderr
    assert "(content " in result.stderr and ", style " in result.stderr and ", tv " in result.stderr
    assert Image.open(out).size == (48, 32)
    recipe = read_recipe(out)
    assert recipe["settings"]["iterations"] == 4 and recipe["settings"]["weights"] == "untrained"
    assert recipe["content_size"] == [90, 60] and recipe["output_size"] == [48, 32]


@pytest.mark.parametrize("args, message", [
    (["missing.jpg", "stained_glass"], "There is no image file at 'missing.jpg'."),
    (["{photo}", "no_such_style"], "no_such_style"),
    (["{photo}", "stained_glass", "--style-weight", "nan"], "style_weight must be a finite number"),
    (["{photo}", "stained_glass", "--size", "99999"], "size must be between"),
    (["{photo}", "stained_glass", "-o", "out.jpg"], "must be a .png file"),
    (["{photo}", "stained_glass", "--weights", "/nowhere/vgg.pth"], "No weights file"),
])
def test_errors_are_one_line_and_a_nonzero_exit(args, message, photo):
    result = cli(*[a.replace("{photo}", str(photo)) for a in args])
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_weights_offline_is_one_sentence(photo, tmp_path):
    result = cli(str(photo), "stained_glass", "--size", "48", "--iterations", "1", "-o", str(tmp_path / "o.png"),
                 # A closed loopback proxy: offline even where download.pytorch.org is reachable.
                 env={"TORCH_HOME": str(tmp_path / "hub"), "HTTPS_PROXY": "http://127.0.0.1:9",
                      "https_proxy": "http://127.0.0.1:9"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: The vgg19 weights are not downloaded yet and could not be fetched (no connection to the internet). "
        "Connect to the internet once, or point --weights (or NST_WEIGHTS) at a local VGG file."]


def test_a_photo_too_thin_to_stylize_is_one_line(tmp_path):
    """A 4096x2 PNG at --size 128 printed avg_pool2d's traceback and exited with 1."""
    thin = tmp_path / "thin.png"
    Image.new("RGB", (4096, 2), (200, 100, 50)).save(thin)
    result = cli(str(thin), "stained_glass", "--size", "128", "--weights", "untrained", "-o", str(tmp_path / "o.png"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: The photo is 4096×2 pixels, too thin to stylize")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_panorama_is_stylized(tmp_path):
    wide = tmp_path / "wide.png"
    Image.new("RGB", (6000, 300), (90, 140, 200)).save(wide)
    out = tmp_path / "o.png"
    result = cli(str(wide), "stained_glass", "--size", "256", "--iterations", "2", "--weights", "untrained",
                 "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (320, 16)


@pytest.mark.weights
def test_real_weights_starry_tubingen(real_weights, shared_images, tmp_path):
    out = tmp_path / "starry.png"
    result = cli(str(shared_images / "tubingen.jpg"), str(shared_images / "starry_night.jpg"), "--size", "128",
                 "--iterations", "30", "-o", str(out), env={"NST_WEIGHTS": str(real_weights)})
    assert result.returncode == 0, result.stderr
    assert read_recipe(out)["settings"]["weights"] == "file:vgg16-caffe-features.pth"


@pytest.mark.parametrize("loss", ["w2", "sliced"])
def test_each_style_loss_is_a_flag(tmp_path, photo, loss):
    out = tmp_path / f"{loss}.png"
    result = cli(str(photo), "stained_glass", "--weights", "untrained", "--size", "48", "--iterations", "3",
                 "--style-loss", loss, "--border", "reflect", "--average-decay", "0.9", "--fine-falloff", "0.5",
                 "-o", str(out))
    assert result.returncode == 0, result.stderr
    used = read_recipe(out)["settings"]
    assert used["style_loss"] == loss and used["border"] == "reflect" and used["average_decay"] == 0.9
    assert used["fine_falloff"] == 0.5


def test_help_names_the_style_losses():
    result = cli("--help")
    assert "{gram,w2,sliced}" in result.stdout and "Wasserstein" in result.stdout and "--tile-size" in result.stdout


def test_the_version_is_the_same_in_the_package_and_its_metadata():
    """--version (the version every recipe records) and pyproject.toml name one version."""
    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert cli("--version").stdout.strip() == f"nst-studio {declared}" == f"nst-studio {nst_core.__version__}"
