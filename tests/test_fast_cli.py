"""`python -m nst_core.fast` as a user runs it (subprocesses): train on a folder with bad files, apply with a
recipe, the shipped models, and errors as one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from nst_core.fast.__main__ import main
from nst_core.fast.apply import shipped_models, shipped_styles
from nst_core.fast.model import load_model
from nst_core.images import read_recipe

from .conftest import ROOT, gradient_image


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "NST_WEIGHTS"}
    return subprocess.run([sys.executable, "-m", "nst_core.fast", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=environment)


@pytest.fixture
def folder(tmp_path) -> Path:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        gradient_image(80 + 10 * i, 60, seed=i).save(photos / f"p{i}.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return photos


def test_train_then_apply_writes_a_model_samples_and_a_png_with_its_recipe(tmp_path, folder):
    model = tmp_path / "tiny.pt"
    result = cli("train", "stained_glass", "--photos", str(folder), "-o", str(model), "--steps", "3", "--batch", "1",
                 "--crop", "32", "--weights", "untrained", "--sample-every", "2", "--style-size", "64",
                 "--content-layer", "relu2_1", "--style-layers", "relu1_1", "relu2_1")
    assert result.returncode == 0, result.stderr
    assert "2 photos from photos/ (1 skipped as unusable, p0.png held out for the samples)" in result.stderr
    assert "3/3" in result.stderr and f"wrote {model}" in result.stderr
    assert sorted(p.name for p in (tmp_path / "tiny-samples").iterdir()) == ["step-000002.png", "step-000003.png"]
    assert model.with_suffix(".ckpt").is_file()
    trained = load_model(model)
    assert trained.meta["style"] == "stained_glass" and trained.meta["photos"] == ["p1.png", "p2.png"]
    assert trained.meta["photos_skipped"] == 1 and trained.meta["steps_done"] == 3

    photo, out = tmp_path / "photo.jpg", tmp_path / "out.png"
    gradient_image(101, 67, seed=7).save(photo)
    result = cli("apply", str(model), str(photo), "-o", str(out), "--size", "75")
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (75, 50)
    recipe = read_recipe(out)
    assert recipe["fast_model"]["file"] == "tiny.pt" and recipe["fast_model"]["sha256"] == trained.digest
    assert recipe["fast_model"]["style"] == "stained_glass" and recipe["content_size"] == [101, 67]
    assert cli("apply", str(model), str(photo), "-o", str(out), "--size", "0").returncode == 0
    assert Image.open(out).size == (101, 67)  # --size 0: the photo's own size

    resumed = cli("train", "stained_glass", "--photos", str(folder), "-o", str(model), "--steps", "4", "--batch", "1",
                  "--crop", "32", "--weights", "untrained", "--sample-every", "2", "--style-size", "64",
                  "--content-layer", "relu2_1", "--style-layers", "relu1_1", "relu2_1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "4/4" in resumed.stderr and load_model(model).meta["steps_done"] == 4


@pytest.mark.parametrize("args, words", [
    (["apply", "{junk}", "{photo}", "-o", "{out}"], "not a fast-network model"),
    (["apply", "no_such_style", "{photo}", "-o", "{out}"], "neither a shipped fast model"),
    (["apply", "{junk}", "{photo}", "-o", "{tmp}/out.jpg"], "must be a .png"),
    (["apply", "{junk}", "{junk}", "-o", "{out}", "--size", "-1"], "--size must be"),
    (["train", "stained_glass", "--photos", "{tmp}/nowhere", "-o", "{tmp}/m.pt", "--weights", "untrained"],
     "no folder of photos"),
    (["train", "stained_glass", "--photos", "{tmp}", "-o", "{tmp}/m.pth", "--weights", "untrained"], "must end in .pt"),
    (["train", "no_such_painting", "--photos", "{tmp}", "-o", "{tmp}/m.pt"], "neither a gallery style"),
])
def test_errors_are_one_line(tmp_path, args, words, capsys, monkeypatch):
    """In-process (main() is what the subprocess runs), to keep the suite quick."""
    monkeypatch.delenv("NST_WEIGHTS", raising=False)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    gradient_image(40, 30).save(tmp_path / "photo.png")
    values = {"junk": tmp_path / "junk.pt", "photo": tmp_path / "photo.png", "out": tmp_path / "out.png",
              "tmp": tmp_path}
    assert main([a.format(**values) for a in args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines


@pytest.mark.skipif(not shipped_models(), reason="no shipped fast models in styles/fast")
def test_a_shipped_model_applies_by_name(tmp_path):
    name, holder = next(iter(shipped_styles().items()))  # a style's name finds the shipped network holding it
    photo, out = tmp_path / "photo.jpg", tmp_path / "out.png"
    gradient_image(200, 150, seed=3).save(photo)
    result = cli("apply", name, str(photo), "-o", str(out), "--size", "128")
    assert result.returncode == 0, result.stderr
    assert read_recipe(out)["fast_model"]["file"] == holder.name and Image.open(out).size == (128, 96)
