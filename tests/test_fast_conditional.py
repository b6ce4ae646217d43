"""One fast network of several styles (conditional instance normalisation, Dumoulin et al. 2017): its semantics,
the shipped one-style files read as before, files of several styles, training several paintings (resumable), a
new style learnt with every convolution frozen, and the CLI's train, apply (by style name, --blend) and adapt."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image
from torch import nn

from nst_core.errors import SettingsError
from nst_core.fast.__main__ import main
from nst_core.fast.apply import MODELS, paint_tensor, shipped_models, style_model, stylize_fast
from nst_core.fast.data import PhotoSet
from nst_core.fast.model import (
    ConditionalInstanceNorm,
    FastModel,
    ModelError,
    StyleEntry,
    TransformerNet,
    blend_weights,
    load_model,
    model_bytes,
    save_model,
    style_digest,
)
from nst_core.fast.train import MAX_STEPS, Training, TrainSettings, train_iter
from nst_core.gallery import get_style
from nst_core.images import decode_image, read_recipe

from .conftest import ROOT, gradient_image, tiny_backbone
from .test_fast_cli import cli

TINY = dict(steps=4, batch=1, crop=32, style_size=48, sample_every=2, checkpoint_every=2, weights="untrained",
            device="cpu", content_layer="relu2_1", style_layers=("relu1_1", "relu2_1"))
PAINTINGS = {"warm": gradient_image(64, 64, seed=2).rotate(90), "cool": gradient_image(48, 64, seed=3)}


@pytest.fixture(scope="module")
def photos() -> PhotoSet:
    return PhotoSet.of([(f"p{i}.png", gradient_image(70 + 10 * i, 60, seed=20 + i)) for i in range(3)], keep_side=64)


def multi_style_net(styles: int = 3, seed: int = 0) -> TransformerNet:
    """A network whose styles differ: random scales and shifts for every style."""
    torch.manual_seed(seed)
    net = TransformerNet("slim", styles).eval()
    with torch.no_grad():
        for norm in net.norms().values():
            for scale, shift in zip(norm.scales, norm.shifts):
                scale.uniform_(0.5, 1.5)
                shift.normal_(0, 0.3)
    return net


def test_a_style_is_a_plain_instance_norm_and_a_blend_interpolates_its_scale_and_shift():
    torch.manual_seed(0)
    norm = ConditionalInstanceNorm(5, 3)
    with torch.no_grad():
        for scale, shift in zip(norm.scales, norm.shifts):
            scale.uniform_(0.5, 2)
            shift.normal_()
    x = torch.randn(2, 5, 9, 7)
    for k in range(3):
        plain = nn.InstanceNorm2d(5, affine=True)
        plain.load_state_dict({"weight": norm.scales[k].detach(), "bias": norm.shifts[k].detach()})
        with torch.no_grad():
            assert torch.equal(norm(x, k), plain(x))  # bit for bit
            assert torch.equal(norm(x, torch.eye(3)[k]), plain(x))  # a one-hot blend is the style itself
    plain = nn.InstanceNorm2d(5, affine=True)
    with torch.no_grad():
        plain.weight.copy_(0.25 * norm.scales[0] + 0.75 * norm.scales[2])
        plain.bias.copy_(0.25 * norm.shifts[0] + 0.75 * norm.shifts[2])
        assert torch.allclose(norm(x, torch.tensor([0.25, 0.0, 0.75])), plain(x), atol=1e-6)


def test_a_network_of_styles_runs_each_style_and_blend_as_its_one_style_copy():
    net = multi_style_net()
    x = torch.rand(1, 3, 36, 44)
    blend = blend_weights([2.0, 0.0, 2.0])
    assert blend.tolist() == [0.5, 0.0, 0.5]
    with torch.no_grad():
        outs = [net(x, k) for k in range(3)]
        assert all(not torch.equal(outs[0], other) for other in outs[1:])
        assert torch.equal(net.one_style(1)(x), outs[1])
        assert torch.allclose(net.one_style(blend)(x), net(x, blend), atol=1e-6)
        assert not torch.allclose(net(x, blend), outs[0], atol=1e-3)
    with pytest.raises(ValueError, match="holds 3 styles"):
        net(x)
    with pytest.raises(ValueError, match="one weight per style"):
        net(x, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="non-negative"):
        blend_weights([1.0, -1.0])


def plain_instance_norm_net(weights: dict[str, torch.Tensor]) -> TransformerNet:
    """The network as it was before conditional normalisation: nn.InstanceNorm2d(affine=True) at every norm,
    loaded with a one-style file's weights under their own names."""
    net = TransformerNet("slim")
    for name, norm in net.norms().items():
        parent, index = name.rsplit(".", 1)
        net.get_submodule(parent)[int(index)] = nn.InstanceNorm2d(norm.scales[0].numel(), affine=True)
    net.load_state_dict({k: v.float() for k, v in weights.items()})
    return net.eval()


