"""The optimisation loop: a generator of progress events, and a run-to-completion wrapper.

`stylize_iter` is the one entry point of every front end (CLI, studio, benchmarks, teaching views). It
yields one small immutable `Progress` per optimiser step (an L-BFGS function evaluation is a step), with a
preview image every `preview_every` steps and on the last, which also carries the recipe. Closing the
generator is the cancel signal; its `finally` frees the run's memory. The engine never prints and never
imports a UI.

Where this departs from the textbook loop, and why:
- Every loss term is relative to its target (see losses.py), so weights mean the same on every backbone
  and size, and L-BFGS sees a well-scaled problem instead of raw sums in the 1e10 range.
- L-BFGS runs one function evaluation per `step()` without line search, guarded (guard.py): a non-finite or
  exploding loss, or a loss frozen for several steps, rolls back to the best image so far and restarts
  the optimiser's memory.
- Coarse to fine (schedule.py): the run starts at a fraction of the size and enlarges its result, so big
  outputs keep the large-scale structure a small one has, and early steps are cheap.
- The image shown and returned can be an average of the recent steps (averaging.py), and scales bigger
  than the tile size are computed in tiles (tiling.py), so memory stays bounded.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from . import color, cpu_memory
from .averaging import IterateAverage
from .backbones import SOURCES, VGGFeatures, load_backbone
from .config import Settings
from .errors import ImageError, OutOfMemory, SettingsError
from .features import FeatureExtractor, describe_device, pick_device
from .guard import GuardedOptimiser
from .images import ImageSource, decode_image, resize_to, to_pil, to_tensor
from .losses import make_style_loss
from .objective import Held, Objective, ScaleContext, build_objective, group_totals
from .regions import Region, RegionPlan, check_shape
from .schedule import MAX_SIDE, Clock, plan_scales, split_iterations
from .steering import STRENGTH, Steering, split
from .step_graph import GraphedSteps, cuda_capture
from .targets import Targets, prepare_targets, style_size
from .tiling import Tiler


@dataclass(frozen=True)
class Progress:
    """One optimiser step. `terms` are the objective's weighted terms by name ("content", "style:relu1_1", ...,
    "tv"; see objective.py) and `loss` their sum; a value that is not finite is None (JSON has no NaN)."""

    step: int
    total: int
    loss: float | None
    terms: Mapping[str, float | None]
    elapsed: float
    rate: float  # steps per second so far
    eta: float  # seconds still to go, from the work left at each scale (a coarse step costs a fraction)
    size: tuple[int, int]  # (width, height) being optimised at this step
    output_size: tuple[int, int]  # (width, height) of the final image
    scale: int  # 1-based index of the coarse-to-fine scale
    scales: int
    device: str
    tiles: int = 1  # how many tiles this scale is computed in (1: the whole image at once)
    preview: Image.Image | None = None
    done: bool = False
    message: str | None = None
    recipe: Mapping[str, Any] | None = None  # on the last event: everything needed to make the image again
    steered: Mapping[str, float] | None = None  # weights changed before this step (steering.Steering)

    @property
    def groups(self) -> dict[str, float | None]:
        """The terms summed by group: {"content": ..., "style": ..., "tv": ...}."""
        return group_totals(self.terms)


# L-BFGS's curvature pairs were measured on the objective before a change of weights: measured by bench.steering,
# restarting it (the image kept) converges better than going on with them.
RESTART_ON_STEER = True
CUDA_GRAPHS = True  # one graph of the whole step per scale on a GPU (step_graph.py); benches turn it off to compare
GPU_READ_EVERY = 8  # steps read back at once on a GPU: at ~2 ms a step, the loss chart still moves 60 times a second


def stylize(content: ImageSource, styles: Sequence[ImageSource] | ImageSource, settings: Settings | None = None,
            *, backbone: VGGFeatures | None = None, init_image: ImageSource | None = None,
            regions: RegionPlan | None = None, steering: Steering | None = None,
            held: Held | None = None) -> Image.Image:
    """Run to the end and return the final image."""
    final = None
    for event in stylize_iter(content, styles, settings, backbone=backbone, init_image=init_image, regions=regions,
                              steering=steering, held=held):
        final = event
    assert final is not None and final.done and final.preview is not None
    return final.preview


def check_paintings(styles: list[Image.Image], output: tuple[int, int], settings: Settings) -> None:
    """Refuse, before any work, a painting too thin to be used at the output's size."""
    for painting in styles:
        if max(style_size(painting.size, max(output), settings)) > MAX_SIDE:
            raise ImageError(
                f"The painting is {painting.size[0]}×{painting.size[1]} pixels, too thin to take a style from: "
                f"its short side would be under the {settings.deepest_layer_side()} px the deepest layer needs, "
                "so crop it.")


