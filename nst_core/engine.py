"""The optimisation loop: a generator of progress events, and a run-to-completion wrapper.

`stylize_iter` is the one entry point of every front end (CLI, studio, benchmarks, teaching views). It
yields one small immutable `Progress` per optimiser step (an L-BFGS function evaluation is a step), with a
preview image every `preview_every` steps and on the last, which also carries the recipe. Closing the
generator is the cancel signal; its `finally` frees the run's memory. The engine never prints and never
imports a UI.

Where this departs from the textbook loop, and why:
- Every loss term is relative to its target (see losses.py), so weights mean the same on every backbone
  and size, and L-BFGS sees a well-scaled problem instead of raw sums in the 1e10 range.
- L-BFGS runs one function evaluation per `step()` without line search, guarded: a non-finite or
  exploding loss, or a loss frozen for several steps, rolls back to the best image so far and restarts
  the optimiser's memory.
- Coarse to fine: the run starts at a fraction of the size and enlarges its result, so big outputs keep
  the large-scale structure a small one has, and early steps are cheap.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from . import color, cpu_memory
from .backbones import SOURCES, VGGFeatures, load_backbone
from .config import Settings, field_info
from .errors import ImageError, OutOfMemory, SettingsError
from .features import FeatureExtractor, describe_device, pick_device
from .images import ImageSource, decode_image, fitted_size, resize_to, to_pil, to_tensor
from .losses import content_loss, make_style_loss, total_variation
from .targets import Targets, prepare_targets, style_size

log = logging.getLogger(__name__)

MIN_SCALE_SIZE = 128  # coarse-to-fine never starts below this: VGG's deep layers need room
MAX_SIDE = int(field_info("size")["high"])  # no image side, enlarged for a thin photo or not, beyond this
LBFGS_HISTORY = 20  # each pair costs two image-sized buffers; 20 is plenty for this problem
STALL_STEPS = 4  # this many identical losses in a row means the optimiser is stuck
MAX_PIXEL_STEP = 0.3  # trust region: no step moves a pixel further than this (pixels span 0..1)
MAX_FAILURES = 5  # rollbacks in a row before the run gives up and returns its best image
BLOWUP = 100.0  # a loss this many times the best so far is a divergence (L-BFGS's early steps may overshoot 10x)


@dataclass(frozen=True)
class Progress:
    """One optimiser step. Loss terms are weighted contributions: loss = content + style + tv."""

    step: int
    total: int
    loss: float
    content_loss: float
    style_loss: float
    tv_loss: float
    style_layer_losses: Mapping[str, float]
    elapsed: float
    rate: float  # steps per second so far
    eta: float  # seconds still to go, from the work left at each scale (a coarse step costs a fraction)
    size: tuple[int, int]  # (width, height) being optimised at this step
    output_size: tuple[int, int]  # (width, height) of the final image
    scale: int  # 1-based index of the coarse-to-fine scale
    scales: int
    device: str
    preview: Image.Image | None = None
    done: bool = False
    message: str | None = None
    recipe: Mapping[str, Any] | None = None  # on the last event: everything needed to make the image again


def stylize(content: ImageSource, styles: Sequence[ImageSource] | ImageSource, settings: Settings | None = None,
            *, backbone: VGGFeatures | None = None, init_image: ImageSource | None = None) -> Image.Image:
    """Run to the end and return the final image."""
    final = None
    for event in stylize_iter(content, styles, settings, backbone=backbone, init_image=init_image):
        final = event
    assert final is not None and final.done and final.preview is not None
    return final.preview


def plan_scales(content: tuple[int, int], settings: Settings) -> list[tuple[int, int]]:
    """(width, height) of each scale, coarse to fine: halvings of the output down to MIN_SCALE_SIZE.

    No side is ever below what the deepest layer in use can see (16 px for relu5_x): a very thin photo is
    made longer instead, and the coarse scales stop where they would be too thin. A photo too thin for any
    size up to MAX_SIDE is refused with one sentence.
    """
    need = settings.deepest_layer_side()
    final = fitted_size(content, settings.size, min_short=need)
    if max(final) > MAX_SIDE:
        raise ImageError(
            f"The photo is {content[0]}×{content[1]} pixels, too thin to stylize: its short side would be under "
            f"the {need} px its deepest layer needs at any size up to {MAX_SIDE} px, so crop it.")
    sizes = [final]
    longest = settings.size
    while settings.coarse_to_fine and longest // 2 >= MIN_SCALE_SIZE and len(sizes) < settings.iterations:
        longest //= 2
        if min(fitted_size(content, longest)) < need:
            break
        sizes.insert(0, fitted_size(content, longest))
    return sizes


def check_paintings(styles: list[Image.Image], output: tuple[int, int], settings: Settings) -> None:
    """Refuse, before any work, a painting too thin to be used at the output's size."""
    for painting in styles:
        if max(style_size(painting.size, max(output), settings)) > MAX_SIDE:
            raise ImageError(
                f"The painting is {painting.size[0]}×{painting.size[1]} pixels, too thin to take a style from: "
                f"its short side would be under the {settings.deepest_layer_side()} px the deepest layer needs, "
                "so crop it.")


