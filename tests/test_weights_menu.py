"""The Network weights menu says what works here, without a network call (issue 21, defect 2): offline without
NST_WEIGHTS, every option but `untrained` failed the same way and the sentence sent the visitor round them."""

from __future__ import annotations

import pickle
import socket
import time
from dataclasses import replace

import gradio as gr
import pytest
import torch

from nst_core import reach
from nst_core.backbones import SOURCES, _download_state, arch_of_weights, hub_file, is_cached
from nst_core.errors import NotDownloaded, NSTError
from studio import controls
from studio.runner import user_errors


def answered(monkeypatch, reachable: bool) -> None:
    """Every weight source's host has answered: reachable or not."""
    hosts = {reach.host_of(source.url) for source in SOURCES.values() if source.url}
    monkeypatch.setattr(reach, "_answers", {host: (reachable, time.monotonic()) for host in hosts})


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache, no NST_WEIGHTS, and the sources' hosts within reach."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.delenv("NST_WEIGHTS", raising=False)
    answered(monkeypatch, True)
    return tmp_path


def test_a_source_is_ready_once_its_file_is_in_the_hub_cache(hub):
    assert not is_cached("vgg16") and is_cached("untrained")
    path = hub_file("vgg16")
    assert path.parent == hub / "checkpoints" and path.name.endswith(".pth")
    path.parent.mkdir()
    path.write_bytes(b"")
    assert is_cached("vgg16") and not is_cached("vgg19")


def test_the_menu_marks_what_works_here_and_puts_it_first(hub, monkeypatch, real_weights):
    menu = controls.weights_menu()
    assert [value for _, value in menu] == ["vgg19", "vgg16", "vgg19-caffe", "vgg16-caffe", "untrained"]
    assert all("not downloaded" in label and "first use" in label for label, value in menu if value != "untrained")
    assert menu[-1][0].startswith(f"untrained ({controls.READY}")

    hub_file("vgg16-caffe").parent.mkdir()
    hub_file("vgg16-caffe").write_bytes(b"")
    assert controls.weights_menu()[0] == (f"vgg16-caffe ({controls.READY}: downloaded)", "vgg16-caffe")

    monkeypatch.setenv("NST_WEIGHTS", str(real_weights))
    label, value = controls.weights_menu()[0]
    assert value == "local: vgg16-caffe-features.pth" and controls.READY in label and "NST_WEIGHTS" in label
    assert controls.weights_choices()[0] == value == controls.defaults(controls.Limits())["weights"]
    assert controls.weights_from_choice(value) == str(real_weights)


def test_offline_the_menu_offers_only_what_runs_and_the_page_names_nst_weights(hub, monkeypatch, real_weights):
    """Issue 21 (2): offline, with nothing downloaded and no NST_WEIGHTS, every trained option failed at Run."""
    answered(monkeypatch, False)
    assert controls.weights_menu() == [(f"untrained ({controls.READY}: random weights, nothing to download)",
                                        "untrained")]
    every = controls.weights_menu(every_source=True)  # the components' build-time choices: the API's vocabulary
    assert [value for _, value in every] == ["vgg19", "vgg16", "vgg19-caffe", "vgg16-caffe", "untrained"]
    assert controls.default_weights_choice() == "untrained"
    menu, layers, status = controls.weights_now(1, True)
    assert menu["value"] == "untrained" and "NST_WEIGHTS" in menu["info"] and status == controls.UNTRAINED_ONLY
    assert controls.UNTRAINED_ONLY.count(". ") == 0 and "NST_WEIGHTS" in controls.UNTRAINED_ONLY

    hub_file("vgg16").parent.mkdir()
    hub_file("vgg16").write_bytes(b"")  # a downloaded source still runs offline, and nothing more is said
    assert controls.weights_choices() == ["vgg16", "untrained"]
    menu, status = controls.weights_now(0, True)
    assert "info" not in menu and status == gr.skip()
    monkeypatch.setenv("NST_WEIGHTS", str(real_weights))
    assert controls.weights_choices() == ["local: vgg16-caffe-features.pth", "vgg16", "untrained"]


def test_a_failed_download_marks_its_host_out_of_reach(hub, monkeypatch):
    closed = free_port()
    source = replace(SOURCES["vgg16"], url=f"http://127.0.0.1:{closed}/vgg16-00000000.pth")
    no_proxies(monkeypatch)
    with pytest.raises(NotDownloaded):
        _download_state(source)
    assert reach.reachable(source.url) is False


