"""VGG feature extractors with named layers, their weight sources and their input conventions.

Outside this module every image is RGB in [0, 1]; each backbone carries the preprocessing its weights
expect (torchvision: RGB normalised by ImageNet mean/std; Caffe: BGR, 0-255, mean subtracted).
Plain torch only: torchvision is deliberately not imported (its registry wheel breaks the CPU torch).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .errors import SettingsError, WeightsUnavailable

log = logging.getLogger(__name__)

# Convolution widths per block; a max-pool closes each block.
VGG_BLOCKS = {
    "vgg16": ((64, 64), (128, 128), (256,) * 3, (512,) * 3, (512,) * 3),
    "vgg19": ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}


@dataclass(frozen=True)
class InputConvention:
    """How a set of weights wants its input: channel order, value range, mean and std (per RGB channel)."""

    name: str
    bgr: bool
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


TORCHVISION = InputConvention("torchvision", bgr=False, scale=1.0,
                              mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
# Caffe's means are quoted in BGR order (103.939, 116.779, 123.68); stored here in RGB order.
CAFFE = InputConvention("caffe", bgr=True, scale=255.0, mean=(123.68, 116.779, 103.939), std=(1.0, 1.0, 1.0))
CONVENTIONS = {c.name: c for c in (TORCHVISION, CAFFE)}


@dataclass(frozen=True)
class WeightSource:
    name: str
    arch: str
    convention: InputConvention
    url: str | None  # None: nothing to download (untrained)


# The file names end in the first hex digits of their sha256; torch.hub verifies them on download.
SOURCES = {
    s.name: s
    for s in (
        WeightSource("vgg19", "vgg19", TORCHVISION, "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"),
        WeightSource("vgg16", "vgg16", TORCHVISION, "https://download.pytorch.org/models/vgg16-397923af.pth"),
        WeightSource("vgg19-caffe", "vgg19", CAFFE,
                     "https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth"),
        WeightSource("vgg16-caffe", "vgg16", CAFFE,
                     "https://web.eecs.umich.edu/~justincj/models/vgg16-00b39a1b.pth"),
        WeightSource("untrained", "vgg19", TORCHVISION, None),
    )
}

# Local files recognised by content, so their convention needs no declaring.
KNOWN_FILES = {
    # ../shared/weights/vgg16-caffe-features.pth: VGG-16 features in the Caffe convention.
    "a753c0bbed8d88e916d12ac57948374f760688eca6cacee2cbcd5100a1b73804": CAFFE,
}


def layer_names(arch: str) -> list[str]:
    """Names of every module of the VGG feature stack in order: conv1_1, relu1_1, ..., pool5."""
    names = []
    for block, widths in enumerate(VGG_BLOCKS[arch], start=1):
        for i in range(1, len(widths) + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


class VGGFeatures(nn.Module):
    """A VGG feature stack that returns the activations of the named layers a caller asks for.

    `forward` stops after the deepest requested layer, so unused deep layers cost nothing.
    `width` < 1 shrinks every layer (tiny seeded networks for fast tests).
    """

    def __init__(self, arch: str = "vgg19", *, convention: InputConvention = TORCHVISION,
                 pooling: str = "max", width: float = 1.0) -> None:
        super().__init__()
        if arch not in VGG_BLOCKS:
            raise SettingsError(f"Unknown VGG architecture {arch!r}; use vgg16 or vgg19.")
        self.arch = arch
        self.convention = convention
        self.pooling = pooling
        self.names = layer_names(arch)
        layers: list[nn.Module] = []
        channels = 3
        for widths in VGG_BLOCKS[arch]:
            for w in widths:
                out = max(1, round(w * width))
                layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(inplace=False)]
                channels = out
            layers.append(nn.AvgPool2d(2, 2) if pooling == "avg" else nn.MaxPool2d(2, 2))
        self.layers = nn.ModuleList(layers)
        rgb_order = torch.tensor([2, 1, 0] if convention.bgr else [0, 1, 2])
        mean = torch.tensor(convention.mean)[rgb_order]
        std = torch.tensor(convention.std)[rgb_order]
        self.register_buffer("channel_order", rgb_order, persistent=False)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """RGB [0, 1] (N, 3, H, W) -> what these weights were trained on."""
        x = image[:, self.channel_order] * self.convention.scale
        return (x - self.mean) / self.std

    def check_layers(self, names: list[str] | tuple[str, ...]) -> None:
        for name in names:
            if name not in self.names:
                allowed = ", ".join(n for n in self.names if n.startswith("relu"))
                raise SettingsError(f"{self.arch.upper()} has no layer {name!r}; allowed: {allowed}.")

    def forward(self, image: torch.Tensor, wanted: set[str] | frozenset[str]) -> dict[str, torch.Tensor]:
        """Activations of the `wanted` layers for an RGB [0, 1] image batch."""
        self.check_layers(list(wanted))
        x = self.preprocess(image)
        found: dict[str, torch.Tensor] = {}
        for name, layer in zip(self.names, self.layers):
            x = layer(x)
            if name in wanted:
                found[name] = x
                if len(found) == len(wanted):
                    break
        return found

    def load_features(self, state: dict[str, torch.Tensor]) -> None:
        """Load a torchvision-layout state dict (`features.N.weight`; a classifier is ignored)."""
        mine = {}
        for index, layer in enumerate(self.layers):
            if isinstance(layer, nn.Conv2d):
                for part in ("weight", "bias"):
                    key = f"features.{index}.{part}"
                    if key not in state:
                        raise WeightsUnavailable(
                            f"The weights file has no {key}; it is not a {self.arch.upper()} checkpoint.")
                    mine[f"layers.{index}.{part}"] = state[key]
        try:
            self.load_state_dict(mine, strict=False)
        except RuntimeError as error:
            raise WeightsUnavailable(f"The weights file does not fit {self.arch.upper()}: shapes differ.") \
                from error


def arch_of_state(state: dict[str, torch.Tensor]) -> str:
    """vgg16 or vgg19, from the number of convolutions in a torchvision-layout state dict."""
    convs = {k for k in state if k.startswith("features.") and k.endswith(".weight")}
    arch = {13: "vgg16", 16: "vgg19"}.get(len(convs))
    if arch is None:
        raise WeightsUnavailable(
            f"The weights file has {len(convs)} convolution layers; expected a VGG-16 (13) or VGG-19 (16).")
    return arch


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a bad file; all mean the same to a user
        raise WeightsUnavailable(f"Could not read weights from {path.name}: it is not a PyTorch checkpoint.") \
            from error
    if not isinstance(state, dict):
        raise WeightsUnavailable(f"{path.name} does not hold a state dict of VGG weights.")
    return state


def _convention_of_file(path: Path, declared: str) -> InputConvention:
    if declared != "auto":
        return CONVENTIONS[declared]
    known = KNOWN_FILES.get(sha256_of(path))
    if known is not None:
        return known
    if "caffe" in path.name.lower():
        return CAFFE
    raise SettingsError(
        f"Cannot tell which input convention {path.name} expects; declare it with "
        "--weights-convention torchvision (RGB, ImageNet mean/std) or caffe (BGR, 0-255, mean subtracted).")


def _download_state(source: WeightSource) -> dict[str, torch.Tensor]:
    """The source's state dict from torch's hub cache, downloading and checksum-verifying it once."""
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    try:
        return torch.hub.load_state_dict_from_url(source.url, model_dir=str(cache), map_location="cpu",
                                                  check_hash=True, weights_only=True, progress=False)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise WeightsUnavailable(
            f"The {source.name} weights are not in {cache} and could not be downloaded ({_reason(error)}); "
            "connect to the internet once, or point --weights (or NST_WEIGHTS) at a local VGG file.") from error
    except RuntimeError as error:  # torch.hub's checksum mismatch
        raise WeightsUnavailable(f"The downloaded {source.name} weights failed their checksum; try again.") \
            from error


def _reason(error: BaseException) -> str:
    return str(getattr(error, "reason", None) or error).strip() or type(error).__name__


@functools.lru_cache(maxsize=4)
def load_backbone(weights: str, *, convention: str = "auto", pooling: str = "avg") -> VGGFeatures:
    """A frozen CPU backbone for a weights source name or a local file; loaded once and cached."""
    if weights == "untrained":
        model = VGGFeatures("vgg19", convention=TORCHVISION, pooling=pooling)
        init_untrained(model, seed=0)
        return model
    if weights in SOURCES:
        source = SOURCES[weights]
        log.info("loading %s weights", weights)
        state = _download_state(source)
        model = VGGFeatures(source.arch, convention=source.convention, pooling=pooling)
        model.load_features(state)
        return model
    path = Path(os.path.expanduser(weights))
    if not path.is_file():
        raise WeightsUnavailable(
            f"No weights file at {weights!r}; use one of {', '.join(SOURCES)} or the path of a VGG checkpoint.")
    state = _read_state(path)
    model = VGGFeatures(arch_of_state(state), convention=_convention_of_file(path, convention), pooling=pooling)
    model.load_features(state)
    return model


def init_untrained(model: VGGFeatures, *, seed: int) -> None:
    """Seeded He initialisation: features of a network that has learned nothing."""
    generator = torch.Generator().manual_seed(seed)
    for layer in model.layers:
        if isinstance(layer, nn.Conv2d):
            fan_in = layer.in_channels * 9
            with torch.no_grad():
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                layer.bias.zero_()