def resolve_backbone(settings: Settings) -> VGGFeatures:
    return load_backbone(settings.weights, convention=settings.weights_convention, pooling=settings.pooling)


def weights_label(settings: Settings) -> str:
    """What a recipe records about the weights: a source name, or a local file's name (never its path)."""
    if settings.weights in SOURCES:
        return settings.weights
    return "file:" + settings.weights.replace("\\", "/").rsplit("/", 1)[-1]


def make_recipe(settings: Settings, content: Image.Image, styles: Sequence[Image.Image],
                output_size: tuple[int, int], regions: RegionPlan | None = None) -> dict[str, Any]:
    """Everything needed to reproduce a result, for the output PNG's metadata."""
    from . import __version__

    values = settings.to_dict()
    values["weights"] = weights_label(settings)
    recipe = {
        "generator": f"nst-studio {__version__}",
        "settings": values,
        "content_size": list(content.size),
        "style_sizes": [list(s.size) for s in styles],
        "output_size": list(output_size),
    }
    if regions is not None:
        recipe["regions"] = regions.to_recipe()
    return recipe


def stylize_iter(content: ImageSource, styles: Sequence[ImageSource] | ImageSource,
                 settings: Settings | None = None, *, backbone: VGGFeatures | None = None,
                 init_image: ImageSource | None = None, regions: RegionPlan | None = None,
                 steering: Steering | None = None, held: Held | None = None) -> Iterator[Progress]:
    """Yield a Progress per optimiser step; the last one has done=True, the final image and the recipe.

    `content` and `styles` are files, bytes or decoded PIL images; `init_image` (one too, e.g. a fast network's
    result to refine) replaces `settings.init` as the start. `regions` (regions.make_plan) paints each region of
    the photo from its own paintings, indices into `styles`, or keeps the photo there. `steering` changes weights
    during the run, live or from a recipe's schedule (steering.py). `held` holds the pixels to a picture where its
    mask says (a clip's last painted frame, moved along the motion: video.py). Every check (settings against the
    backbone, image shapes, the device) happens before the first step, so a front end hears of a mistake at once.
    """
    run, sizes = prepare_run(content, styles, settings, backbone=backbone, init_image=init_image, regions=regions,
                             steering=steering, held=held)
    try:
        yield from run.events(sizes)
    finally:
        run.release()


def prepare_run(content: ImageSource, styles: Sequence[ImageSource] | ImageSource, settings: Settings | None = None,
                *, backbone: VGGFeatures | None = None, init_image: ImageSource | None = None,
                regions: RegionPlan | None = None, steering: Steering | None = None, held: Held | None = None
                ) -> tuple[_Run, list[tuple[int, int]]]:
    """A run checked and set up (stylize_iter's arguments), and the sizes of its scales; nothing computed yet."""
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
    if regions is not None:
        regions.check_paintings(len(style_imgs))
        check_shape(regions.map_image.size, content_img.size)
    sizes = plan_scales(content_img.size, settings)
    check_paintings(style_imgs, sizes[-1], settings)
    model = backbone if backbone is not None else resolve_backbone(settings)
    model.check_layers([settings.content_layer, *settings.style_layers])
    run = _Run(settings, model, pick_device(settings.device), content_img, style_imgs, blend)
    run.start_image = decode_image(init_image) if init_image is not None else None
    run.plan = regions
    run.steering = steering
    run.held = held
    return run, sizes