ONE_STYLE = {name: path for name, path in shipped_models().items() if load_model(path).net.styles == 1}


@pytest.mark.skipif(not ONE_STYLE, reason="no shipped fast model of one style in styles/fast")
@pytest.mark.parametrize("name", sorted(ONE_STYLE))
def test_a_shipped_model_paints_as_before_and_is_saved_as_before(name):
    path = ONE_STYLE[name]
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "nst-fast-1"
    model = load_model(path)
    assert model.net.styles == 1 and [e.name for e in model.styles] == [name] and model.select(name) is model
    x = torch.rand(1, 3, 45, 61, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model.net(x), plain_instance_norm_net(raw["weights"])(x))
    again = torch.load(io.BytesIO(model_bytes(model)), weights_only=True)
    assert again["format"] == "nst-fast-1" and again["weights"].keys() == raw["weights"].keys()
    assert all(torch.equal(again["weights"][k], raw["weights"][k]) for k in raw["weights"])


def test_a_file_of_several_styles_is_small_and_selects_a_style_or_a_blend(tmp_path):
    net = multi_style_net()
    names = ["a", "b", "c"]
    entries = [StyleEntry(n, style_digest(gradient_image(40, 30, seed=i)), gradient_image(40, 30, seed=i))
               for i, n in enumerate(names)]
    entries[2] = StyleEntry("c")  # a style without its painting still stylizes
    model = FastModel(net, {"teacher": "perceptual", "steps_done": 3}, styles=entries)
    save_model(model, tmp_path / "abc.pt")
    assert (tmp_path / "abc.pt").stat().st_size < 700_000
    assert torch.load(tmp_path / "abc.pt", weights_only=True)["format"] == "nst-fast-2"
    loaded = load_model(tmp_path / "abc.pt")
    assert [e.name for e in loaded.styles] == names and loaded.style == "a, b, c" and loaded.digest == model.digest
    assert loaded.styles[1].painting.tobytes() == entries[1].painting.tobytes() and loaded.styles[2].painting is None
    x = torch.rand(1, 3, 32, 32)
    b = loaded.select("b")
    assert b.meta["style"] == "b" and b.meta["style_digest"] == entries[1].digest and b.painting is not None
    assert loaded.select(entries[1].digest).meta["style"] == "b"  # by its painting's digest
    mix = loaded.select({"a": 1, "c": 3})
    assert mix.meta["blend"] == {"a": 0.25, "c": 0.75} and mix.painting is None
    with torch.no_grad():
        assert (b.net(x) - net(x, 1)).abs().max().item() < 5e-3  # fp16 storage
        assert (mix.net(x) - net(x, torch.tensor([0.25, 0.0, 0.75]))).abs().max().item() < 5e-3
    assert stylize_fast(mix, gradient_image(50, 40), 48).size == (48, 38)
    with pytest.raises(ModelError, match=r"abc.pt holds 3 styles \(a, b, c\); pick one of them"):
        stylize_fast(loaded, gradient_image(50, 40), 48)  # what the studio's Fast tab would show for this file
    with pytest.raises(ModelError, match=r"abc.pt holds no style called 'd'; it holds a, b, c\."):
        loaded.select({"a": 1, "d": 1})
    with pytest.raises(ModelError, match="non-negative"):
        loaded.select({"a": -1})


