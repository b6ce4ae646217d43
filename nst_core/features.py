"""Looking inside the network: activations of an image at named layers, and their Gram matrices.

The one way every part of the project runs the backbone: the optimisation loop, the teaching views and
the fast networks' losses. A `FeatureExtractor` holds a backbone on a device and runs it in the chosen
precision; `activations` is the one-call form for an image.

Testing aid: with the environment variable NST_PRETEND_NATIVE_BF16=1 this machine's CPU counts as one with
native bf16 (as if /proc/cpuinfo listed avx512_bf16), so precision="auto" picks bf16 on the CPU as it would on
an AVX512-BF16 or AMX machine, and the suite can be run here as it runs there (`NST_PRETEND_NATIVE_BF16=1
python -m pytest ...`). The arithmetic is right but emulated where the instructions are missing: ~30x slower.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

import torch
from PIL import Image

from .backbones import VGGFeatures, load_backbone
from .errors import SettingsError
from .images import to_tensor


class _SelfProduct(torch.autograd.Function):
    """flat @ flat^T with a backward of one batched product.

    Autograd would differentiate each factor on its own: two products and a feature-sized add. The
    result is symmetric, so the gradient is (g + g^T) @ flat. Profiled on two CPU cores at 256 px, a step's
    Gram products and adds fell from 115 to 64 ms (of ~500 ms).
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(flat)
        return flat @ flat.transpose(1, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (flat,) = ctx.saved_tensors
        return (grad + grad.transpose(1, 2)) @ flat


def gram(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C): how strongly each pair of feature maps fires together, averaged over
    positions (and divided by C), so where things are is forgotten and which patterns co-occur is kept.
    Computed in fp32 even for bf16 features: it sums over many positions."""
    n, c, h, w = features.shape
    flat = features.to(torch.promote_types(features.dtype, torch.float32)).reshape(n, c, h * w)
    return _SelfProduct.apply(flat) / (c * h * w)


def pick_device(choice: str) -> torch.device:
    """auto: CUDA, then Apple MPS, then the CPU; an explicit choice that is not there is a SettingsError."""
    mps = getattr(torch.backends, "mps", None)
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise SettingsError("device cuda was asked for but no CUDA GPU is available; use auto or cpu.")
    if choice == "mps" and not (mps and mps.is_available()):
        raise SettingsError("device mps was asked for but Apple MPS is not available; use auto or cpu.")
    return torch.device(choice)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


# CPU flags (Linux /proc/cpuinfo names) of instructions that do bf16 arithmetic natively. Without them bf16 is
# emulated: measured ~30x slower than fp32 on an AVX2-only EPYC, and 1.7x faster with AVX512-BF16.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
PRETEND_BF16_ENV = "NST_PRETEND_NATIVE_BF16"  # the testing aid in the module's docstring


@functools.cache  # read once: the fast networks ask for every webcam and video frame
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as Linux reports them; empty where there is no /proc/cpuinfo (macOS, Windows)."""
    try:
        with open(cpuinfo) as f:
            line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.partition(":")[2].split())


def native_bf16_cpu(flags: frozenset[str] | None = None) -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), from its flags: the given ones, or else this
    machine's, to which NST_PRETEND_NATIVE_BF16=1 adds avx512_bf16 (a testing aid, see the module docstring)."""
    if flags is None:
        flags = cpu_flags()
        if os.environ.get(PRETEND_BF16_ENV, "") not in ("", "0"):
            flags |= {"avx512_bf16"}
    return bool(flags & NATIVE_BF16_FLAGS)


def uses_bf16(precision: str, device: torch.device, *, flags: frozenset[str] | None = None) -> bool:
    """bf16 where asked; by default on CUDA (Tensor Cores) and on a CPU that has bf16 instructions; fp32
    elsewhere (emulated bf16 is far slower than fp32)."""
    if precision != "auto":
        return precision == "bf16"
    return device.type == "cuda" or (device.type == "cpu" and native_bf16_cpu(flags))


class FeatureExtractor:
    """A frozen backbone on one device, run in the chosen precision with the fastest memory layout.

    The backbone is moved and converted in place (it is cached by `load_backbone`, so it stays there for the
    next run on the same device).
    """

    def __init__(self, backbone: VGGFeatures, device: torch.device, precision: str = "auto",
                 border: str = "zeros") -> None:
        self.backbone = backbone.to(device)
        self.device = device
        self.border = border
        self.bf16 = uses_bf16(precision, device)
        self.channels_last = device.type in ("cuda", "cpu")
        if self.channels_last:
            self.backbone.to(memory_format=torch.channels_last)

    def __call__(self, image: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Activations of `layers` for an RGB [0, 1] (N, 3, H, W) batch; gradients flow if the image wants them."""
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.backbone(image, frozenset(layers), border=self.border)


def activations(image: Image.Image | torch.Tensor, layers: Iterable[str], *, backbone: VGGFeatures | None = None,
                weights: str = "vgg19", device: str = "auto") -> dict[str, torch.Tensor]:
    """The feature maps of `image` at `layers`, each (1, C, H, W) float32 on the CPU.

    `backbone` wins over `weights` (a source name or file, as in Settings.weights)."""
    model = backbone if backbone is not None else load_backbone(weights)
    extractor = FeatureExtractor(model, pick_device(device), precision="fp32")
    tensor = to_tensor(image) if isinstance(image, Image.Image) else image
    with torch.no_grad():
        found = extractor(tensor.to(extractor.device), layers)
    return {name: value.float().cpu().contiguous() for name, value in found.items()}


def gram_matrices(found: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The Gram matrix of each layer's activations (as returned by `activations`), (C, C) each."""
    return {name: gram(value)[0] for name, value in found.items()}
