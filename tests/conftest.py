"""Shared fixtures: a tiny seeded backbone for fast tests, and the real weights and images from ../shared.

The lanes (tests/README.md): everything `bash scripts/test.sh`; the fast lane `python -m pytest -q -rs -m "not server
and not browser"`; `-m server`, `-m browser`, `-m bf16` (bf16 against fp32), `-m weights`, `-m gpu`; and any of them
as on a CPU with native bf16 with NST_PRETEND_NATIVE_BF16=1.

Optional things (the real weights and images in ../shared, Debian's chromium, ...) skip with the reason on a
developer's machine; under CI (`CI=true`), where they must be there, a missing one fails the tests that need it
with a sentence saying what is missing (`missing`). GPU tests skip everywhere without CUDA (CI has none).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import NoReturn

import pytest
import torch
from PIL import Image

from nst_core.backbones import VGGFeatures, init_untrained

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WEIGHTS = SHARED / "weights" / "vgg16-caffe-features.pth"
IMAGES = SHARED / "images"


def under_ci() -> bool:
    """Whether this is a CI run (CI=true, as CI services set it): there nothing optional may be missing."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(reason: str) -> NoReturn:
    """Something a test needs is not here: skip with `reason` on a developer's machine, fail with it under CI."""
    if under_ci():
        pytest.fail(f"{reason}; under CI (CI=true) that fails instead of skipping.", pytrace=False)
    pytest.skip(reason)


def tiny_backbone(arch: str = "vgg19", *, seed: int = 0, width: float = 1 / 16, pooling: str = "avg") -> VGGFeatures:
    """A seeded VGG with 1/16 of the channels: real architecture and layer names, milliseconds per step."""
    model = VGGFeatures(arch, pooling=pooling, width=width)
    init_untrained(model, seed=seed)
    return model


@pytest.fixture
def tiny() -> VGGFeatures:
    return tiny_backbone()


def gradient_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth colourful image with some texture, deterministic."""
    g = torch.Generator().manual_seed(seed)
    ys = torch.linspace(0, 1, height).view(-1, 1).expand(height, width)
    xs = torch.linspace(0, 1, width).view(1, -1).expand(height, width)
    noise = torch.rand(3, height, width, generator=g) * 0.3
    rgb = torch.stack([xs, ys, (xs + ys) / 2]) * 0.7 + noise
    array = (rgb.clamp(0, 1) * 255).byte().permute(1, 2, 0).numpy()
    return Image.fromarray(array, "RGB")


@pytest.fixture
def content_img() -> Image.Image:
    return gradient_image(80, 60, seed=1)


@pytest.fixture
def style_img() -> Image.Image:
    return gradient_image(64, 64, seed=2).rotate(90)


@pytest.fixture(scope="session")
def real_weights() -> Path:
    if not WEIGHTS.is_file():
        missing(f"The real VGG-16 weights are not at {WEIGHTS} (they live in ../shared/weights)")
    return WEIGHTS


@pytest.fixture(scope="session")
def shared_images() -> Path:
    if not (IMAGES / "tubingen.jpg").is_file():
        missing(f"The example images are not in {IMAGES} (they live in ../shared/images)")
    return IMAGES


# --- the studio as a server (tests of the app; apphelpers.app_server is the shared subprocess) -------------------

@pytest.fixture(scope="session")
def files(tmp_path_factory, shared_images) -> dict[str, Path]:
    """Small copies of the shared photos (cheap to upload and decode), and a text file posing as a PNG."""
    base = tmp_path_factory.mktemp("reliability-files")
    paths = {"content": base / "content.png", "style": base / "style.png", "style_2": base / "style_2.png",
             "bad": base / "holiday.png"}
    for key, name in (("content", "tubingen.jpg"), ("style", "starry_night.jpg"), ("style_2", "the_scream.jpg")):
        with Image.open(shared_images / name) as img:
            img.convert("RGB").resize((80, 60)).save(paths[key])
    paths["bad"].write_text("this is text, not a picture\n")
    return paths


@pytest.fixture(scope="session")
def limited_server(tmp_path_factory, real_weights):
    """A second server with a 3 s job limit, its own TMPDIR and cache folder (so its files can be counted), and
    room for the state of only 40 sessions (each raw API call is a session), so the soak runs past that bound."""
    from .apphelpers import start_server, stop_server

    server = start_server(tmp_path_factory.mktemp("limited-server"), real_weights,
                          {"NST_JOB_SECONDS": "3", "NST_STATE_SESSIONS": "40"}, private_tmpdir=True)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def offline_server(tmp_path_factory, real_weights):
    """A server as a newcomer starts it offline: no NST_WEIGHTS, an empty hub cache, no internet."""
    from .apphelpers import start_server, stop_server

    server = start_server(tmp_path_factory.mktemp("offline-server"), real_weights, {"NST_WEIGHTS": ""})
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def weights_secret(real_weights) -> str:
    return str(real_weights.resolve())


@pytest.fixture(scope="session")
def inprocess_app(tmp_path_factory, real_weights, shared_images):
    """`import app` and launch its demo in this process, so the engine can be monkeypatched."""
    from .apphelpers import free_port

    base = tmp_path_factory.mktemp("inprocess")
    env = {"GRADIO_TEMP_DIR": str(base / "gradio-temp"), "GRADIO_ANALYTICS_ENABLED": "False",
           "NST_WEIGHTS": str(real_weights.resolve()), "NST_COMPUTE_SLOTS": "1", "NST_JOB_SECONDS": "60",
           "NO_PROXY": "127.0.0.1,localhost"}
    saved_env = {key: os.environ.get(key) for key in env}
    threads = torch.get_num_threads()
    os.environ.update(env)
    app = None
    try:
        app = importlib.import_module("app")
        port = free_port()
        app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                           show_error=False, max_file_size="30mb")
        yield app, f"http://127.0.0.1:{port}"
    finally:
        if app is not None:
            app.demo.close()
        torch.set_num_threads(threads)  # in case NST_TORCH_THREADS made importing app change it
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- lanes: the fast lane (-m "not server and not browser") must not start a server or a browser -------------------

SERVER_FIXTURES = frozenset({"app_server", "limited_server", "inprocess_app"})


def pytest_collection_modifyitems(config, items):
    """A test that starts the app (as a subprocess or in this process) carries the server or browser marker, one
    that drives chromium the browser marker, so that the fast lane deselects them all; one that does not is an
    error at collection, not a slow surprise in the fast lane."""
    unmarked = []
    for item in items:
        marks = {mark.name for mark in item.iter_markers()}
        needs = set(getattr(item, "fixturenames", ()))
        starts_app = needs & SERVER_FIXTURES and not marks & {"server", "browser"}
        if starts_app or ("page" in needs and "browser" not in marks):
            unmarked.append(item.nodeid)
    if unmarked:
        raise pytest.UsageError("these tests start the app or a browser but carry neither the server nor the browser "
                                f"marker (pyproject.toml): {', '.join(unmarked)}")