def split_iterations(iterations: int, scales: int) -> list[int]:
    """Steps per scale, each scale getting half the share of the one before (the final scale the rest).

    A step at half the size costs a quarter, and coarse steps settle the large structures that fine
    steps then only refine; measured on the real weights this halves the time of an equal split with
    a better quality score (README, Performance).
    """
    weights = [2.0 ** (scales - 1 - i) for i in range(scales)]
    share = [int(iterations * w / sum(weights)) for w in weights]
    share[-1] += iterations - sum(share)
    return share


def eta_seconds(elapsed: float, work_done: float, work_total: float) -> float:
    """Seconds left if the rest of the work goes at the pace so far. Work is pixels × steps: a step's cost
    grows with its pixels, so a coarse step is a quarter of a fine one (a step count alone was 3x optimistic)."""
    if work_done <= 0:
        return 0.0
    return elapsed / work_done * max(0.0, work_total - work_done)


def resolve_backbone(settings: Settings) -> VGGFeatures:
    return load_backbone(settings.weights, convention=settings.weights_convention, pooling=settings.pooling)


def weights_label(settings: Settings) -> str:
    """What a recipe records about the weights: a source name, or a local file's name (never its path)."""
    if settings.weights in SOURCES:
        return settings.weights
    return "file:" + settings.weights.replace("\\", "/").rsplit("/", 1)[-1]


def make_recipe(settings: Settings, content: Image.Image, styles: Sequence[Image.Image],
                output_size: tuple[int, int]) -> dict[str, Any]:
    """Everything needed to reproduce a result, for the output PNG's metadata."""
    from . import __version__

    values = settings.to_dict()
    values["weights"] = weights_label(settings)
    return {
        "generator": f"nst-studio {__version__}",
        "settings": values,
        "content_size": list(content.size),
        "style_sizes": [list(s.size) for s in styles],
        "output_size": list(output_size),
    }


def stylize_iter(content: ImageSource, styles: Sequence[ImageSource] | ImageSource,
                 settings: Settings | None = None, *, backbone: VGGFeatures | None = None,
                 init_image: ImageSource | None = None) -> Iterator[Progress]:
    """Yield a Progress per optimiser step; the last one has done=True, the final image and the recipe.

    `content` and `styles` are files, bytes or decoded PIL images; `init_image` (one too, e.g. a fast network's
    result to refine) replaces `settings.init` as the start. Every check (settings against the backbone, image
    shapes, the device) happens before the first step, so a front end hears of a mistake at once.
    """
    settings = settings or Settings()
    content_img = decode_image(content)
    style_list = [styles] if isinstance(styles, (str, bytes, Image.Image)) or hasattr(styles, "__fspath__") \
        else list(styles)
    if not style_list:
        raise SettingsError("Give at least one style image.")
    style_imgs = [decode_image(s) for s in style_list]
    blend = list(settings.style_blend or [1.0] * len(style_imgs))
    if len(blend) != len(style_imgs):
        raise SettingsError(f"style_blend has {len(blend)} weights for {len(style_imgs)} style images; "
                            "give one per style.")
    sizes = plan_scales(content_img.size, settings)
    check_paintings(style_imgs, sizes[-1], settings)
    model = backbone if backbone is not None else resolve_backbone(settings)
    model.check_layers([settings.content_layer, *settings.style_layers])
    run = _Run(settings, model, pick_device(settings.device), content_img, style_imgs, blend)
    run.start_image = decode_image(init_image) if init_image is not None else None
    try:
        yield from run.events(sizes)
    finally:
        run.release()


