"""The settings of one style-transfer run: one frozen dataclass, validated on creation.

This is the single source of every default, range and help text: the CLI builds its flags from it and
the app builds its controls from it. It knows nothing about images, torch or Gradio.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import SettingsError
from .names import LAYER_CHOICES, WEIGHT_SOURCES, block_of, min_side

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "recolored", "noise", "style")
COLOR_MODES = ("none", "luminance", "histogram")
POOLINGS = ("max", "avg")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
CONVENTIONS = ("auto", "torchvision", "caffe")
BORDERS = ("zeros", "reflect", "replicate")
# The style losses (nst_core.losses.STYLE_LOSSES implements each); a new loss adds its name here.
STYLE_LOSSES = ("gram", "w2", "sliced")


def default_weights() -> str:
    """The weights a run uses unless told otherwise: $NST_WEIGHTS (a local file) if set, else vgg19."""
    return os.environ.get("NST_WEIGHTS") or "vgg19"


def setting(default: Any, help: str, *, low: float | None = None, high: float | None = None,
            choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None, log: bool = False,
            useful: tuple[float, float] | None = None) -> Any:
    """A dataclass field that carries its help text and allowed values for the CLI, the app and checks.

    `low`..`high` is what is accepted, `useful` the range worth trying (each front end words it in its own
    units). `choices` may be a function, read at each check, where the choices live elsewhere.
    """
    meta = {"help": help, "low": low, "high": high, "choices": choices, "log": log, "useful": useful}
    if callable(default):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """Every knob of a run. Creating one validates it; `dataclasses.replace` re-validates."""

    size: int = setting(512, "Longest side of the output in pixels. Time grows with its square.",
                        low=32, high=4096)
    iterations: int = setting(
        80, "Optimiser steps in all, over every scale of coarse to fine (an L-BFGS function evaluation counts as "
        "one); most are taken at the small scales, where they are cheap. More steps finish the painting further.",
        low=1, high=5000)
    style_weight: float = setting(
        600.0, "How strongly the output copies the painting's textures and colours. Raise it for a "
        "bolder painting, lower it to keep more of the photo.", low=0.0, high=1e9, log=True, useful=(1, 1000))
    content_weight: float = setting(
        3.0, "How strongly the output keeps the photo's shapes. Raise it to keep faces and edges, "
        "lower it to let the painting take over.", low=0.0, high=1e6, log=True, useful=(0.1, 10))
    tv_weight: float = setting(
        2.0, "Total-variation smoothing: raise it to remove speckle and high-frequency noise.",
        low=0.0, high=1e6, log=True, useful=(0, 1000))
    content_layer: str = setting(
        "relu4_1", "The VGG layer whose features describe the photo's content. Shallow layers keep "
        "exact pixels; deep ones keep only the objects' layout.", choices=LAYER_CHOICES)
    style_layers: tuple[str, ...] = setting(
        ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        "The VGG layers whose feature statistics (see style loss) describe the painting's style. Shallow layers carry "
        "colour and fine texture, deep layers carry large brush strokes and motifs.",
        choices=LAYER_CHOICES)
    style_loss: str = setting(
        "sliced", "How the painting's style is measured: sliced (the default) compares the features' whole "
        "distributions along random directions (Heitz et al.), and paints the painting's brushwork without "
        "pasting its motifs (a portrait's face, Van Gogh's moon) over the photo; gram compares which features "
        "occur together (Gatys et al.), about 1.5x faster per run on a CPU; w2 compares their averages and "
        "spreads (a Gaussian fit, Wasserstein-2).",
        choices=lambda: STYLE_LOSSES)
    style_layer_weights: tuple[float, ...] | None = setting(
        None, "Relative weight of each style layer (same order as style layers); if omitted, depth_falloff "
        "sets them. They are normalised to sum to one.", low=0.0, high=1e6)
    depth_falloff: float = setting(
        0.35, "Unless per-layer weights are given, each deeper block of style layers weighs this much of the one "
        "before (relu1 x1, relu2 x this, relu3 x its square, ...): 1 weighs them equally; below 1 keeps the photo's "
        "subject, as deep layers describe the painting's objects (a face, a moon) rather than its brushwork.",
        low=0.0, high=1.0)
    fine_falloff: float = setting(
        1.0, "At each finer scale of coarse to fine, each style layer's weight is multiplied by this once per "
        "block of depth (relu1 x1, relu2 x this, relu3 x its square, ...). Below 1, the fine scales sharpen the "
        "brush strokes the coarse scale laid down instead of repainting them smaller, and paste no motifs.",
        low=0.0, high=1.0)
    style_blend: tuple[float, ...] | None = setting(
        None, "Relative weight of each style image when there are several; equal if omitted.",
        low=0.0, high=1e6)
    style_scale: float = setting(
        1.0, "Size of the painting relative to the output. Below 1 gives smaller brush strokes, "
        "above 1 larger ones.", low=0.1, high=4.0)
    optimizer: str = setting(
        "lbfgs", "lbfgs converges far better per step (the quality choice); adam is steadier and "
        "cheaper per step.", choices=OPTIMIZERS)
    learning_rate: float = setting(
        0.02, "Adam's step size in pixel units (0-1 scale); L-BFGS ignores it.", low=1e-5, high=1.0, log=True)
    init: str = setting(
        "recolored", "Starting image: the photo (fastest to a clean result), the photo recoloured to the "
        "painting's colour mean and spread (the colours are there from the first step), noise (more "
        "painterly), or noise with the painting's colours.", choices=INITS)
    seed: int = setting(0, "Seed for noise initialisation; the same seed gives the same picture.",
                        low=0, high=2**31 - 1)
    preserve_color: str = setting(
        "none", "Keep the photo's colours: 'luminance' transfers only brightness patterns, "
        "'histogram' recolours the painting to the photo's palette first.", choices=COLOR_MODES)
    coarse_to_fine: bool = setting(
        True, "Optimise a small version first and enlarge it, so large outputs keep the brush-stroke "
        "scale of a small preview (and converge faster).")
    scale_step_ratio: float = setting(
        0.5, "With coarse to fine, each finer scale gets this share of the steps of the one before: 0.5 halves them; "
        "0.25 gives every scale about the same time, as a step at twice the size costs four times as much.",
        low=0.05, high=1.0)
    border: str = setting(
        "reflect", "How the network sees past the image's edges: zeros (as it was trained) shows it a dark frame, "
        "which the optimiser paints as a band along the edges; reflect or replicate continue the picture.",
        choices=BORDERS)
    average_decay: float = setting(
        0.9, "Show and return an average of the recent steps' images instead of the latest (0 = off; 0.9 "
        "averages about the last 10 steps): it removes the flicker and speckle of single steps.",
        low=0.0, high=0.999)
    tile_size: int = setting(
        1024, "Scales larger than this many pixels a side are computed in overlapping tiles of about this "
        "size, so memory stays bounded for big outputs (the same picture with gram and w2, whose statistics add up "
        "over tiles; sliced matches tile by tile, an approximation).", low=128, high=4096)
    pooling: str = setting(
        "avg", "Pooling inside VGG: average pooling gives smoother gradients and nicer results "
        "(Gatys et al.); max is the network as trained.", choices=POOLINGS)
    weights: str = setting(
        default_weights, "The network's weights: vgg19 (default), vgg16, their Caffe conversions vgg19-caffe "
        "and vgg16-caffe, or untrained (random: shows why pretrained features matter).")
    weights_convention: str = setting(
        "auto", "Input convention of a local weights file (auto recognises known files).",
        choices=CONVENTIONS)
    preview_every: int = setting(10, "Send a preview image every N steps (and on the first and last).",
                                 low=1, high=1000)
    device: str = setting("auto", "Where to compute: auto picks CUDA, then Apple MPS, then CPU.",
                          choices=DEVICES)
    precision: str = setting(
        "auto", "Arithmetic for the network: auto uses bf16 on CUDA and on CPUs with bf16 instructions "
        "(AVX512-BF16 or AMX; losses stay fp32), and fp32 elsewhere.", choices=PRECISIONS)
    max_seconds: float = setting(
        0.0, "Wall-clock limit for the run in seconds (0 = none); the run then ends with the last "
        "good image.", low=0.0, high=86400.0)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            # Whole floats from sliders and JSON (200.0) become ints; everything else is only checked.
            object.__setattr__(self, f.name, check_field(f, getattr(self, f.name)))
        if not self.style_layers:
            raise SettingsError("style_layers must name at least one layer.")
        if len(set(self.style_layers)) != len(self.style_layers):
            raise SettingsError("style_layers must not name a layer twice.")
        if self.style_layer_weights is not None:
            if len(self.style_layer_weights) != len(self.style_layers):
                raise SettingsError(
                    f"style_layer_weights has {len(self.style_layer_weights)} values but there are "
                    f"{len(self.style_layers)} style layers; give one weight per layer.")
            if sum(self.style_layer_weights) <= 0:
                raise SettingsError("style_layer_weights must not all be zero.")
        if self.style_blend is not None and sum(self.style_blend) <= 0:
            raise SettingsError("style_blend must not be all zeros.")
        if not self.weights.strip():
            raise SettingsError("weights must name a source (" + ", ".join(WEIGHT_SOURCES) + ") or a file.")

    def layer_weights(self, finer: int = 0) -> dict[str, float]:
        """Each style layer's share of the style loss (summing to one) at the scale `finer` scales above the
        coarsest: the given weights (or depth_falloff per block of depth), times fine_falloff per block of depth
        per finer scale."""
        weights = self.style_layer_weights or [self.depth_falloff ** (block_of(n) - 1) for n in self.style_layers]
        weights = [w * self.fine_falloff ** (finer * (block_of(name) - 1))
                   for name, w in zip(self.style_layers, weights)]
        total = sum(weights) or 1.0
        return {name: w / total for name, w in zip(self.style_layers, weights)}

    def deepest_layer_side(self) -> int:
        """The shortest image side the deepest layer in use can see (16 px for relu5_x)."""
        return min_side([self.content_layer, *self.style_layers])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, for recipes."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Settings:
        """Settings from a recipe: unknown keys are ignored, lists become tuples, the rest is validated."""
        known = {f.name for f in dataclasses.fields(cls)}
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in known}
        return cls(**clean)


def field_info(name: str) -> dict[str, Any]:
    """Help text, ranges and choices of one setting, for front ends."""
    info = dict(next(f for f in dataclasses.fields(Settings) if f.name == name).metadata)
    if callable(info["choices"]):
        info["choices"] = info["choices"]()
    return info


def check_field(f: dataclasses.Field, value: Any) -> Any:
    """Return `value` in its field's type, or raise SettingsError naming what is allowed."""
    meta, name = f.metadata, f.name
    choices, low, high = meta["choices"], meta["low"], meta["high"]
    if callable(choices):
        choices = choices()
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind == "bool":
        if not isinstance(value, bool):
            raise SettingsError(f"{name} must be true or false, not {value!r}.")
        return value
    if kind.startswith("tuple") and "str" in kind:
        items = value if isinstance(value, tuple) else None
        if items is None or not all(isinstance(v, str) for v in items):
            raise SettingsError(f"{name} must be a list of layer names such as relu1_1.")
        for item in items:
            if item not in choices:
                raise SettingsError(f"{name} has unknown layer {item!r}; allowed: {', '.join(choices)}.")
        return value
    if kind.startswith("tuple"):
        if value is None:
            return None
        if not isinstance(value, tuple) or not value:
            raise SettingsError(f"{name} must be a non-empty list of numbers.")
        return tuple(_check_number(name, item, low, high, integer=False) for item in value)
    if kind == "str":
        if not isinstance(value, str):
            raise SettingsError(f"{name} must be text, not {value!r}.")
        if choices is not None and value not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
        return value
    return _check_number(name, value, low, high, integer=(kind == "int"))


def _check_number(name: str, value: Any, low: float | None, high: float | None, *, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{name} must be a number, not {value!r}.")
    if not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number between {low:g} and {high:g}, not {value}.")
    if integer and value != int(value):
        raise SettingsError(f"{name} must be a whole number, not {value}.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, not {value:g}.")
    return int(value) if integer else float(value)
