"""Shared fixtures: a tiny seeded backbone for fast tests, and the real weights and images from ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from nst_core.backbones import VGGFeatures, init_untrained

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WEIGHTS = SHARED / "weights" / "vgg16-caffe-features.pth"
IMAGES = SHARED / "images"


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
        pytest.skip(f"real VGG-16 weights not found at {WEIGHTS} (they live in ../shared/weights)")
    return WEIGHTS


@pytest.fixture(scope="session")
def shared_images() -> Path:
    if not (IMAGES / "tubingen.jpg").is_file():
        pytest.skip(f"example images not found in {IMAGES} (they live in ../shared/images)")
    return IMAGES