def run(photos: PhotoSet, settings: TrainSettings, painting=PAINTINGS, **kwargs) -> list:
    return list(train_iter(painting, photos, settings, backbone=tiny_backbone(), **kwargs))


def test_several_paintings_train_one_network_in_turn_and_resume_exactly(photos, tmp_path):
    settings = TrainSettings(**TINY)
    whole = run(photos, settings, sample=gradient_image(50, 40), checkpoint=tmp_path / "a.ckpt")
    assert [e.step for e in whole] == [1, 2, 3, 4] and whole[1].sample.size == (2 * 256, 205)  # both styles
    model = whole[-1].best
    assert [e.name for e in model.styles] == ["warm", "cool"] and model.meta["steps_done"] == 4
    assert [e.digest for e in model.styles] == [style_digest(p) for p in PAINTINGS.values()]
    events = train_iter(PAINTINGS, photos, settings, backbone=tiny_backbone(), checkpoint=tmp_path / "b.ckpt")
    for event in events:
        if event.step == 2:
            events.close()  # a stop after the checkpoint at step 2
    resumed = run(photos, settings, checkpoint=tmp_path / "b.ckpt", resume=True)
    assert [e.step for e in resumed] == [3, 4]
    for mine, theirs in zip(resumed[-1].best.net.state_dict().values(), model.net.state_dict().values()):
        assert torch.allclose(mine, theirs, atol=1e-6)
    with pytest.raises(SettingsError, match="another style"):
        run(photos, settings, painting={"warm": PAINTINGS["warm"]}, checkpoint=tmp_path / "b.ckpt", resume=True)
    with pytest.raises(SettingsError, match="distil teacher learns one painting"):
        run(photos, TrainSettings(**{**TINY, "teacher": "distil"}))


def test_a_step_trains_its_own_style_and_the_shared_convolutions_only(photos):
    run_ = Training(PAINTINGS, photos, TrainSettings(**TINY), "", None, torch.device("cpu"), tiny_backbone())
    before = {k: v.clone() for k, v in run_.net.state_dict().items()}
    run_.train_step()  # step 0 trains style 0: Adam sees no gradient for style 1's scales and shifts
    after = run_.net.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(".scales.0" in k for k in moved) and not any(".scales.1" in k or ".shifts.1" in k for k in moved)
    assert any(".scales." not in k and ".shifts." not in k for k in moved)  # the convolutions learn too


def test_adapt_learns_a_new_style_with_every_convolution_and_old_style_frozen(photos, tmp_path):
    base = FastModel(multi_style_net(2), {"teacher": "perceptual", "steps_done": 9},
                     styles=[StyleEntry("one"), StyleEntry("two")])
    save_model(base, tmp_path / "base.pt")
    base = load_model(tmp_path / "base.pt")
    settings = TrainSettings(**{**TINY, "steps": 6, "batch": 2, "learning_rate": 2e-2, "sample_every": 3})
    new = gradient_image(64, 48, seed=9).rotate(45)
    events = run(photos, settings, painting=new, style_name="three", base=base, sample=gradient_image(50, 40))
    model = events[-1].best
    assert [e.name for e in model.styles] == ["one", "two", "three"] and model.meta == base.meta
    assert model.styles[2].digest == style_digest(new) and model.styles[2].meta["adapted"]["steps_done"] == 6
    assert events[2].sample.size == (256, 205)  # the new style alone
    theirs, mine = base.net.state_dict(), model.net.state_dict()
    for key, value in theirs.items():  # the convolutions and both old styles, bit for bit
        assert torch.equal(mine[key], value), key
    assert any(not torch.equal(mine[k], mine[k.replace(".2", ".0")]) for k in mine if k.endswith("scales.2"))
    # The new style's loss on eight fixed crops falls from its start (the base's average style) to the end
    # (measured: 2.87 to 1.59; two crops are too few to judge by, their loss once rose).
    judge = Training(new, photos, settings, "three", None, torch.device("cpu"), tiny_backbone(), base=base)
    batch, _ = photos.batch(torch.Generator().manual_seed(123), 8, 32)
    with torch.no_grad():
        start = judge.perceptual(batch, 2)[0].item()
        judge.net.load_state_dict(mine)
        end = judge.perceptual(batch, 2)[0].item()
    assert end < 0.8 * start, (start, end)
    save_model(model, tmp_path / "three.pt")
    assert load_model(tmp_path / "three.pt").select("three").meta["style_digest"] == style_digest(new)


