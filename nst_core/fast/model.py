"""The image-transformation network of Johnson, Alahi & Fei-Fei (2016), and its file format.

One network per style: a photo goes in, the stylized photo comes out in one pass. Three strided
convolutions down, residual blocks in the middle, and two upsamplings by resize-then-convolve (Odena et
al. 2016, "Deconvolution and checkerboard artifacts") instead of transposed convolutions, whose uneven
overlap paints a checkerboard. Reflection padding keeps the borders free of a dark frame; instance
normalisation (Ulyanov et al. 2016) makes the result independent of the photo's contrast.

One network can hold several styles: conditional instance normalisation (Dumoulin, Shlens & Kudlur 2017)
shares every convolution and gives each style its own scale and shift for every normalisation. A style is
picked by its index, or blended by a convex combination of the styles' scales and shifts. A model of one
style is simply the case N = 1, and its scale and shift are exactly those of `nn.InstanceNorm2d(affine=True)`.

Two widths: `full` is Johnson's (32/64/128 channels, five residual blocks, 9x9 convolutions at the ends);
`slim` has 12/24/48 channels, three blocks and 5x5 ends, about a tenth of the arithmetic (8 GFLOP at
512x512): what runs in real time on a CPU. Measured on two shared CPU cores, a 16-channel slim with 9x9 ends
took twice as long per frame, and channels-last memory or a hand-written instance norm gained nothing.

A model file is a plain `torch.save` of tensors, numbers and strings, read with `weights_only=True` (no
pickled code runs on load): the weights in fp16 (half the size; the network runs in fp32), the metadata
(style, teacher, training settings, time, photos) and the painting it learnt as a 512 px PNG, so that a result
can be refined by the engine without the painting at hand. A one-style model is written as FORMAT_ONE (which
older versions read too); a model of several styles as FORMAT, which adds per style its name, its painting's
digest, how it was made, and its painting. This module knows nothing about training or the studio.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..errors import ImageError, NSTError
from ..images import decode_image

FORMAT_ONE = "nst-fast-1"  # one style: the weights under nn.InstanceNorm2d's names, `meta` names the style
FORMAT = "nst-fast-2"  # several styles: a `styles` list and a `paintings` list beside the shared `meta`
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


class ConditionalInstanceNorm(nn.Module):
    """Instance normalisation with a scale and shift per style (Dumoulin et al. 2017).

    Each style's scale and shift are separate parameters, so a training step on one style leaves the others'
    gradients empty (None): Adam then does not move them with its momentum."""

    def __init__(self, channels: int, styles: int) -> None:
        super().__init__()
        self.scales = nn.ParameterList(nn.Parameter(torch.ones(channels)) for _ in range(styles))
        self.shifts = nn.ParameterList(nn.Parameter(torch.zeros(channels)) for _ in range(styles))

    def affine(self, style: int | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The scale and shift of style `style`, or of a blend (a weight per style, summing to 1)."""
        if isinstance(style, int):
            return self.scales[style], self.shifts[style]
        return style @ torch.stack(list(self.scales)), style @ torch.stack(list(self.shifts))

    def forward(self, x: torch.Tensor, style: int | torch.Tensor = 0) -> torch.Tensor:
        scale, shift = self.affine(style)
        return F.instance_norm(x, weight=scale, bias=shift, eps=1e-5)  # nn.InstanceNorm2d's own call


class Styled(nn.Sequential):
    """A sequence of layers that hands the style on to the ones that take it. (The layers' style defaults to
    the first, so a one-style network's parts also run as plain modules; TransformerNet asks for a choice.)"""

    def forward(self, x: torch.Tensor, style: int | torch.Tensor = 0) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            takes_style = isinstance(layer, (Styled, ConditionalInstanceNorm, Residual, Upsample))
            x = layer(x, style) if takes_style else layer(x)
        return x


