import urllib.error

import pytest
import torch

from nst_core import backbones
from nst_core.backbones import CAFFE, TORCHVISION, VGGFeatures, arch_of_state, layer_names, load_backbone
from nst_core.errors import NotDownloaded, SettingsError, WeightsUnavailable

from .conftest import tiny_backbone


def test_layer_names_follow_the_papers_and_torchvision_indices():
    names16, names19 = layer_names("vgg16"), layer_names("vgg19")
    assert len(names16) == 31 and len(names19) == 37  # torchvision's features lengths
    assert names19[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names19.index("conv4_2") == 21 and names19.index("relu5_1") == 29
    assert "relu5_4" in names19 and "relu5_4" not in names16


def test_vgg16_rejects_vgg19_only_layers_by_name():
    with pytest.raises(SettingsError, match="VGG16 has no layer 'relu5_4'"):
        tiny_backbone("vgg16").check_layers(["relu5_4"])


def test_forward_returns_requested_layers_with_their_shapes():
    feats = tiny_backbone()(torch.rand(1, 3, 64, 48), {"relu1_1", "relu3_1", "relu5_1"})
    assert feats["relu1_1"].shape == (1, 4, 64, 48)
    assert feats["relu3_1"].shape == (1, 16, 16, 12)
    assert feats["relu5_1"].shape == (1, 32, 4, 3)


def test_preprocessing_conventions():
    pixel = torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1)
    tv = VGGFeatures("vgg16", convention=TORCHVISION, width=1 / 64).preprocess(pixel).flatten()
    assert torch.allclose(tv, (torch.tensor([0.2, 0.5, 0.8]) - torch.tensor(TORCHVISION.mean))
                          / torch.tensor(TORCHVISION.std))
    caffe = VGGFeatures("vgg16", convention=CAFFE, width=1 / 64).preprocess(pixel).flatten()
    # Caffe: BGR order, 0..255, minus B 103.939, G 116.779, R 123.68.
    expected = torch.tensor([0.8 * 255 - 103.939, 0.5 * 255 - 116.779, 0.2 * 255 - 123.68])
    assert torch.allclose(caffe, expected, atol=1e-4)


def full_state(arch: str, seed: int = 0) -> dict[str, torch.Tensor]:
    model = VGGFeatures(arch)
    backbones.init_untrained(model, seed=seed)
    state = {f"features.{k.split('.')[1]}.{k.split('.')[2]}": v for k, v in model.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # checkpoints may carry a classifier: ignored
    return state


def test_local_file_round_trip_needs_a_declared_or_recognised_convention(tmp_path):
    state = full_state("vgg16", seed=5)
    path = tmp_path / "my-vgg.pth"
    torch.save(state, path)
    with pytest.raises(SettingsError, match="--weights-convention"):
        load_backbone(str(path))
    model = load_backbone(str(path), convention="torchvision")
    assert model.arch == "vgg16" and model.convention is TORCHVISION
    assert torch.equal(model.features[0].weight, state["features.0.weight"])
    caffe_path = tmp_path / "vgg16-caffe-mine.pth"
    torch.save(state, caffe_path)
    assert load_backbone(str(caffe_path)).convention is CAFFE


def test_broken_weights_get_one_sentence(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailable, match="not a PyTorch checkpoint"):
        load_backbone(str(junk), convention="caffe")
    with pytest.raises(WeightsUnavailable, match="No weights file"):
        load_backbone(str(tmp_path / "missing.pth"))
    with pytest.raises(WeightsUnavailable, match="expected a VGG-16"):
        arch_of_state({"features.0.weight": torch.zeros(1)})


def test_offline_download_is_one_sentence_without_a_path_errno_or_flag(monkeypatch, tmp_path):
    """It said where torch's cache was, the errno and a CLI flag, all shown to studio visitors as they were."""
    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(-3, f"Temporary failure in name resolution ({tmp_path})"))

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    load_backbone.cache_clear()
    with pytest.raises(NotDownloaded) as info:
        load_backbone("vgg16-caffe")
    load_backbone.cache_clear()
    message = str(info.value)
    assert message == ("The vgg16-caffe weights are not downloaded yet and could not be fetched "
                       "(no connection to the internet).")


def test_download_goes_through_torch_hub_with_checksum(monkeypatch):
    calls = {}

    def fake(url, **kwargs):
        calls.update(kwargs, url=url)
        return full_state("vgg19")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake)
    load_backbone.cache_clear()
    model = load_backbone("vgg19")
    load_backbone.cache_clear()
    assert calls["url"].endswith("vgg19-dcbb9e9d.pth") and calls["check_hash"] and calls["weights_only"]
    assert model.arch == "vgg19" and model.convention is TORCHVISION


def test_untrained_is_seeded():
    a, b = tiny_backbone(seed=1), tiny_backbone(seed=1)
    assert torch.equal(a.features[0].weight, b.features[0].weight)
    assert not torch.equal(a.features[0].weight, tiny_backbone(seed=2).features[0].weight)


@pytest.mark.weights
def test_shared_weights_are_recognised_as_caffe(real_weights):
    model = load_backbone(str(real_weights))
    assert model.arch == "vgg16" and model.convention is CAFFE


def test_the_architecture_is_torchvisions_with_its_layer_indices():
    from torchvision.models import vgg16, vgg19

    for arch, build in (("vgg16", vgg16), ("vgg19", vgg19)):
        ours = {k: v.shape for k, v in VGGFeatures(arch).state_dict().items()}
        theirs = {k: v.shape for k, v in build(weights=None).state_dict().items() if k.startswith("features.")}
        assert ours == theirs
    assert VGGFeatures("vgg19").channels("relu3_1") == 256 and VGGFeatures("vgg16").channels("relu5_3") == 512
