"""The image-transformation network of Johnson, Alahi & Fei-Fei (2016), and its file format.

One network per style: a photo goes in, the stylized photo comes out in one pass. Three strided
convolutions down, residual blocks in the middle, and two upsamplings by resize-then-convolve (Odena et
al. 2016, "Deconvolution and checkerboard artifacts") instead of transposed convolutions, whose uneven
overlap paints a checkerboard. Reflection padding keeps the borders free of a dark frame; instance
normalisation (Ulyanov et al. 2016) makes the result independent of the photo's contrast.

Two widths: `full` is Johnson's (32/64/128 channels, five residual blocks, 9x9 convolutions at the ends);
`slim` has 12/24/48 channels, three blocks and 5x5 ends, about a tenth of the arithmetic (8 GFLOP at
512x512): what runs in real time on a CPU. Measured on two shared CPU cores, a 16-channel slim with 9x9 ends
took twice as long per frame, and channels-last memory or a hand-written instance norm gained nothing.

A model file is a plain `torch.save` of tensors, numbers and strings, read with `weights_only=True` (no
pickled code runs on load): the weights in fp16 (half the size; the network runs in fp32), the metadata
(style, teacher, training settings, time, photos) and the painting it learnt as a 512 px PNG, so that a result
can be refined by the engine without the painting at hand. This module knows nothing about training or the studio.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..errors import ImageError, NSTError
from ..images import decode_image

FORMAT = "nst-fast-1"
# (channels after the first conv, after the first and second downsampling, residual blocks, kernel at the ends)
WIDTHS = {"full": (32, 64, 128, 5, 9), "slim": (12, 24, 48, 3, 5)}
MULTIPLE = 4  # two stride-2 convolutions: sides are padded to a multiple of this and cropped back
MIN_SIDE = 8  # the innermost reflection padding needs two pixels after the two halvings
PAINTING_SIDE = 512  # the painting inside a model: enough to refine a 512 px result with
MAX_MODEL_BYTES = 64 * 1024 * 1024  # a full model is ~3.5 MB; anything far larger is not ours


class ModelError(NSTError):
    """A file that is not a fast-network model this version can read."""


def conv(channels_in: int, channels_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(channels_in, channels_out, kernel, stride))


def conv_norm_relu(channels_in: int, channels_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(conv(channels_in, channels_out, kernel, stride), nn.InstanceNorm2d(channels_out, affine=True),
                         nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_norm_relu(channels, channels, 3), conv(channels, channels, 3),
                                  nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample(nn.Module):
    """Nearest-neighbour doubling, then a convolution: every output pixel sees the same number of inputs."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.body = conv_norm_relu(channels_in, channels_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TransformerNet(nn.Module):
    """(N, 3, H, W) RGB in [0, 1] -> the same size, stylized, in [0, 1]. Sides of at least MIN_SIDE px."""

    def __init__(self, width: str = "slim") -> None:
        super().__init__()
        if width not in WIDTHS:
            raise ValueError(f"width must be one of {', '.join(WIDTHS)}, not {width!r}")
        self.width = width
        c1, c2, c3, blocks, ends = WIDTHS[width]
        self.net = nn.Sequential(
            conv_norm_relu(3, c1, ends), conv_norm_relu(c1, c2, 3, 2), conv_norm_relu(c2, c3, 3, 2),
            *[Residual(c3) for _ in range(blocks)],
            Upsample(c3, c2), Upsample(c2, c1), conv(c1, 3, ends))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        if min(height, width) < MIN_SIDE:
            raise ValueError(f"the network needs images of at least {MIN_SIDE} px a side, not {width}x{height}")
        pad_h, pad_w = -height % MULTIPLE, -width % MULTIPLE
        if pad_h or pad_w:  # reflect up to a multiple of 4, so the output can be cropped to the input's size
            image = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect")
        out = torch.sigmoid(self.net(image))  # a smooth squash into [0, 1]: clamping would stop gradients
        return out[..., :height, :width]