def conv_norm_relu(channels_in: int, channels_out: int, kernel: int, styles: int, stride: int = 1) -> Styled:
    return Styled(conv(channels_in, channels_out, kernel, stride), ConditionalInstanceNorm(channels_out, styles),
                  nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, channels: int, styles: int) -> None:
        super().__init__()
        self.body = Styled(conv_norm_relu(channels, channels, 3, styles), conv(channels, channels, 3),
                           ConditionalInstanceNorm(channels, styles))

    def forward(self, x: torch.Tensor, style: int | torch.Tensor = 0) -> torch.Tensor:
        return x + self.body(x, style)


class Upsample(nn.Module):
    """Nearest-neighbour doubling, then a convolution: every output pixel sees the same number of inputs."""

    def __init__(self, channels_in: int, channels_out: int, styles: int) -> None:
        super().__init__()
        self.body = conv_norm_relu(channels_in, channels_out, 3, styles)

    def forward(self, x: torch.Tensor, style: int | torch.Tensor = 0) -> torch.Tensor:
        return self.body(F.interpolate(x, scale_factor=2.0, mode="nearest"), style)


class TransformerNet(nn.Module):
    """(N, 3, H, W) RGB in [0, 1] -> the same size, stylized, in [0, 1]. Sides of at least MIN_SIDE px.

    `styles` styles share the convolutions; `forward(image, style)` takes a style's index or a blend (a weight
    per style, see `blend_weights`); a one-style network needs neither."""

    def __init__(self, width: str = "slim", styles: int = 1) -> None:
        super().__init__()
        if width not in WIDTHS:
            raise ValueError(f"width must be one of {', '.join(WIDTHS)}, not {width!r}")
        if styles < 1:
            raise ValueError(f"a network holds at least one style, not {styles}")
        self.width, self.styles = width, styles
        c1, c2, c3, blocks, ends = WIDTHS[width]
        self.net = Styled(
            conv_norm_relu(3, c1, ends, styles), conv_norm_relu(c1, c2, 3, styles, 2),
            conv_norm_relu(c2, c3, 3, styles, 2), *[Residual(c3, styles) for _ in range(blocks)],
            Upsample(c3, c2, styles), Upsample(c2, c1, styles), conv(c1, 3, ends))

    def norms(self) -> dict[str, ConditionalInstanceNorm]:
        """The normalisations by name, in order."""
        return {name: m for name, m in self.named_modules() if isinstance(m, ConditionalInstanceNorm)}

    def forward(self, image: torch.Tensor, style: int | torch.Tensor | None = None) -> torch.Tensor:
        if style is None:
            if self.styles != 1:
                raise ValueError(f"this network holds {self.styles} styles: say which one (or a blend)")
            style = 0
        elif isinstance(style, int) and not 0 <= style < self.styles:
            raise ValueError(f"style {style} is not one of this network's {self.styles}")
        elif isinstance(style, torch.Tensor) and style.shape != (self.styles,):
            raise ValueError(f"a blend needs one weight per style ({self.styles}), not {tuple(style.shape)}")
        height, width = image.shape[-2:]
        if min(height, width) < MIN_SIDE:
            raise ValueError(f"the network needs images of at least {MIN_SIDE} px a side, not {width}x{height}")
        pad_h, pad_w = -height % MULTIPLE, -width % MULTIPLE
        if pad_h or pad_w:  # reflect up to a multiple of 4, so the output can be cropped to the input's size
            image = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect")
        out = torch.sigmoid(self.net(image, style))  # a smooth squash into [0, 1]: clamping would stop gradients
        return out[..., :height, :width]

    def convolutions(self) -> dict[str, torch.Tensor]:
        """The weights every style shares (all but the scales and shifts)."""
        return {k: v for k, v in self.state_dict().items() if ".scales." not in k and ".shifts." not in k}

    def one_style(self, style: int | torch.Tensor) -> TransformerNet:
        """A one-style copy of this network for one of its styles or a blend of them."""
        state = self.convolutions()
        with torch.no_grad():
            for name, norm in self.norms().items():
                state[f"{name}.scales.0"], state[f"{name}.shifts.0"] = norm.affine(style)
        single = TransformerNet(self.width, 1).to(next(self.parameters()).device)
        single.load_state_dict(state)
        return single.train(self.training)

    def add_style(self, start: int | torch.Tensor) -> int:
        """Give the network one more style, its scales and shifts copied from style or blend `start`; its index."""
        for norm in self.norms().values():
            scale, shift = norm.affine(start)
            norm.scales.append(nn.Parameter(scale.detach().clone()))
            norm.shifts.append(nn.Parameter(shift.detach().clone()))
        self.styles += 1
        return self.styles - 1


