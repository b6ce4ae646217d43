"""Stylizing with a trained fast network: one pass, a recipe that names the model, the shipped models.

Shipped models live in `styles/fast/`: `gallery.pt`, one network of several gallery styles, and `<style>.pt`
networks of one style each, all trained with `python -m nst_core.fast train` (styles/fast/README.md says on
what); where two hold a style, the one trained for it alone is used (`specialists_first`). Front ends find a
style by name, a model by file, or the network trained on a painting (`model_for_painting`), and keep loaded
models in a small cache
keyed by the file's identity, so a webcam stream does not reload its model for every frame. A model of several
styles stylizes through `style_model`, which picks one of its styles (by name, or by the gallery painting it
learnt) or a blend of them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from .. import __version__
from ..config import Settings, field_info
from ..errors import ImageError, SettingsError
from ..features import uses_bf16
from ..gallery import STYLES_DIR, get_style
from ..images import ImageSource, decode_image, fitted_size, resize_to, to_pil, to_tensor
from ..lru import LRU
from .model import MIN_SIDE, FastModel, ModelError, load_model, style_digest

SHIPPED_DIR = STYLES_DIR / "fast"
# The gallery's network of several styles, where one is shipped: what a new painting is learnt into by default
# (`adapt`, the Fast tab's training), its convolutions shared, only the new style's scales and shifts trained.
GALLERY_MODEL = SHIPPED_DIR / "gallery.pt"
DEFAULT_SIZE = 512
MAX_SIDE = int(field_info("size")["high"])  # the engine's largest output side, here too


def shipped_models() -> dict[str, Path]:
    """Shipped model files by style name, in name order."""
    return {path.stem: path for path in sorted(SHIPPED_DIR.glob("*.pt"))}


def resolve_model(name_or_path: str | Path) -> Path:
    """A shipped model's name or a model file -> its path. Raises ModelError listing the shipped names."""
    shipped = shipped_models()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    raise ModelError(f"'{name_or_path}' is neither a shipped fast model ({', '.join(shipped) or 'none'}) "
                     "nor a model file.")


class ModelCache:
    """Loaded models by file identity (path, size, modification time), the least recently used dropped first."""

    def __init__(self, capacity: int = 8) -> None:
        self.models: LRU[tuple, FastModel] = LRU(capacity)

    def get(self, path: str | Path) -> FastModel:
        path = Path(path)
        try:
            stat = path.stat()
        except OSError:
            raise ModelError(f"There is no model file called {path.name!r}.") from None
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        model = self.models.get(key)
        if model is None:
            # Loading takes a while and holds no lock: other lookups go on (two threads may load one new file twice).
            model = load_model(path)
            self.models.put(key, model)
        return model


MODELS = ModelCache()


def model_for_painting(painting: Image.Image) -> FastModel | None:
    """The one-style model of the shipped network trained on exactly this painting (same pixels), if there is
    one: a model of that painting alone, or its style in a model of several."""
    digest = style_digest(painting)
    for path in specialists_first():
        model = MODELS.get(path)
        if model.index(digest) is not None:
            return model.select(digest)
    return None


def specialists_first() -> list[Path]:
    """The shipped models, those of fewer styles first (then by name): where a network trained for one painting
    alone and the gallery's network both hold a style, the one trained for it alone is used."""
    return sorted(shipped_models().values(), key=lambda path: (MODELS.get(path).net.styles, path.stem))


def shipped_styles() -> dict[str, Path]:
    """Every style a shipped model holds, by name (in the order of `specialists_first`), with the model that
    holds it."""
    styles: dict[str, Path] = {}
    for path in specialists_first():
        for entry in MODELS.get(path).styles:
            styles.setdefault(entry.name, path)
    return styles


def gallery_digest(name: str) -> str | None:
    """The digest of the gallery painting called `name`, where it is on this machine (nothing is downloaded)."""
    try:
        style = get_style(name)
    except SettingsError:
        return None
    return painting_digest(style.path) if style.available else None


@functools.lru_cache(maxsize=64)
def painting_digest(path: Path) -> str:
    return style_digest(decode_image(path))


def style_key(model: FastModel, name: str) -> str:
    """`name` as `model` knows it: one of its styles' names, or the digest of the gallery painting called `name`
    where the model learnt that painting under another name; else `name` (and `select` says what it holds)."""
    if model.index(name) is None:
        digest = gallery_digest(name)
        if digest is not None and model.index(digest) is not None:
            return digest
    return name


def style_holder(name: str) -> Path | None:
    """The shipped model that holds a style called `name` (or the gallery painting called `name`), if any."""
    for path in specialists_first():
        model = MODELS.get(path)
        if model.index(style_key(model, name)) is not None:
            return path
    return None