@dataclass
class FastModel:
    """A trained network with what it is: `meta` is JSON-ready (style, teacher, settings, time, photos)."""

    net: TransformerNet
    meta: dict[str, Any] = field(default_factory=dict)
    painting: Image.Image | None = None
    source: str = ""  # the file's name (never its path), once saved or loaded
    digest: str = ""  # sha256 of the file, once saved or loaded: names the exact model in a recipe

    @property
    def style(self) -> str:
        return str(self.meta.get("style", "unknown"))

    @property
    def label(self) -> str:
        """A short name for recipes and menus: the style and the width."""
        return f"{self.style} ({self.net.width}, {self.meta.get('teacher', '?')})"


def style_digest(painting: Image.Image) -> str:
    """A fingerprint of a painting's pixels, so a front end can find the model trained on the painting it has."""
    rgb = painting.convert("RGB")
    return hashlib.sha256(f"{rgb.size}".encode() + rgb.tobytes()).hexdigest()


def painting_png(painting: Image.Image, longest: int = PAINTING_SIDE) -> torch.Tensor:
    """The painting kept inside a model file: PNG bytes as a uint8 tensor (weights_only reads tensors)."""
    small = painting.convert("RGB")
    small.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


def model_bytes(model: FastModel) -> bytes:
    """A model file's contents: fp16 weights, metadata as JSON text, the painting as PNG bytes."""
    weights = {k: v.detach().to("cpu", torch.float16) if v.is_floating_point() else v.detach().cpu()
               for k, v in model.net.state_dict().items()}
    payload = {"format": FORMAT, "width": model.net.width, "weights": weights,
               "meta": json.dumps(model.meta, sort_keys=True)}
    if model.painting is not None:
        payload["painting_png"] = painting_png(model.painting)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save_model(model: FastModel, target: str | Path) -> None:
    """Write a small model file under a temporary name first, so a reader never sees half a model; `model`
    learns its file's name and digest."""
    data = model_bytes(model)
    path = Path(target)
    staging = path.with_name(path.name + ".part")
    staging.write_bytes(data)
    staging.replace(path)
    model.source, model.digest = path.name, hashlib.sha256(data).hexdigest()


def load_model(source: str | Path | bytes) -> FastModel:
    """Read a model file (a path or its bytes) safely, with `weights_only=True`; anything that is not a model
    is a ModelError with one sentence."""
    name = ""
    if not isinstance(source, bytes):
        path = Path(source)
        name = path.name
        try:
            if path.stat().st_size > MAX_MODEL_BYTES:
                raise ModelError("That file is far too large to be a fast-network model.")
            source = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ModelError(f"There is no model file called {name!r}.") from None
    if len(source) > MAX_MODEL_BYTES:
        raise ModelError("That file is far too large to be a fast-network model.")
    try:
        payload = torch.load(io.BytesIO(source), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - torch raises many kinds (pickle, zip, runtime) for a file that is not ours
        raise ModelError("That file is not a fast-network model (a .pt file made by `python -m nst_core.fast "
                         "train` or the studio's Fast tab).") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("width") not in WIDTHS:
        raise ModelError("That file is not a fast-network model this version can read.")
    net = TransformerNet(payload["width"])
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["weights"].items()})
        meta = json.loads(payload.get("meta") or "{}")
    except (RuntimeError, AttributeError, TypeError, ValueError):
        raise ModelError("That model file is damaged: its weights do not fit the network.") from None
    picture = None
    painting = payload.get("painting_png")
    if isinstance(painting, torch.Tensor) and painting.dtype == torch.uint8 and painting.ndim == 1:
        with contextlib.suppress(ImageError):  # a model without its painting still stylizes
            picture = decode_image(painting.numpy().tobytes())
    net.eval()
    return FastModel(net, meta if isinstance(meta, dict) else {}, picture, name, hashlib.sha256(source).hexdigest())