def test_a_trained_network_goes_on_learning_its_styles_by_name_under_other_settings(photos, tmp_path):
    """`start`: the shipped networks were trained on with the sliced style loss after the Gram loss."""
    start = FastModel(multi_style_net(2), {"teacher": "perceptual", "steps_done": 9},
                      styles=[StyleEntry("warm"), StyleEntry("cool")])
    save_model(start, tmp_path / "start.pt")
    start = load_model(tmp_path / "start.pt")
    settings = TrainSettings(**{**TINY, "style_loss": "sliced", "steps": 2})
    swapped = {"cool": PAINTINGS["cool"], "warm": PAINTINGS["warm"]}  # its styles in another order
    goes_on = Training(swapped, photos, settings, "", None, torch.device("cpu"), tiny_backbone(), start=start)
    theirs = start.net.state_dict()
    for key, value in goes_on.net.state_dict().items():
        head, _, index = key.rpartition(".")
        mapped = f"{head}.{1 - int(index)}" if head.endswith((".scales", ".shifts")) else key
        assert torch.equal(value, theirs[mapped]), key  # cool's scales and shifts are start's second style's
    events = run(photos, settings, painting=swapped, start=start, checkpoint=tmp_path / "on.ckpt")
    model = events[-1].best
    assert [e.name for e in model.styles] == ["cool", "warm"] and model.meta["settings"]["style_loss"] == "sliced"
    assert model.meta["started_from"]["sha256"] == start.digest and model.meta["started_from"]["steps_done"] == 9
    with pytest.raises(SettingsError, match="another style"):  # its checkpoint is not a fresh run's
        run(photos, settings, painting=swapped, checkpoint=tmp_path / "on.ckpt", resume=True)
    with pytest.raises(SettingsError, match="holds no style called 'hot'"):
        run(photos, settings, painting={"warm": PAINTINGS["warm"], "hot": PAINTINGS["cool"]}, start=start)


def test_a_network_that_has_painted_paints_as_before_and_can_still_learn(photos):
    """Pictures are painted in channels_last memory: the same picture, and the model (as the studio keeps it in
    its cache) can still be the base a new style is learnt into."""
    base = FastModel(multi_style_net(1), {"teacher": "perceptual"}, styles=[StyleEntry("one")])
    x = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        expected = base.net(x)
    assert torch.allclose(paint_tensor(base, x, "fp32"), expected, atol=1e-5)  # fp32 either way
    events = run(photos, TrainSettings(**{**TINY, "steps": 1}), painting=PAINTINGS["warm"], style_name="warm",
                 base=base)
    assert [e.name for e in events[-1].best.styles] == ["one", "warm"]