class _Run:
    """State of one stylization; `events()` is the loop. Split from `stylize_iter` to keep each part short."""

    def __init__(self, settings: Settings, model: VGGFeatures, device: torch.device, content: Image.Image,
                 styles: list[Image.Image], blend: list[float]) -> None:
        self.s = settings
        self.device = device
        self.device_name = describe_device(device)
        if device.type == "cpu":
            cpu_memory.keep_freed_memory()  # steps reuse freed activations instead of page-faulting them in
        self.extract = FeatureExtractor(model, device, settings.precision, border=settings.border)
        self.style_loss = make_style_loss(settings.style_loss)
        self.content_img = content
        self.style_imgs = styles
        self.blend = blend
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.targets: Targets | None = None
        self.objective: Objective | None = None
        self.tiler: Tiler | None = None
        self.tensors: dict[str, Any] = {}
        self.divergences = 0
        self.start_image: Image.Image | None = None  # stylize_iter's init_image
        self.plan: RegionPlan | None = None  # stylize_iter's regions
        self.steering: Steering | None = None  # stylize_iter's steering
        self.held: Held | None = None  # stylize_iter's held picture
        self.asked = settings  # the settings the run was started with (self.s follows the steering)
        self.strengths: dict[str, float] = {}  # regions' strengths steered so far, by "#rrggbb"
        self.finer = 0
        # Driven step by step with other runs (together.py): the loop pauses (yields None) before each step.
        self.lockstep = False

    def prepare_scale(self, size: tuple[int, int], finer: int = 0) -> Targets:
        """Targets, tiles and the objective for the scale `finer` scales above the coarsest."""
        width, height = size
        self.finer = finer
        big = max(size) > self.s.tile_size
        self.tiler = Tiler(height, width, self.s.tile_size, device=self.device) if big else None
        self.targets = prepare_targets(self.content_img, self.style_imgs, self.blend, size, self.s, self.extract,
                                       self.style_loss, tiler=self.tiler, plan=self.plan)
        self.objective = build_objective(self.context())
        return self.targets

    def context(self) -> ScaleContext:
        """What the objective's terms are built from at the current scale."""
        held = None
        if self.held is not None:
            height, width = self.targets.content.shape[-2:]
            held = self.held.at_size(height, width).to(self.device)
        return ScaleContext(self.s, self.targets, self.style_loss, self.finer, self.regions(), held)

    def regions(self) -> tuple[Region, ...]:
        """The plan's regions with the strengths steered so far (the recipe keeps the plan as asked)."""
        if self.plan is None:
            return ()
        return self.plan.with_strengths(self.strengths).regions if self.strengths else self.plan.regions

    def initial_image(self, targets: Targets) -> torch.Tensor:
        start = self.plain_start(targets)
        if self.plan is None or self.start_image is not None:
            return start
        # Each region starts as it would alone: the photo where it is kept, recoloured to its own painting.
        parts = [targets.content if region.keeps_photo
                 else color.match_color(targets.content, targets.styles[region.paintings[0]])
                 if self.s.init == "recolored" and self.s.preserve_color == "none" else start
                 for region in self.plan.regions]
        return sum(mask * part for mask, part in zip(targets.masks, parts))

    def plain_start(self, targets: Targets) -> torch.Tensor:
        """The start `init_image` or `settings.init` asks for, over the whole picture."""
        if self.start_image is not None:
            height, width = targets.content.shape[-2:]
            start = to_tensor(resize_to(self.start_image, (width, height))).to(self.device)
            # In luminance mode the optimised image is grey (targets.content): start from the image's brightness.
            return color.luminance(start) if self.s.preserve_color == "luminance" else start
        if self.s.init == "content" or (self.s.init == "recolored" and self.s.preserve_color != "none"):
            return targets.content.clone()  # (keeping the photo's colours, there is nothing to recolour)
        if self.s.init == "recolored":
            return color.match_color(targets.content, targets.styles[0])
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

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """[total, each term...] at x (detached), with their gradient in x.grad: at once, or tile by tile."""
        if x.grad is not None:
            x.grad.zero_()  # in place: a CUDA graph of the step keeps the gradient's address
        if self.tiler is not None:
            return self.objective.tiled(x, self.tiler, self.extract)
        values = self.objective(x, self.extract)
        values[0].backward()
        return values.detach()

    # --- the loop ------------------------------------------------------------------------------------

    def display(self, image: torch.Tensor) -> Image.Image:
        with torch.no_grad():
            if self.s.preserve_color == "luminance":
                image = color.recombine_luminance(image.clamp(0, 1), self.targets.content_rgb)
            return to_pil(image)

    def events(self, sizes: list[tuple[int, int]]) -> Iterator[Progress | None]:
        """The run's events; None between them where the run is in lockstep (`self.lockstep`)."""
        shares = split_iterations(self.s.iterations, len(sizes), self.s.scale_step_ratio)
        self.clock = Clock(sizes, shares)
        step = 0
        image: torch.Tensor | None = None
        for scale, (size, steps) in enumerate(zip(sizes, shares), start=1):
            try:
                targets = self.prepare_scale(size, finer=scale - 1)
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
        recipe = make_recipe(self.asked, self.content_img, self.style_imgs, picture.size, self.plan)
        if self.steering is not None and self.steering.applied:
            recipe["schedule"] = list(self.steering.applied)
        if self.start_image is not None:  # settings.init did not apply
            recipe["init_image_size"] = list(self.start_image.size)
        return replace(last, preview=picture, done=True, message=stopped or last.message, eta=0.0,
                       recipe=MappingProxyType(recipe))

    def optimise_scale(self, image: torch.Tensor, steps: int, step: int, scale: int, sizes: list[tuple[int, int]]
                       ) -> Generator[Progress | None, None, tuple[torch.Tensor, Progress, str | None]]:
        """Optimise one scale, yielding a Progress per step except the run's last, which it returns
        (with the image to keep, and why the run stopped early if it did) so the caller can attach the image.

        Steps are queued ahead of their events: a step's values are read back with the next few (every step on
        a CPU; guard.py), so its event comes when they are. A preview's step and the scale's last are read at
        once, so a preview shows its own step's image."""
        s = self.s
        x = image.detach().clone().contiguous().requires_grad_(True)
        guard = GuardedOptimiser(x, s.optimizer, s.learning_rate, self.divergences, read_every(self.device), steps)
        average = IterateAverage(x, s.average_decay) if s.average_decay else None
        self.tensors.update(x=x, guard=guard, average=average)
        capture = step_capture(self.device)
        # Tiles loop on the host and regions pick positions on it: those scales run eagerly.
        graphed = GraphedSteps(guard, lambda: self.evaluate(x), lambda: id(self.objective), capture) \
            if capture is not None and self.tiler is None and self.plan is None and s.optimizer == "lbfgs" \
            and not self.lockstep else None
        self.tensors["graphed"] = graphed  # its graph holds a memory pool: released with the run
        names: dict[int, tuple[str, ...]] = {}  # each queued step's term names (steering may change them)
        steered: dict[int, dict[str, float]] = {}
        last, stopped, event = step + steps, None, None
        while step < last and stopped is None:
            step += 1
            if changes := self.steer(step, guard):
                steered[step] = changes
            names[step] = self.objective.names
            if self.lockstep:
                yield None  # poised to evaluate step `step`: together.py evaluates a batch of runs here
            if graphed is not None:
                graphed.step(step)
            else:
                guard.step(lambda: self.evaluate(x), step)
            if average is not None:
                average.update(guard.sound_image())
            if s.max_seconds and self.clock.elapsed() >= s.max_seconds:
                stopped = f"Stopped at the {s.max_seconds:g} s time limit after {step} steps."
            read = guard.judged(flush=step == last or stopped is not None or self.wants_preview(step))
            for number, values, message in read:
                self.divergences = guard.divergences
                if guard.gave_up and stopped is None:
                    stopped = (f"Stopped after {number} steps: the loss stays non-finite even after rolling back; "
                               "lower the weights or use fp32.")
                run_over = stopped is not None or step == s.iterations
                shown = average.get() if average is not None else x
                event = self.progress(number, values, names.pop(number), scale, sizes, message=message,
                                      steered=steered.pop(number, None),
                                      preview=self.display(shown) if self.wants_preview(number) and not run_over
                                      else None)
                # A read takes every step queued, so the run's last event is the last of the read that ends it.
                if not (run_over and number == read[-1][0]):
                    yield event
        # The average of the steps when averaging (a rolled-back run gave up: its best image instead), else
        # the best evaluated point.
        keep = average.get() if average is not None and not guard.gave_up else guard.result()
        return keep.clone(), event, stopped

    def wants_preview(self, step: int) -> bool:
        # Step 1 too: on a slow CPU the first picture should come in seconds, not after N steps.
        return step % self.s.preview_every == 0 or step == 1

    def progress(self, step: int, values: list[float], names: Sequence[str], scale: int,
                 sizes: list[tuple[int, int]], *, message: str | None, steered: dict[str, float] | None,
                 preview: Image.Image | None) -> Progress:
        """The event of a step whose values have been read."""
        elapsed, eta = self.clock.tick(scale)
        height, width = self.tensors["x"].shape[-2:]
        return Progress(
            step=step, total=self.s.iterations, loss=_json_number(values[0]),
            terms=MappingProxyType({n: _json_number(v) for n, v in zip(names, values[1:])}),
            elapsed=elapsed, rate=step / elapsed if elapsed > 0 else 0.0, eta=eta,
            size=(width, height), output_size=sizes[-1], scale=scale, scales=len(sizes), device=self.device_name,
            tiles=len(self.tiler.tiles) if self.tiler else 1, preview=preview, message=message,
            steered=MappingProxyType(steered) if steered else None)

    def steer(self, step: int, guard: GuardedOptimiser) -> dict[str, float]:
        """Apply the weights steering has for `step`: the objective rebuilt with them, the same image; recorded."""
        weights, strengths = split(self.steering.due(step) if self.steering is not None else {})
        weights = {name: value for name, value in weights.items() if getattr(self.s, name) != value}
        now = {region.label: region.strength for region in self.regions()}
        strengths = {label: value for label, value in strengths.items() if label in now and now[label] != value}
        changes = {**weights, **{STRENGTH + label: value for label, value in strengths.items()}}
        if not changes:
            return changes
        self.s = replace(self.s, **weights)
        self.strengths.update(strengths)
        self.objective = build_objective(self.context())
        self.steering.record(step, changes)
        guard.objective_changed(restart=RESTART_ON_STEER)
        return changes

    def release(self) -> None:
        self.targets = self.objective = None  # the objective's terms hold the targets too
        self.tensors.clear()
        if self.device.type == "cpu":
            cpu_memory.release_freed_memory()
        if self.device.type == "cuda":
            gc.collect()
            with contextlib.suppress(RuntimeError):
                torch.cuda.empty_cache()


def step_capture(device: torch.device) -> Callable | None:
    """How a scale's step is captured as a graph on this device (step_graph.py), or None to run it eagerly."""
    return cuda_capture if CUDA_GRAPHS and device.type == "cuda" else None


def read_every(device: torch.device) -> int:
    """Steps whose values are read back together: on a GPU each read makes the host wait for the device, so
    a few at a time (a divergence is then caught that many steps late); on a CPU there is nothing to wait for."""
    return GPU_READ_EVERY if device.type == "cuda" else 1


def _json_number(value: float) -> float | None:
    """The value, or None where it is not finite: events must turn into JSON, which has no NaN or infinity
    (json.dumps writes tokens that JSON parsers reject), and None is JSON's null, "no value"."""
    return value if math.isfinite(value) else None
