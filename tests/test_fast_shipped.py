"""The shipped fast networks: small slim files that say what they learnt and from what, and (with the real
weights) pictures on an unseen photo that carry the painting's style and keep the photo's subject. Each gallery
style a shipped file holds is checked as the studio uses it: its one-style model (`style_model`)."""

from __future__ import annotations

import pytest

from bench.measures import Judge, structure_kept
from nst_core.backbones import load_backbone
from nst_core.fast.apply import shipped_styles, style_model, stylize_fast
from nst_core.fast.model import load_model, style_digest
from nst_core.fast.train import TEACHERS, TrainSettings
from nst_core.gallery import get_style
from nst_core.images import decode_image, resize_to, to_tensor

from .conftest import ROOT

SHIPPED = shipped_styles()
UNSEEN = {"tubingen.jpg", "golden_gate.jpg", "brad_pitt.jpg"}
pytestmark = pytest.mark.skipif(not SHIPPED, reason="no shipped fast models in styles/fast")


def test_at_least_six_gallery_styles_are_shipped():
    assert len(SHIPPED) >= 6, sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_style_is_small_slim_and_says_what_it_learnt(name):
    path = SHIPPED[name]
    assert path.stat().st_size < 3_000_000
    model = load_model(path).select(name)
    meta = model.meta
    assert model.net.width == "slim" and meta["style"] == name and meta["teacher"] in TEACHERS
    assert meta["style_digest"] == style_digest(decode_image(get_style(name).path))  # the gallery's painting
    assert len(meta["photos"]) >= 20 and not UNSEEN & set(meta["photos"]) and meta["training_seconds"] > 0
    settings = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["settings"].items() if k != "weights"}
    assert TrainSettings(**settings).width == "slim"
    assert path.name in (ROOT / "styles" / "fast" / "README.md").read_text()


@pytest.mark.weights
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_on_an_unseen_photo_the_style_comes_and_the_subject_stays(name, real_weights, shared_images):
    """bench.fast_quality's measures on golden_gate at 256 px (docs/fast-paint.md has every style's figures and the
    slow engine's beside them): well nearer the painting than the photo is, and the bridge still there. (Measured
    on the shipped networks: 0.18-0.33 and 0.50-0.89; the Gram networks they went on from were at 0.35-0.53.)"""
    judge = Judge(load_backbone(str(real_weights), pooling="max"))
    photo = decode_image(shared_images / "golden_gate.jpg")
    painting = decode_image(get_style(name).path)
    result = stylize_fast(style_model(name), photo, 256)
    content = to_tensor(resize_to(photo, result.size))
    style = to_tensor(painting.resize((256, round(256 * painting.height / painting.width))))
    assert judge.style_distance(to_tensor(result), content, style) < 0.4  # 1 = the photo's own distance
    assert structure_kept(to_tensor(result), content) > 0.4