def test_the_cli_trains_two_paintings_applies_a_style_and_a_blend_and_adapts(tmp_path):
    """Subprocesses as a user runs them, but for applying one style (in-process: main() is what runs)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        gradient_image(80 + 10 * i, 60, seed=i).save(folder / f"p{i}.png")
    gradient_image(64, 64, seed=5).save(tmp_path / "mine.png")
    tiny = ["--steps", "2", "--batch", "1", "--crop", "32", "--weights", "untrained", "--sample-every", "2",
            "--style-size", "48", "--content-layer", "relu2_1", "--style-layers", "relu1_1", "relu2_1", "--quiet"]
    model = tmp_path / "two.pt"
    result = cli("train", "stained_glass", str(tmp_path / "mine.png"), "--photos", str(folder), "-o", str(model),
                 *tiny, "--style-loss", "sliced", "--style-weight", "40")
    assert result.returncode == 0, result.stderr
    assert "2 styles" in result.stderr
    trained = load_model(model)
    assert [e.name for e in trained.styles] == ["stained_glass", "mine"]
    assert trained.styles[0].digest == style_digest(decode_image(get_style("stained_glass").path))

    photo, out = tmp_path / "photo.jpg", tmp_path / "out.png"
    gradient_image(101, 67, seed=7).save(photo)
    assert main(["apply", "mine", str(photo), "-o", str(out), "--size", "64", "--model", str(model)]) == 0
    recipe = read_recipe(out)
    assert recipe["fast_model"]["style"] == "mine" and recipe["fast_model"]["sha256"] == trained.digest
    assert Image.open(out).size == (64, 42)

    four = tmp_path / "three.pt"
    result = cli("adapt", "marbled_paper", "--base", str(model), "--photos", str(folder), "-o", str(four), *tiny)
    assert result.returncode == 0, result.stderr
    assert "only the new style's scales and shifts train" in result.stderr and "3 styles" in result.stderr
    adapted = load_model(four)
    assert [e.name for e in adapted.styles] == ["stained_glass", "mine", "marbled_paper"]
    learnt_under = adapted.styles[-1].meta["adapted"]["settings"]
    assert learnt_under["learning_rate"] == 0.03  # adapt's own step size
    assert (learnt_under["style_loss"], learnt_under["style_weight"]) == ("sliced", 40)  # the base's losses
    result = cli("adapt", "marbled_paper", "--base", str(model), "--photos", str(folder), "-o", str(tmp_path / "g.pt"),
                 *tiny, "--style-loss", "gram")
    assert result.returncode == 0, result.stderr
    assert load_model(tmp_path / "g.pt").styles[-1].meta["adapted"]["settings"]["style_loss"] == "gram"  # as told
    result = cli("adapt", "marbled_paper", "--base", str(model), "--photos", str(folder), "-o", str(tmp_path / "t.pt"),
                 *tiny[2:], "--seconds", "2")  # no --steps: "--seconds 2" is two seconds of learning
    assert result.returncode == 0, result.stderr
    timed = load_model(tmp_path / "t.pt").styles[-1].meta["adapted"]
    assert timed["settings"]["steps"] == MAX_STEPS and timed["steps_done"] > 2 and timed["training_seconds"] >= 2
    assert trained.net.convolutions().keys() == adapted.net.convolutions().keys()
    assert all(torch.equal(v, adapted.net.convolutions()[k]) for k, v in trained.net.convolutions().items())

    result = cli("apply", str(four), str(photo), "-o", str(out), "--size", "64", "--blend", "mine=1",
                 "marbled_paper=3")
    assert result.returncode == 0, result.stderr
    assert read_recipe(out)["fast_model"]["style"] == "mine 0.25 + marbled_paper 0.75"

    result = cli("train", str(tmp_path / "mine.png"), "stained_glass", "--start", str(model), "--style-loss", "sliced",
                 "--photos", str(folder), "-o", str(tmp_path / "on.pt"), *tiny)
    assert result.returncode == 0, result.stderr
    went_on = load_model(tmp_path / "on.pt")
    assert [e.name for e in went_on.styles] == ["mine", "stained_glass"]
    assert went_on.meta["started_from"]["sha256"] == trained.digest
    assert went_on.meta["settings"]["style_loss"] == "sliced"

    result = cli("apply", str(four), str(photo), "-o", str(out), "--blend", "mine=1", "cubism=1")
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: three.pt holds no style called 'cubism'; it holds stained_glass, mine, "
                                     "marbled_paper.")


@pytest.mark.parametrize("args, words", [
    (["apply", "no_such_style", "{photo}", "-o", "{out}"], "neither a shipped fast model"),
    (["apply", "nope", "{photo}", "-o", "{out}", "--model", "{model}"], "holds no style called 'nope'"),
    (["apply", "{model}", "{photo}", "-o", "{out}"], "holds 2 styles (a, b); name one with --model"),
    (["apply", "{model}", "{photo}", "-o", "{out}", "--blend", "a=1", "z=1"], "holds no style called 'z'"),
    (["apply", "{model}", "{photo}", "-o", "{out}", "--blend", "a"], "--blend takes NAME=WEIGHT pairs"),
    (["apply", "{model}", "{photo}", "-o", "{out}", "--blend", "a=0", "b=0"], "non-negative"),
    (["adapt", "{photo}", "--photos", "{tmp}", "-o", "{tmp}/m.pt", "--weights", "untrained"],
     "no shipped multi-style network yet"),
    (["adapt", "a", "--base", "{model}", "--photos", "{tmp}", "-o", "{tmp}/m.pt"], "already holds a style called 'a'"),
    (["train", "a.png", "{tmp}/a.png", "--photos", "{tmp}", "-o", "{tmp}/m.pt"], "both called 'a'"),
    (["train", "stained_glass", "marbled_paper", "--photos", "{tmp}", "-o", "{tmp}/m.pt", "--teacher", "distil"],
     "distil teacher learns one painting"),
    (["train", "a.png", "c.png", "--start", "{model}", "--photos", "{tmp}", "-o", "{tmp}/m.pt"],
     "ab.pt holds no style called 'c.png'"),
    (["train", "a.png", "--start", "{model}", "--photos", "{tmp}", "-o", "{tmp}/m.pt", "--width", "full"],
     "is slim; train it with --width slim"),
])
def test_errors_are_one_line(tmp_path, args, words, capsys, monkeypatch):
    """In-process (main() is what the subprocess runs), to keep the suite quick."""
    monkeypatch.delenv("NST_WEIGHTS", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("nst_core.fast.__main__.GALLERY_MODEL", ROOT / "styles" / "fast" / "none.pt")  # none shipped
    save_model(FastModel(multi_style_net(2), {}, styles=[StyleEntry("a"), StyleEntry("b")]), tmp_path / "ab.pt")
    gradient_image(40, 30).save(tmp_path / "photo.png")
    gradient_image(40, 30).save(tmp_path / "a.png")
    values = {"photo": tmp_path / "photo.png", "out": tmp_path / "out.png", "model": tmp_path / "ab.pt",
              "tmp": tmp_path}
    assert main([a.format(**values) for a in args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines


@pytest.mark.skipif(not ONE_STYLE, reason="no shipped fast model of one style in styles/fast")
def test_a_shipped_one_style_model_is_found_by_its_name_and_by_its_gallery_painting(tmp_path):
    name = next(iter(ONE_STYLE))
    assert style_model(name) is MODELS.get(ONE_STYLE[name])
    renamed = load_model(ONE_STYLE[name])
    renamed.meta["style"] = "renamed"
    save_model(renamed, tmp_path / "renamed.pt")
    # The gallery's name finds the style by its painting's digest, whatever the model calls it.
    assert style_model(name, tmp_path / "renamed.pt").meta["style"] == "renamed"


def test_the_video_painter_refuses_a_file_of_several_styles_in_one_sentence(tmp_path):
    from nst_core.video import FastPainter

    save_model(FastModel(multi_style_net(2), {}, styles=[StyleEntry("a"), StyleEntry("b")]), tmp_path / "ab.pt")
    with pytest.raises(ModelError, match=r"ab.pt holds 2 styles \(a, b\); pick one of them"):
        FastPainter(MODELS.get(tmp_path / "ab.pt"))


def test_a_shipped_file_of_several_styles_serves_each_gallery_painting_it_learnt(tmp_path, monkeypatch):
    """The gallery's network: the Stylize tab's instant picture, the video painter and the style list find a
    painting's style inside it by the painting's pixels (they looked only at files of one style)."""
    from nst_core import Settings
    from nst_core.fast import apply
    from nst_core.video import FastPainter, painter_for

    names = ("stained_glass", "pointillism")
    art = {name: decode_image(get_style(name).path) for name in names}
    entries = [StyleEntry(name, style_digest(art[name]), art[name]) for name in names]
    save_model(FastModel(multi_style_net(2), {"teacher": "perceptual"}, styles=entries), tmp_path / "gallery.pt")
    monkeypatch.setattr(apply, "SHIPPED_DIR", tmp_path)
    assert apply.shipped_styles() == {name: tmp_path / "gallery.pt" for name in names}
    photo = gradient_image(80, 60, seed=9)
    for name in names:
        found = apply.model_for_painting(art[name])
        assert found is not None and found.style == name and found.net.styles == 1
        expected = stylize_fast(MODELS.get(tmp_path / "gallery.pt").select(name), photo, 64)
        picture, recipe = apply.instant_preview(photo, [art[name]], Settings(size=64))
        assert picture.tobytes() == expected.tobytes() and recipe["fast_model"]["style"] == name
        painter, method = painter_for(art[name], None, Settings(size=64))
        assert method == "fast" and isinstance(painter, FastPainter) and painter.model.style == name
    assert apply.model_for_painting(gradient_image(50, 50, seed=4)) is None
    # A network trained for one of those paintings alone is used before the gallery's, whatever the names' order.
    alone = MODELS.get(tmp_path / "gallery.pt").select("pointillism")
    save_model(FastModel(multi_style_net(1, seed=3), alone.meta, alone.painting), tmp_path / "z_pointillism.pt")
    assert apply.model_for_painting(art["pointillism"]).source == "z_pointillism.pt"
    assert apply.shipped_styles()["pointillism"] == tmp_path / "z_pointillism.pt"
    assert apply.style_holder("pointillism") == tmp_path / "z_pointillism.pt"


def test_the_studio_learns_a_visitors_painting_into_the_shipped_gallery_network(tmp_path, monkeypatch):
    """Where the gallery's network is shipped, the Fast tab's training adapts it (only the new style's scales and
    shifts move) and the menu then picks the new style of the file it gives."""
    from nst_core.fast import apply
    from studio.tabs import fast_job
    from studio.tabs.fast import menu_for_file

    assert fast_job.gallery_base() is None or apply.GALLERY_MODEL.is_file()
    names = ("stained_glass", "pointillism")
    art = {name: decode_image(get_style(name).path) for name in names}
    entries = [StyleEntry(name, style_digest(art[name]), art[name]) for name in names]
    base = FastModel(multi_style_net(2), {"teacher": "perceptual"}, styles=entries)
    save_model(base, tmp_path / "gallery.pt")
    monkeypatch.setattr(apply, "GALLERY_MODEL", tmp_path / "gallery.pt")
    assert fast_job.gallery_base() == str(tmp_path / "gallery.pt")
    settings = TrainSettings(**{**TINY, "steps": 3, "sample_every": 1, "checkpoint_every": 100})
    photo, painting = gradient_image(90, 70, seed=5), PAINTINGS["warm"]
    frames = list(fast_job.train_frames(photo, painting, settings, "your painting", base=fast_job.gallery_base()))
    assert frames[-1].done
    model = load_model([f for f in frames if "model" in f.meta][-1].meta["model"])
    assert [entry.name for entry in model.styles] == [*names, "your painting"]
    learnt, before = model.net.state_dict(), base.net.state_dict()
    for name, value in before.items():  # every convolution and both gallery styles as they were (fp16 in a file)
        assert torch.allclose(learnt[name].float(), value.float(), atol=2e-3), name
    assert not torch.allclose(model.net.norms()["net.0.1"].shifts[2], model.net.norms()["net.0.1"].shifts[0])
    save_model(model, tmp_path / "trained.pt")
    menu = menu_for_file(str(tmp_path / "trained.pt"), "stained_glass")
    assert menu["value"] == "model-file:your painting"