def blend_weights(weights: list[float]) -> torch.Tensor:
    """Weights per style -> Dumoulin's convex combination (non-negative, summing to 1)."""
    blend = torch.tensor(weights, dtype=torch.float32)
    if (blend < 0).any() or not torch.isfinite(blend).all() or blend.sum() <= 0:
        raise ValueError("a blend's weights must be non-negative numbers, at least one of them above zero")
    return blend / blend.sum()


def format_one_names(net: TransformerNet) -> dict[str, str]:
    """FORMAT_ONE's names of the one-style scales and shifts (nn.InstanceNorm2d's weight and bias) -> ours."""
    names = {}
    for name in net.norms():
        names[f"{name}.weight"], names[f"{name}.bias"] = f"{name}.scales.0", f"{name}.shifts.0"
    return names


@dataclass(frozen=True)
class StyleEntry:
    """One style a model holds: its name, its painting's digest (`style_digest`), the painting, and how the
    style was made (`meta`: e.g. adapted to a trained network, with its steps and loss)."""

    name: str
    digest: str = ""
    painting: Image.Image | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class FastModel:
    """A trained network with what it is: `meta` is JSON-ready (style, teacher, settings, time, photos).

    A one-style model names its style in `meta` ("style", "style_digest") and carries its `painting`; a
    model of several styles lists them in `styles` and keeps in `meta` what they share (teacher, settings,
    photos). `select` turns either into the one-style model of one style or a blend, which is what
    stylizes a picture."""

    net: TransformerNet
    meta: dict[str, Any] = field(default_factory=dict)
    painting: Image.Image | None = None
    source: str = ""  # the file's name (never its path), once saved or loaded
    digest: str = ""  # sha256 of the file, once saved or loaded: names the exact model in a recipe
    styles: list[StyleEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.styles:
            self.styles = [StyleEntry(str(self.meta.get("style", "unknown")), str(self.meta.get("style_digest", "")),
                                      self.painting)]
        if len(self.styles) != self.net.styles:
            raise ValueError(f"{len(self.styles)} style entries for a network of {self.net.styles} styles")

    @property
    def style(self) -> str:
        if self.net.styles == 1:
            return str(self.meta.get("style", "unknown"))
        return ", ".join(entry.name for entry in self.styles)

    @property
    def label(self) -> str:
        """A short name for recipes and menus: the style and the width."""
        return f"{self.style} ({self.net.width}, {self.meta.get('teacher', '?')})"

    def index(self, key: str) -> int | None:
        """The index of the style called `key`, or whose painting's digest is `key`; None if there is none."""
        for i, entry in enumerate(self.styles):
            if key in (entry.name, entry.digest) and key:
                return i
        return None

    def select(self, style: str | Mapping[str, float]) -> FastModel:
        """The one-style model of a style this model holds (its name or painting digest), or of a blend
        {style: weight} (the weights are scaled to sum to 1). Raises ModelError naming the styles it holds."""
        weights = [0.0] * self.net.styles
        for key, weight in ({style: 1.0} if isinstance(style, str) else style).items():
            i = self.index(key)
            if i is None:
                raise ModelError(f"{self.source or 'The model'} holds no style called {key!r}; it holds "
                                 f"{', '.join(entry.name for entry in self.styles)}.")
            weights[i] += weight
        try:
            blend = blend_weights(weights)
        except ValueError:
            raise ModelError("A blend's weights must be non-negative numbers, at least one above zero.") from None
        chosen = [i for i, weight in enumerate(blend.tolist()) if weight > 0]
        if len(chosen) == 1:
            entry = self.styles[chosen[0]]
            if self.net.styles == 1:
                return self
            meta = {**self.meta, **entry.meta, "style": entry.name, "style_digest": entry.digest}
            return FastModel(self.net.one_style(chosen[0]), meta, entry.painting, self.source, self.digest)
        mix = {self.styles[i].name: round(blend[i].item(), 4) for i in chosen}
        meta = {**self.meta, "style": " + ".join(f"{name} {weight:g}" for name, weight in mix.items()), "blend": mix}
        return FastModel(self.net.one_style(blend), meta, None, self.source, self.digest)


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
    """A model file's contents: fp16 weights, metadata as JSON text, the paintings as PNG bytes."""
    weights = {k: v.detach().to("cpu", torch.float16) if v.is_floating_point() else v.detach().cpu()
               for k, v in model.net.state_dict().items()}
    if model.net.styles == 1:
        renamed = {ours: theirs for theirs, ours in format_one_names(model.net).items()}
        payload = {"format": FORMAT_ONE, "width": model.net.width, "meta": json.dumps(model.meta, sort_keys=True),
                   "weights": {renamed.get(k, k): v for k, v in weights.items()}}
        if model.painting is not None:
            payload["painting_png"] = painting_png(model.painting)
    else:
        styles = [{"name": e.name, "digest": e.digest, "meta": e.meta} for e in model.styles]
        payload = {"format": FORMAT, "width": model.net.width, "weights": weights,
                   "meta": json.dumps(model.meta, sort_keys=True), "styles": json.dumps(styles, sort_keys=True),
                   "paintings": [torch.zeros(0, dtype=torch.uint8) if e.painting is None else painting_png(e.painting)
                                 for e in model.styles]}
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
    if (not isinstance(payload, dict) or payload.get("format") not in (FORMAT_ONE, FORMAT)
            or payload.get("width") not in WIDTHS):
        raise ModelError("That file is not a fast-network model this version can read.")
    try:
        model = read_payload(payload)
    except (RuntimeError, AttributeError, TypeError, ValueError, KeyError):
        raise ModelError("That model file is damaged: its weights do not fit the network.") from None
    model.source, model.digest = name, hashlib.sha256(source).hexdigest()
    model.net.eval()
    return model


def read_payload(payload: dict[str, Any]) -> FastModel:
    """A loaded file's dictionary -> the model; raises ValueError (and the like) for one that does not fit."""
    meta = json.loads(payload.get("meta") or "{}")
    meta = meta if isinstance(meta, dict) else {}
    weights = {k: v.float() if v.is_floating_point() else v for k, v in payload["weights"].items()}
    if payload["format"] == FORMAT_ONE:
        net = TransformerNet(payload["width"])
        names = format_one_names(net)
        net.load_state_dict({names.get(k, k): v for k, v in weights.items()})
        return FastModel(net, meta, png_picture(payload.get("painting_png")))
    listed = json.loads(payload["styles"])
    if not isinstance(listed, list) or len(listed) != len(payload["paintings"]) or len(listed) < 2:
        raise ValueError("the styles and their paintings do not match")
    net = TransformerNet(payload["width"], len(listed))
    net.load_state_dict(weights)
    styles = [StyleEntry(str(item["name"]), str(item.get("digest", "")), png_picture(png), dict(item.get("meta", {})))
              for item, png in zip(listed, payload["paintings"])]
    return FastModel(net, meta, styles=styles)


def png_picture(png: Any) -> Image.Image | None:
    """A painting kept in a model file, or None where it is missing or unreadable (the model still stylizes)."""
    if isinstance(png, torch.Tensor) and png.dtype == torch.uint8 and png.ndim == 1 and png.numel():
        with contextlib.suppress(ImageError):
            return decode_image(png.numpy().tobytes())
    return None