def no_proxies(monkeypatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_answer(url: str) -> bool:
    reach.reachable(url)
    deadline = time.monotonic() + 10
    while reach.host_of(url) in reach._asking and time.monotonic() < deadline:
        time.sleep(0.05)
    return reach.reachable(url)


def test_a_host_is_asked_in_the_background_through_the_proxy_urllib_would_use(monkeypatch):
    monkeypatch.setattr(reach, "_answers", {})
    no_proxies(monkeypatch)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        listening = f"http://127.0.0.1:{server.getsockname()[1]}/weights.pth"
        assert wait_answer(listening) is True
    assert wait_answer(f"http://localhost:{free_port()}/weights.pth") is False  # nothing listens there
    assert reach.reachable(f"http://127.0.0.2:{free_port()}/weights.pth", wait=True) is False  # its first answer

    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")  # a closed proxy: offline, as in the tests
    assert reach.first_hop("https://download.pytorch.org/models/vgg16.pth")[0] == "127.0.0.1"
    assert wait_answer("https://download.pytorch.org/models/vgg16.pth") is False


@pytest.mark.parametrize("source", ["vgg19", "vgg16-caffe", None])
def test_a_source_that_cannot_be_fetched_names_the_way_out(source):
    with pytest.raises(gr.Error) as caught, user_errors():
        raise NotDownloaded("The weights are not downloaded yet and could not be fetched.", source)
    message = caught.value.message
    assert "marked ready under Network weights" in message and "NST_WEIGHTS" in message
    assert message.startswith(f"The {source} weights" if source else "These weights")
    assert "choose another option" not in message and len(message) < 200 and message.count(".") == 1


def test_the_source_survives_pickling():
    error = pickle.loads(pickle.dumps(NotDownloaded("The vgg16 weights are not downloaded.", "vgg16")))
    assert error.source == "vgg16" and str(error) == "The vgg16 weights are not downloaded."


def test_the_architecture_of_a_weights_file_is_read_cheaply(real_weights, tmp_path):
    assert arch_of_weights(str(real_weights)) == "vgg16"
    assert arch_of_weights("vgg19-caffe") == "vgg19" and arch_of_weights("untrained") == "vgg19"
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    assert arch_of_weights(str(text)) is None and arch_of_weights(str(tmp_path / "absent.pth")) is None


# --- each network's layers (issue 21, defect 9: relu3_4, relu4_4 and relu5_4 were offered on VGG-16) -------------

VGG16_LAYERS = ("relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu4_1", "relu4_2",
                "relu4_3", "relu5_1", "relu5_2", "relu5_3")


def test_each_option_offers_its_networks_layers(monkeypatch, real_weights):
    monkeypatch.setenv("NST_WEIGHTS", str(real_weights))
    assert controls.network_layers("local: vgg16-caffe-features.pth") == VGG16_LAYERS
    assert controls.network_layers("vgg16") == VGG16_LAYERS
    assert "relu5_4" in controls.network_layers("vgg19-caffe") and "relu5_4" in controls.network_layers("untrained")


def test_a_new_network_replaces_or_unticks_the_layers_it_lacks_and_says_so():
    content, styles, note = controls.network_change("vgg16", "relu4_4", ["relu1_1", "relu3_4", "relu5_4"])
    assert content["choices"] == styles["choices"] == list(VGG16_LAYERS)
    assert content["value"] == "relu4_3" and styles["value"] == ["relu1_1"]
    assert note == ("VGG-16 has no layer relu3_4, relu4_4 or relu5_4, so relu3_4 and relu5_4 are unticked from the "
                    "style layers, and the content layer is relu4_3 instead of relu4_4.")
    content, styles, note = controls.network_change("vgg16", "relu4_1", ["relu5_4"])
    assert styles["value"] == ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]  # none left: the defaults
    content, styles, note = controls.network_change("vgg19", "relu4_4", ["relu5_4"])
    assert content["value"] == "relu4_4" and styles["value"] == ["relu5_4"] and note == gr.skip()


def test_a_layer_the_network_lacks_is_refused_before_the_job(real_weights, shared_images):
    from studio.limits import Limits
    from studio.stylize_job import checked_inputs

    values = controls.defaults(Limits())
    values.update(content=str(shared_images / "tubingen.jpg"), style=str(shared_images / "starry_night.jpg"),
                  weights="vgg16", style_layers=["relu1_1", "relu5_4"])
    with pytest.raises(NSTError) as caught:
        checked_inputs(values, Limits())
    assert str(caught.value) == ("VGG-16 has no layer relu5_4; choose among " + ", ".join(VGG16_LAYERS) + ".")
