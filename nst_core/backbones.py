"""VGG feature extractors with named layers, their weight sources and their input conventions.

The architectures are torchvision's (`torchvision.models.vgg`), and so are the ImageNet weights, fetched
through their `Weights` enums (canonical URL, checksum, torch's hub cache). The Caffe conversions and local
files load into the same architecture. Outside this module every image is RGB in [0, 1]; each backbone
carries the preprocessing its weights expect (torchvision: RGB normalised by ImageNet mean and std; Caffe:
BGR, 0-255, mean subtracted). Layers are named as in the papers (relu4_2), never indexed.
"""

from __future__ import annotations

import functools
import logging
import os
import urllib.error
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models import VGG16_Weights, VGG19_Weights
from torchvision.models.vgg import make_layers

from . import reach
from .checksum import sha256_of
from .errors import NotDownloaded, SettingsError, WeightsUnavailable
from .names import CONVS_PER_BLOCK, WEIGHT_SOURCES, layer_names

log = logging.getLogger(__name__)

IMAGENET_WEIGHTS = {"vgg16": VGG16_Weights.IMAGENET1K_V1, "vgg19": VGG19_Weights.IMAGENET1K_V1}


@dataclass(frozen=True)
class InputConvention:
    """How a set of weights wants its input: channel order, value range, mean and std (per RGB channel)."""

    name: str
    bgr: bool
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


_IMAGENET = IMAGENET_WEIGHTS["vgg19"].transforms()  # torchvision's own record of the training statistics
TORCHVISION = InputConvention("torchvision", bgr=False, scale=1.0, mean=tuple(_IMAGENET.mean), std=tuple(_IMAGENET.std))
# Caffe's means are quoted in BGR order (103.939, 116.779, 123.68); stored here in RGB order.
CAFFE = InputConvention("caffe", bgr=True, scale=255.0, mean=(123.68, 116.779, 103.939), std=(1.0, 1.0, 1.0))
CONVENTIONS = {c.name: c for c in (TORCHVISION, CAFFE)}


@dataclass(frozen=True)
class WeightSource:
    name: str
    arch: str
    convention: InputConvention
    url: str | None  # None: nothing to download (untrained)


# Caffe conversions (Justin Johnson's); the file names end in the first hex digits of their sha256, which
# torch.hub verifies on download, as it does for torchvision's own Weights.
CAFFE_URLS = {"vgg19": "https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth",
              "vgg16": "https://web.eecs.umich.edu/~justincj/models/vgg16-00b39a1b.pth"}


def _source(name: str, arch: str, convention: str) -> WeightSource:
    if name == "untrained":
        url = None
    else:
        url = IMAGENET_WEIGHTS[arch].url if convention == "torchvision" else CAFFE_URLS[arch]
    return WeightSource(name, arch, CONVENTIONS[convention], url)


SOURCES = {name: _source(name, arch, convention) for name, (arch, convention) in WEIGHT_SOURCES.items()}

# Local files recognised by content, so their convention needs no declaring.
KNOWN_FILES = {
    # ../shared/weights/vgg16-caffe-features.pth: VGG-16 features in the Caffe convention.
    "a753c0bbed8d88e916d12ac57948374f760688eca6cacee2cbcd5100a1b73804": CAFFE,
}


def vgg_layout(arch: str, width: float = 1.0) -> list[int | str]:
    """torchvision's configuration list for `make_layers` (64, 64, "M", ...), every width scaled by `width`."""
    layout: list[int | str] = []
    for block, convs in enumerate(CONVS_PER_BLOCK[arch]):
        layout += [max(1, round(min(64 * 2**block, 512) * width))] * convs + ["M"]
    return layout