class _Run:
    """State of one stylization; `events()` is the loop. Split from `stylize_iter` to keep each part short."""

    def __init__(self, settings: Settings, model: VGGFeatures, device: torch.device, content: Image.Image,
                 styles: list[Image.Image], blend: list[float]) -> None:
        self.s = settings
        self.device = device
        self.device_name = describe_device(device)
        if device.type == "cpu":
            cpu_memory.keep_freed_memory()  # steps reuse freed activations instead of page-faulting them in
        self.extract = FeatureExtractor(model, device, settings.precision)
        self.style_loss = make_style_loss(settings.style_loss)
        self.content_img = content
        self.style_imgs = styles
        self.blend = blend
        layer_weights = settings.style_layer_weights or [1.0] * len(settings.style_layers)
        total = sum(layer_weights)
        self.layer_weights = {name: w / total for name, w in zip(settings.style_layers, layer_weights)}
        self.wanted = frozenset([settings.content_layer, *settings.style_layers])
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.targets: Targets | None = None
        self.tensors: dict[str, Any] = {}
        self.divergences = 0
        self.start_image: Image.Image | None = None  # stylize_iter's init_image

    def prepare_scale(self, size: tuple[int, int]) -> Targets:
        self.targets = prepare_targets(self.content_img, self.style_imgs, self.blend, size, self.s, self.extract,
                                       self.style_loss)
        return self.targets

    def initial_image(self, targets: Targets) -> torch.Tensor:
        if self.start_image is not None:
            height, width = targets.content.shape[-2:]
            start = to_tensor(resize_to(self.start_image, (width, height))).to(self.device)
            # In luminance mode the optimised image is grey (targets.content): start from the image's brightness.
            return color.luminance(start) if self.s.preserve_color == "luminance" else start
        if self.s.init == "content":
            return targets.content.clone()
        shape = targets.content.shape
        if self.s.init == "noise":
            return torch.rand(shape, generator=self.generator).to(self.device)
        # Noise with the (first) painting's colour mean and covariance.
        pixels = targets.styles[0][0].reshape(3, -1).double().cpu()
        mean = pixels.mean(1, keepdim=True)
        cov = torch.cov(pixels) + 1e-5 * torch.eye(3, dtype=torch.float64)
        noise = torch.randn((3, shape[2] * shape[3]), generator=self.generator, dtype=torch.float64)
        image = (torch.linalg.cholesky(cov) @ noise + mean).reshape(shape).float()
        return image.clamp(0, 1).to(self.device)

    # --- the objective -------------------------------------------------------------------------------

    def objective(self, image: torch.Tensor) -> torch.Tensor:
        """[total, content, style, tv, style per layer...] as one fp32 tensor (one host sync to read)."""
        feats = self.extract(image, self.wanted)
        s, targets = self.s, self.targets
        c = content_loss(feats[s.content_layer], targets.content_features) * s.content_weight
        per_layer = [self.style_loss(feats[name], targets.style[name]) * (s.style_weight * w)
                     for name, w in self.layer_weights.items()]
        style = torch.stack(per_layer).sum()
        tv = total_variation(image) * s.tv_weight if s.tv_weight else torch.zeros((), device=image.device)
        return torch.stack([c + style + tv, c, style, tv, *per_layer])

    def make_optimizer(self, image: torch.Tensor) -> torch.optim.Optimizer:
        """A fresh optimiser; each divergence so far halves its step size so a restart cannot cycle."""
        damping = 0.5 ** self.divergences
        if self.s.optimizer == "adam":
            return torch.optim.Adam([image], lr=self.s.learning_rate * damping)
        # No early exits (tolerances 0): the guard in `optimise_scale` decides when progress has stopped.
        return torch.optim.LBFGS([image], lr=damping, max_iter=1, history_size=LBFGS_HISTORY,
                                 tolerance_grad=0.0, tolerance_change=0.0)

    def limit_step(self, optimizer: torch.optim.Optimizer, x: torch.Tensor, before: torch.Tensor) -> None:
        """Keep the step just taken inside the trust region.

        L-BFGS's second step is scaled by curvature measured over its tiny first step and can be
        enormous (loss x1e11 seen at style weight 1e5); it then wastes steps recovering, or yields NaN in
        bf16. Shrinking the step, and L-BFGS's record of it (state["t"]), keeps its curvature pairs true.
        Adam's pixels are simply kept in range.
        """
        with torch.no_grad():
            if self.s.optimizer == "adam":
                x.clamp_(0, 1)
                return
            biggest = (x - before).abs().max().item()
            if biggest > MAX_PIXEL_STEP:
                factor = MAX_PIXEL_STEP / biggest
                x.copy_(before + (x - before) * factor)
                optimizer.state[x]["t"] = optimizer.state[x]["t"] * factor

    # --- the loop ------------------------------------------------------------------------------------

    def display(self, image: torch.Tensor) -> Image.Image:
        with torch.no_grad():
            if self.s.preserve_color == "luminance":
                image = color.recombine_luminance(image.clamp(0, 1), self.targets.content_rgb)
            return to_pil(image)

    def events(self, sizes: list[tuple[int, int]]) -> Iterator[Progress]:
        shares = split_iterations(self.s.iterations, len(sizes))
        self.clock = _Clock(sizes, shares)
        step = 0
        image: torch.Tensor | None = None
        for scale, (size, steps) in enumerate(zip(sizes, shares), start=1):
            try:
                targets = self.prepare_scale(size)
                if image is None:
                    image = self.initial_image(targets)
                else:
                    image = F.interpolate(image, size=(size[1], size[0]), mode="bicubic",
                                          align_corners=False).clamp(0, 1)
                image, last, stopped = yield from self.optimise_scale(image, steps, step, scale, sizes)
            except torch.OutOfMemoryError:
                oom_size = max(size)
            else:
                step = last.step
                if stopped or scale == len(sizes):
                    yield self.final(last, image, stopped)
                    return
                continue
            # Out of the except block, so the error's traceback (holding tensors) is gone before freeing.
            self.release()
            raise OutOfMemory(f"The {self.device.type} ran out of memory at {oom_size} px; choose a smaller size.")

    def final(self, last: Progress, image: torch.Tensor, stopped: str | None) -> Progress:
        picture = self.display(image)
        recipe = make_recipe(self.s, self.content_img, self.style_imgs, picture.size)
        if self.start_image is not None:  # settings.init did not apply
            recipe["init_image_size"] = list(self.start_image.size)
        return replace(last, preview=picture, done=True, message=stopped or last.message, eta=0.0,
                       recipe=MappingProxyType(recipe))

    def optimise_scale(self, image: torch.Tensor, steps: int, step: int, scale: int, sizes: list[tuple[int, int]]
                       ) -> Generator[Progress, None, tuple[torch.Tensor, Progress, str | None]]:
        """Optimise one scale, yielding a Progress per step except the run's last, which it returns
        (with the best image, and why the run stopped early if it did) so the caller can attach the image."""
        s = self.s
        x = image.detach().clone().contiguous().requires_grad_(True)
        self.tensors["x"] = x
        optimizer = self.make_optimizer(x)
        best_loss, best = math.inf, x.detach().clone()
        self.tensors["best"] = best
        previous, frozen, failures = None, 0, 0
        terms = torch.zeros(())
        names = list(self.layer_weights)
        height, width = x.shape[-2:]

        def closure() -> torch.Tensor:
            nonlocal terms
            optimizer.zero_grad(set_to_none=True)
            with torch.enable_grad():
                values = self.objective(x)
                values[0].backward()
            terms = values.detach()
            return values[0]

        for _ in range(steps):
            evaluated = x.detach().clone()  # the point whose loss this step measures
            optimizer.step(closure)
            self.limit_step(optimizer, x, evaluated)
            values = terms.tolist()  # the step's only host sync
            step += 1
            loss = values[0]
            message = None
            if not math.isfinite(loss) or loss > BLOWUP * best_loss:
                what = "a non-finite loss" if not math.isfinite(loss) else "a diverging loss"
                self.divergences += 1
                failures += 1
                message = f"Step {step}: {what}; rolled back to the last good image and restarted the optimiser."
            else:
                failures = 0
                if loss < best_loss:
                    best_loss = loss
                    best.copy_(evaluated)
                frozen = frozen + 1 if previous is not None and abs(loss - previous) <= 1e-9 * abs(loss) else 0
                previous = loss
                if frozen >= STALL_STEPS:
                    message = f"Step {step}: the loss stopped changing; restarted the optimiser from the best image."
            if message:
                log.warning(message)
                x.data.copy_(best)
                optimizer = self.make_optimizer(x)
                previous, frozen = None, 0
            elapsed, eta = self.clock.tick(scale)
            stopped = None
            if s.max_seconds and elapsed >= s.max_seconds:
                stopped = f"Stopped at the {s.max_seconds:g} s time limit after {step} steps."
            elif failures >= MAX_FAILURES:
                stopped = (f"Stopped after {step} steps: the loss stays non-finite even after rolling back; "
                           "lower the weights or use fp32.")
            last_of_run = stopped is not None or step == s.iterations
            # Step 1 too: on a slow CPU the first picture should come in seconds, not after N steps.
            wants_preview = step % s.preview_every == 0 or step == 1
            event = Progress(
                step=step, total=s.iterations,
                loss=_finite(values[0]), content_loss=_finite(values[1]), style_loss=_finite(values[2]),
                tv_loss=_finite(values[3]),
                style_layer_losses=MappingProxyType({n: _finite(v) for n, v in zip(names, values[4:])}),
                elapsed=elapsed, rate=step / elapsed if elapsed > 0 else 0.0, eta=eta,
                size=(width, height), output_size=sizes[-1], scale=scale, scales=len(sizes), device=self.device_name,
                preview=self.display(x) if wants_preview and not last_of_run else None,
                message=message)
            if last_of_run:
                break
            yield event
        # The best evaluated point; the step just taken is unevaluated, so it is only used if nothing was.
        result = best if math.isfinite(best_loss) else x.detach()
        return result.clone(), event, stopped

    def release(self) -> None:
        self.targets = None
        self.tensors.clear()
        if self.device.type == "cpu":
            cpu_memory.release_freed_memory()
        if self.device.type == "cuda":
            gc.collect()
            with contextlib.suppress(RuntimeError):
                torch.cuda.empty_cache()


class _Clock:
    """Elapsed time and the ETA of a run, counting work as pixels × steps per scale."""

    def __init__(self, sizes: list[tuple[int, int]], shares: list[int]) -> None:
        self.start = time.perf_counter()
        self.pixels = [w * h for w, h in sizes]
        self.total = sum(p * n for p, n in zip(self.pixels, shares))
        self.done = 0.0

    def tick(self, scale: int) -> tuple[float, float]:
        """One step at `scale` (1-based) is done: (elapsed, eta) in seconds."""
        self.done += self.pixels[scale - 1]
        elapsed = time.perf_counter() - self.start
        return elapsed, eta_seconds(elapsed, self.done, self.total)


def _finite(value: float) -> float:
    """Events carry finite floats only (JSON and charts choke on NaN); non-finite reads as infinity."""
    return value if math.isfinite(value) else float("inf")
