"""Training a fast network on tiny networks and a few steps: photos and bad files, both teachers, the best
network, checkpoints that resume exactly, the time limit, and COCO's download path with a local zip."""

from __future__ import annotations

import urllib.error
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nst_core.errors import NSTError, SettingsError
from nst_core.fast import train as train_module
from nst_core.fast.data import PhotoSet, fetch_coco, load_photos
from nst_core.fast.model import FastModel, load_model, save_model, style_digest
from nst_core.fast.train import TrainSettings, distil_targets, train_iter

from .conftest import gradient_image, tiny_backbone

TINY = dict(steps=4, batch=2, crop=32, style_size=48, sample_every=2, checkpoint_every=2, weights="untrained",
            device="cpu", content_layer="relu2_1", style_layers=("relu1_1", "relu2_1"))


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """Three usable photos and four files that are not: text, a truncated JPEG, a 10 px image, an empty file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, size in enumerate([(90, 60), (64, 96), (120, 80)]):
        gradient_image(*size, seed=10 + i).save(folder / f"photo{i}.{'png' if i else 'jpg'}")
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.jpg").write_bytes((folder / "photo0.jpg").read_bytes()[:200])
    gradient_image(10, 10).save(folder / "tiny.png")
    (folder / "empty.png").write_bytes(b"")
    (folder / ".hidden.jpg").write_bytes(b"ignored")
    return folder


def test_bad_photos_are_skipped_and_counted(photo_folder):
    photos = load_photos(photo_folder, keep_side=48)
    assert photos.names == ["photo0.jpg", "photo1.png", "photo2.png"]
    assert sorted(photos.skipped) == ["broken.jpg", "empty.png", "notes.txt", "tiny.png"]
    assert all(min(p.shape[1:]) == 48 for p in photos.pixels)  # shrunk to the short side kept


def test_a_folder_without_photos_is_one_sentence(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(NSTError, match=r"no usable photo \(1 files skipped\)"):
        load_photos(tmp_path)
    with pytest.raises(NSTError, match="no folder"):
        load_photos(tmp_path / "missing")


def test_batches_are_seeded_crops_with_aligned_targets(photo_folder):
    photos = load_photos(photo_folder, keep_side=64)
    flipped = photos.with_targets([gradient_image(10, 10)] * 3)  # targets resized to their photos' sizes
    photos_a, _ = photos.batch(torch.Generator().manual_seed(5), 3, 32)
    photos_b, _ = photos.batch(torch.Generator().manual_seed(5), 3, 32)
    assert photos_a.shape == (3, 3, 32, 32) and torch.equal(photos_a, photos_b)
    paired = PhotoSet(photos.names, photos.pixels, targets=list(photos.pixels))
    inputs, targets = paired.batch(torch.Generator().manual_seed(6), 4, 32)
    assert torch.equal(inputs, targets)  # the same crop, scale and flip for a photo and its target
    assert flipped.batch(torch.Generator().manual_seed(6), 2, 32)[1].shape == (2, 3, 32, 32)


def run(settings: TrainSettings, photos: PhotoSet, **kwargs) -> list:
    painting = gradient_image(64, 64, seed=2).rotate(90)
    return list(train_iter(painting, photos, settings, style_name="test", backbone=tiny_backbone(), **kwargs))


def test_perceptual_training_yields_steps_samples_and_a_working_model(photo_folder, tmp_path):
    photos = load_photos(photo_folder, keep_side=64)
    events = run(TrainSettings(**TINY), photos, sample=gradient_image(50, 40))
    assert [e.step for e in events] == [1, 2, 3, 4] and events[-1].done and not events[0].done
    assert [e.step for e in events if e.sample is not None] == [2, 4]
    assert events[1].sample.size == (256, 205)  # the held-out photo at the sample size
    assert set(events[0].terms) == {"content", "style"} and all(e.loss > 0 for e in events)
    model = events[-1].best
    assert isinstance(model, FastModel) and model.meta["steps_done"] == 4 and model.meta["photos_skipped"] == 4
    assert model.meta["photos"] == photos.names and model.meta["style_digest"] == style_digest(model.painting)
    assert model.meta["settings"]["weights"] == "untrained" and model.meta["teacher"] == "perceptual"
    save_model(model, tmp_path / "m.pt")
    again = load_model(tmp_path / "m.pt")
    with torch.no_grad():
        assert again.net(torch.rand(1, 3, 24, 24)).shape == (1, 3, 24, 24)


def test_the_best_network_is_kept_not_the_last(photo_folder, monkeypatch):
    """A loss that rises after step 2: the model handed out at the end is the one from step 2."""
    losses = iter([5.0, 1.0, 9.0, 9.0, 9.0, 9.0])
    real_step = train_module.Training.train_step

    def rigged(self):
        values = real_step(self)
        values["loss"] = next(losses)
        return values

    monkeypatch.setattr(train_module.Training, "train_step", rigged)
    events = run(TrainSettings(**{**TINY, "steps": 6}), load_photos(photo_folder, keep_side=64))
    at_two = events[1].best
    assert at_two is not None and [e.best is not None for e in events] == [False, True, False, False, False, True]
    final = events[-1].best
    for mine, kept in zip(final.net.state_dict().values(), at_two.net.state_dict().values()):
        assert torch.equal(mine, kept)


def test_a_stopped_run_resumes_exactly_from_its_checkpoint(photo_folder, tmp_path):
    photos = load_photos(photo_folder, keep_side=64)
    settings = TrainSettings(**TINY)
    whole = run(settings, photos, checkpoint=tmp_path / "a.ckpt")[-1].best
    painting = gradient_image(64, 64, seed=2).rotate(90)
    checkpoint = tmp_path / "b.ckpt"
    events = train_iter(painting, photos, settings, style_name="test", backbone=tiny_backbone(), checkpoint=checkpoint)
    for event in events:
        if event.step == 2:
            events.close()  # a Stop after the checkpoint at step 2
    assert checkpoint.is_file()
    resumed = run(settings, photos, checkpoint=checkpoint, resume=True)
    assert [e.step for e in resumed] == [3, 4]
    # The recorded seconds carry the time before the stop; they are rounded to 0.1 s (0.1 < 0.1013 failed once).
    assert resumed[-1].best.meta["training_seconds"] >= resumed[0].elapsed - 0.05
    for mine, theirs in zip(resumed[-1].best.net.state_dict().values(), whole.net.state_dict().values()):
        assert torch.allclose(mine, theirs, atol=1e-6)
    with pytest.raises(SettingsError, match="another crop"):
        run(TrainSettings(**{**TINY, "crop": 40}), photos, checkpoint=checkpoint, resume=True)
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(SettingsError, match="cannot be read"):
        run(settings, photos, checkpoint=tmp_path / "junk.ckpt", resume=True)


def test_the_time_limit_ends_training_with_a_model(photo_folder, monkeypatch):
    """On training's own clock, made to advance 1 s a step, whatever a step really costs on this machine (2 real
    steps once fitted in a 0.01 s limit)."""
    now = [100.0]
    real_step = train_module.Training.train_step

    def one_second_step(self):
        now[0] += 1.0
        return real_step(self)

    monkeypatch.setattr(train_module, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    monkeypatch.setattr(train_module.Training, "train_step", one_second_step)
    events = run(TrainSettings(**{**TINY, "steps": 1000, "max_seconds": 2.5}), load_photos(photo_folder))
    assert [e.step for e in events] == [1, 2, 3] and [e.elapsed for e in events] == [1.0, 2.0, 3.0]
    assert events[-1].done and not events[1].done
    assert events[-1].message == "Stopped at the 2.5 s time limit after 3 steps."
    assert events[-1].best is not None and events[-1].best.meta["steps_done"] == 3


def test_distillation_caches_the_engines_pictures_and_regresses_them(photo_folder, tmp_path, monkeypatch):
    settings = TrainSettings(**{**TINY, "teacher": "distil", "distil_size": 40, "distil_iterations": 3,
                                "steps": 30, "learning_rate": 1e-2, "sample_every": 10})
    photos = load_photos(photo_folder, keep_side=settings.distil_size)
    painting = gradient_image(64, 64, seed=2).rotate(90)
    made = dict(distil_targets(photos, painting, settings, tmp_path / "cache", backbone=tiny_backbone()))
    assert sorted(made) == [0, 1, 2] and made[1].size == (40, 60)  # at the photo's own (kept) size
    assert len(list((tmp_path / "cache").glob("*.png"))) == 3
    monkeypatch.setattr(train_module, "stylize", lambda *a, **k: pytest.fail("the cache was not used"))
    again = dict(distil_targets(photos, painting, settings, tmp_path / "cache", backbone=tiny_backbone()))
    assert all(np.array_equal(np.asarray(again[i]), np.asarray(made[i])) for i in made)
    with pytest.raises(SettingsError, match="distil teacher needs"):
        run(settings, photos)
    events = run(settings, photos.with_targets([made[i] for i in range(3)]))
    assert set(events[0].terms) == {"pixel"}
    first, last = sum(e.loss for e in events[:5]), sum(e.loss for e in events[-5:])
    assert last < 0.7 * first, (first, last)


def test_coco_download_unpacks_and_a_failed_one_leaves_nothing(tmp_path):
    archive = tmp_path / "served.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("val2017/000000000139.jpg", b"jpeg bytes")
        zipped.writestr("val2017/../../escape.txt", b"must not be written")
        zipped.writestr("annotations/skip.json", b"{}")
    folder = fetch_coco(tmp_path / "coco", url=archive.as_uri())
    assert sorted(p.name for p in folder.iterdir()) == ["000000000139.jpg"]
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "coco" / "annotations").exists()
    assert fetch_coco(tmp_path / "coco", url="http://127.0.0.1:9/never-asked") == folder  # already there

    def offline(url, timeout):
        raise urllib.error.URLError("no network")

    with pytest.raises(NSTError, match="could not be downloaded"):
        fetch_coco(tmp_path / "offline", opener=offline)
    assert not any((tmp_path / "offline").iterdir())