class VGGFeatures(nn.Module):
    """torchvision's VGG feature stack, returning the activations of the named layers a caller asks for.

    `forward` stops after the deepest requested layer, so unused deep layers cost nothing. `width` < 1
    shrinks every layer (tiny seeded networks for fast tests). Average pooling replaces max pooling when
    asked (smoother gradients, Gatys et al.). The first convolution's border can be padded by reflecting or
    replicating the image instead of with zeros (`forward(..., border=)`): a zero border is a dark frame to
    the network, whose edge features the optimiser then paints as a band along the image's edges.
    """

    def __init__(self, arch: str = "vgg19", *, convention: InputConvention = TORCHVISION,
                 pooling: str = "max", width: float = 1.0) -> None:
        super().__init__()
        if arch not in CONVS_PER_BLOCK:
            raise SettingsError(f"Unknown VGG architecture {arch!r}; use vgg16 or vgg19.")
        self.arch = arch
        self.convention = convention
        self.pooling = pooling
        self.names = layer_names(arch)
        self.features = make_layers(vgg_layout(arch, width))  # the same indices as torchvision's vgg16/vgg19
        if pooling == "avg":
            for index, layer in enumerate(self.features):
                if isinstance(layer, nn.MaxPool2d):
                    self.features[index] = nn.AvgPool2d(2, 2)
        rgb_order = torch.tensor([2, 1, 0] if convention.bgr else [0, 1, 2])
        mean = torch.tensor(convention.mean)[rgb_order]
        std = torch.tensor(convention.std)[rgb_order]
        self.register_buffer("channel_order", rgb_order, persistent=False)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @property
    def relu_names(self) -> list[str]:
        return [n for n in self.names if n.startswith("relu")]

    def channels(self, layer: str) -> int:
        """How many feature maps `layer` has."""
        self.check_layers([layer])
        index = self.names.index(layer)
        return next(m.out_channels for m in reversed(self.features[:index]) if isinstance(m, nn.Conv2d))

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """RGB [0, 1] (N, 3, H, W) -> what these weights were trained on."""
        x = image[:, self.channel_order] * self.convention.scale
        return (x - self.mean) / self.std

    def check_layers(self, names: list[str] | tuple[str, ...]) -> None:
        for name in names:
            if name not in self.names:
                allowed = ", ".join(self.relu_names)
                raise SettingsError(f"{self.arch.upper()} has no layer {name!r}; allowed: {allowed}.")

    def forward(self, image: torch.Tensor, wanted: set[str] | frozenset[str], *,
                border: str = "zeros") -> dict[str, torch.Tensor]:
        """Activations of the `wanted` layers for an RGB [0, 1] image batch; `border` pads the first
        convolution's input: zeros (as trained), reflect or replicate."""
        self.check_layers(list(wanted))
        x = self.preprocess(image)
        found: dict[str, torch.Tensor] = {}
        for name, layer in zip(self.names, self.features):
            if name == "conv1_1" and border != "zeros":
                x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode=border), layer.weight, layer.bias)
            else:
                x = layer(x)
            if name in wanted:
                found[name] = x
                if len(found) == len(wanted):
                    break
        return found

    def load_features(self, state: dict[str, torch.Tensor]) -> None:
        """Load a torchvision-layout state dict (`features.N.weight`; a classifier is ignored)."""
        mine = {k: v for k, v in state.items() if k.startswith("features.")}
        missing = sorted(set(self.state_dict()) - set(mine))
        if missing:
            raise WeightsUnavailable(
                f"The weights file has no {missing[0]}; it is not a {self.arch.upper()} checkpoint.")
        try:
            self.load_state_dict(mine, strict=True)
        except RuntimeError as error:
            raise WeightsUnavailable(f"The weights file does not fit {self.arch.upper()}: shapes differ.") from error


def arch_of_state(state: dict[str, torch.Tensor]) -> str:
    """vgg16 or vgg19, from the number of convolutions in a torchvision-layout state dict."""
    convs = {k for k in state if k.startswith("features.") and k.endswith(".weight")}
    arch = {13: "vgg16", 16: "vgg19"}.get(len(convs))
    if arch is None:
        raise WeightsUnavailable(
            f"The weights file has {len(convs)} convolution layers; expected a VGG-16 (13) or VGG-19 (16).")
    return arch


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
    try:
        return torch.hub.load_state_dict_from_url(source.url, map_location="cpu", check_hash=True,
                                                  weights_only=True, progress=False)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        log.info("could not fetch %s weights from %s: %s", source.name, source.url, error)
        reach.unreachable(source.url)
        raise NotDownloaded(f"The {source.name} weights are not downloaded yet and could not be fetched "
                            "(no connection to the internet).", source.name) from None
    except RuntimeError as error:  # torch.hub's checksum mismatch
        raise WeightsUnavailable(f"The downloaded {source.name} weights failed their checksum; try again.") \
            from error


def hub_file(name: str) -> Path | None:
    """Where torch's hub cache keeps a weight source's file once downloaded (None: untrained needs none)."""
    url = SOURCES[name].url
    if url is None:
        return None
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urllib.parse.urlparse(url).path).name


def is_cached(name: str) -> bool:
    """Whether a weight source can be used without the internet: untrained, or its file is in torch's hub cache.
    A look at the disk only, never a network call (its checksum is verified when it loads)."""
    path = hub_file(name)
    return path is None or path.is_file()


def arch_of_weights(weights: str) -> str | None:
    """vgg16 or vgg19 for a source name or a local weights file; None for a file that is not a VGG checkpoint.
    Cheap enough for a page: a file's tensors are mapped, not read, and the answer is kept while it is unchanged."""
    if weights in SOURCES:
        return SOURCES[weights].arch
    path = Path(os.path.expanduser(weights))
    try:
        stat = path.stat()
    except OSError:
        return None
    return _arch_of_file(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _arch_of_file(path: str, mtime_ns: int, size: int) -> str | None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return arch_of_state(state) if isinstance(state, dict) else None
    except Exception:  # noqa: BLE001  (not a checkpoint, in any of torch's ways: loading it will say so)
        return None


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
    for layer in model.features:
        if isinstance(layer, nn.Conv2d):
            fan_in = layer.in_channels * 9
            with torch.no_grad():
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                layer.bias.zero_()