def style_model(name: str, model: str | Path | None = None, blend: Mapping[str, float] | None = None) -> FastModel:
    """The one-style model that stylizes as asked: `name` is a model (a file or a shipped name) of one style, or
    a style held by `model` (a file or a shipped name) or by a shipped model; `blend` {style: weight} mixes
    styles of that model (then `name` only says which model). Raises ModelError naming what there is."""
    if model is not None:
        found, named_model = MODELS.get(resolve_model(model)), False
    elif str(name) in shipped_models() or Path(name).expanduser().is_file():
        found, named_model = MODELS.get(resolve_model(name)), True
    else:
        holder = style_holder(name)
        if holder is None:
            raise ModelError(f"'{name}' is neither a shipped fast model ({', '.join(shipped_models()) or 'none'}), "
                             "a model file, nor a style that one of them holds; name a model file with --model.")
        found, named_model = MODELS.get(holder), False
    if blend:
        mix: dict[str, float] = {}
        for style, weight in blend.items():  # two names of one style (its own, its gallery's) add up
            key = style_key(found, style)
            mix[key] = mix.get(key, 0.0) + weight
        return found.select(mix)
    if not named_model:
        return found.select(style_key(found, name))
    if found.net.styles > 1:
        raise ModelError(f"{found.source} holds {found.net.styles} styles ({found.style}); name one with "
                         f"--model {found.source} STYLE, or mix them with --blend.")
    return found


def output_size(photo: tuple[int, int], size: int | None) -> tuple[int, int]:
    """The size a photo is stylized at: its longest side `size` (None: as it is), within the network's and
    the engine's limits."""
    longest = min(size or max(photo), MAX_SIDE)
    target = fitted_size(photo, longest, min_short=2 * MIN_SIDE)
    if max(target) > MAX_SIDE:
        raise ImageError(f"The photo is {photo[0]}×{photo[1]} pixels, too thin to stylize; crop it.")
    return target


def one_style(model: FastModel) -> FastModel:
    """`model`, if it holds one style; a model of several is refused in one sentence (front ends that know only
    one-style models get a message, not a crash): `FastModel.select` picks its style first."""
    if model.net.styles > 1:
        raise ModelError(f"{model.source or 'That model'} holds {model.net.styles} styles ({model.style}); pick "
                         "one of them (or a blend) to stylize with.")
    return model


def stylize_fast(model: FastModel, photo: ImageSource, size: int | None = DEFAULT_SIZE) -> Image.Image:
    """The photo in the model's style, its longest side `size` px (None: the photo's own size), one pass."""
    one_style(model)
    image = decode_image(photo)
    return to_pil(paint_tensor(model, to_tensor(resize_to(image, output_size(image.size, size)))))


def paint_tensor(model: FastModel, x: torch.Tensor, precision: str = "auto") -> torch.Tensor:
    """One pass of a one-style model over (1, 3, H, W) -> fp32, in channels_last memory: on two cores 1.57x faster
    than the default layout at 256 px and 1.08x at 512. In bf16 where the hardware has it (`paints_in_bf16`): on
    an AMX Xeon 67 ms against 100 at 512 px, the picture 0.3% of the range from fp32's on average, no difference
    to the eye (docs/fast-paint.md). The network's weights are moved once."""
    net = model.net.to(memory_format=torch.channels_last)  # a no-op from the second call on
    bf16 = paints_in_bf16(model, precision)
    with torch.inference_mode(), torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        return net(x.contiguous(memory_format=torch.channels_last)).float()


def paints_in_bf16(model: FastModel, precision: str = "auto") -> bool:
    """Whether `paint_tensor` runs bf16: where asked, or by default on CUDA and on CPUs with bf16 instructions
    (emulated bf16 is far slower than fp32), as the engine decides."""
    return uses_bf16(precision, next(model.net.parameters()).device)


def fast_recipe(model: FastModel, photo: Image.Image, result: Image.Image) -> dict[str, Any]:
    """How a fast result was made, for its PNG: the model by name and file digest, with its training."""
    meta = model.meta
    return {"generator": f"nst-studio {__version__}",
            "fast_model": {"file": model.source, "sha256": model.digest, "style": model.style,
                           "teacher": meta.get("teacher"), "width": model.net.width, "steps": meta.get("steps_done"),
                           "precision": "bf16" if paints_in_bf16(model) else "fp32"},
            "content_size": list(photo.size), "output_size": list(result.size)}


def instant_preview(content: Image.Image, styles: list[Image.Image], settings: Settings
                    ) -> tuple[Image.Image, dict[str, Any]] | None:
    """A shipped network's picture of what the engine is about to make, with its recipe, or None where none
    fits: one painting that a shipped model was trained on, in colour (a network cannot keep the photo's)."""
    if len(styles) != 1 or settings.preserve_color != "none":
        return None
    model = model_for_painting(styles[0])
    if model is None:
        return None
    picture = stylize_fast(model, content, settings.size)
    return picture, fast_recipe(model, content, picture)
