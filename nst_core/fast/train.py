"""Training a fast network, as a generator of progress events (like the engine's loop).

One network may learn several paintings at once (conditional instance normalisation, see model.py): step N
trains style N mod the number of styles, its scales and shifts and the shared convolutions. A trained
network can also learn one more painting afterwards (`base`): then only the new style's scales and shifts
move, every convolution stays as it was (Dumoulin et al. 2017's fine-tuning of a new style).

Two teachers:
- `perceptual` (Johnson et al. 2016): the engine's own content and style losses (nst_core.losses through
  nst_core.features) on the network's output, against the photo and a style target of the painting.
- `distil`: the optimisation engine stylizes every training photo once (nst_core.engine.stylize, cached on
  disk by content), and the network learns to reproduce those pictures (pixel regression), so it imitates
  the slow method directly. The teacher's cost is all up front; each training step is then cheap.

`train_iter` yields a `TrainProgress` per step: the losses, and every `sample_every` steps (and on the last)
the network's output on a held-out photo and, when the smoothed loss is the lowest so far, a copy of the
network (`best`), so a front end that stops early keeps the best one. A checkpoint every `checkpoint_every`
steps holds everything needed to resume exactly (the random crops of step N depend only on the seed and N).
Closing the generator stops training. Nothing here prints or knows a front end. The distil teacher
trains one style at a time (its targets are one picture per photo).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from .. import __version__
from ..backbones import VGGFeatures, load_backbone
from ..config import STYLE_LOSSES, Settings, check_field, default_weights, setting
from ..engine import stylize, weights_label
from ..errors import SettingsError
from ..features import FeatureExtractor, describe_device, pick_device
from ..images import fitted_size, resize_to, to_pil, to_tensor
from ..losses import content_loss, make_style_loss, total_variation
from ..names import LAYER_CHOICES
from .data import PhotoSet
from .model import WIDTHS, FastModel, StyleEntry, TransformerNet, blend_weights, format_one_names, style_digest

TEACHERS = ("perceptual", "distil")
CHECKPOINT_FORMAT = "nst-fast-checkpoint-1"
EMA_DECAY = 0.9  # smoothing of the noisy per-batch loss, for choosing the best network
SAMPLE_SIDE = 256  # the held-out photo is shown at this size
# Learning a new style into a trained network (`base`): only a few hundred scales and shifts move, so a larger step
# than a whole network's. On the gallery network, 3 minutes of cubist_facets on one loaded core came to 5.3x the
# slow engine's style distance at 2e-3, 3.3x at 1e-2, 2.9x at 3e-2 and 2.6x at 1e-1, the last darkening the photo
# to a sepia silhouette (docs/fast-paint.md).
ADAPT_SETTINGS = {"learning_rate": 0.03}
# A new style learnt into a trained network is measured by the base's own losses unless told otherwise: its
# convolutions were trained to serve them (the gallery's network: sliced-Wasserstein at weight 150, not the Gram
# loss at 15 that a fresh training starts with).
INHERITED_LOSSES = ("content_layer", "content_weight", "style_layers", "style_loss", "style_size", "style_weight",
                    "tv_weight")
MAX_STEPS = 1_000_000  # the most steps a run may ask for: in effect "until the time limit"
# What may differ between a checkpoint and the run that resumes it: how long and how often, not what.
RESUMABLE_CHANGES = {"steps", "sample_every", "checkpoint_every", "max_seconds", "device"}


@dataclass(frozen=True)
class TrainSettings:
    """Every knob of a training run; creating one validates it (the CLI builds its flags from these)."""

    teacher: str = setting("perceptual", "perceptual: the engine's content and style losses on the network's "
                           "output (Johnson et al.); distil: the engine stylizes each photo first, the network "
                           "learns to reproduce those pictures.", choices=TEACHERS)
    width: str = setting("slim", "Network width: slim runs in real time on a CPU, full is Johnson's original.",
                         choices=tuple(WIDTHS))
    steps: int = setting(1000, "Training steps (batches).", low=1, high=MAX_STEPS)
    batch: int = setting(2, "Crops per step (Johnson et al.: 4).", low=1, high=64)
    crop: int = setting(128, "Side of the square training crops in pixels (128-192 trains quickly on a CPU; "
                        "Johnson et al.: 256).", low=32, high=1024)
    learning_rate: float = setting(2e-3, "Adam's step size.", low=1e-6, high=1.0)
    content_weight: float = setting(1.0, "perceptual: how strongly the output keeps the photo's shapes.",
                                    low=0.0, high=1e6)
    # 15, not 3: at 3 the networks learnt a tint (3.8x the slow engine's style distance on unseen photos); at 15
    # strokes and dabs (2.4x at 700 steps, 1.9x at 2000), the subject kept; at 50 the subject went (fast-paint.md).
    style_weight: float = setting(15.0, "perceptual: how strongly the output copies the painting's textures.",
                                  low=0.0, high=1e9)
    tv_weight: float = setting(0.0, "perceptual: total-variation smoothing against speckle.", low=0.0, high=1e6)
    content_layer: str = setting("relu2_2", "perceptual: the VGG layer that describes the photo's content.",
                                 choices=LAYER_CHOICES)
    style_layers: tuple[str, ...] = setting(("relu1_2", "relu2_2", "relu3_3"),
                                            "perceptual: the VGG layers whose statistics describe the style.",
                                            choices=LAYER_CHOICES)
    style_loss: str = setting("gram", "perceptual: how the painting's style is measured (as the engine).",
                              choices=lambda: STYLE_LOSSES)
    style_size: int = setting(256, "The painting is used at this longest side: brush strokes come out at the "
                              "size they have in a painting this large.", low=32, high=2048)
    distil_size: int = setting(256, "distil: the photos' short side when the engine stylizes them.",
                               low=32, high=2048)
    distil_iterations: int = setting(150, "distil: the engine's steps per photo.", low=1, high=5000)
    seed: int = setting(0, "Seed of the network's start and of the crops: the same seed trains the same network.",
                        low=0, high=2**31 - 1)
    sample_every: int = setting(100, "Show the network's output on the held-out photo every N steps.",
                                low=1, high=MAX_STEPS)
    checkpoint_every: int = setting(100, "Write a checkpoint every N steps (to resume after a stop).",
                                    low=1, high=MAX_STEPS)
    weights: str = setting(default_weights, "The VGG weights of the teacher (as the engine's --weights).")
    device: str = setting("auto", "Where to compute: auto, cpu, cuda or mps.", choices=("auto", "cpu", "cuda", "mps"))
    precision: str = setting("auto", "The teacher's VGG arithmetic: bf16 is fast on CUDA and on CPUs with "
                             "bf16 instructions, 10x slower where emulated (auto: bf16 on CUDA only).",
                             choices=("auto", "fp32", "bf16"))
    max_seconds: float = setting(0.0, "Wall-clock limit in seconds (0 = none); training then ends with the "
                                 "best network so far.", low=0.0, high=1e7)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, check_field(f, getattr(self, f.name)))
        if not self.style_layers:
            raise SettingsError("style_layers must name at least one layer.")

    def to_dict(self) -> dict[str, Any]:
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        values["weights"] = weights_label(self)  # a file's name, never its path
        return values

    def engine_settings(self, longest: int) -> Settings:
        """The engine's settings for distillation targets (its defaults, this run's weights and device)."""
        return Settings(size=longest, iterations=self.distil_iterations, weights=self.weights, device=self.device,
                        precision=self.precision)


@dataclass(frozen=True)
class TrainProgress:
    """One training step. `terms` are the weighted loss terms (content, style, tv; or pixel for distil)."""

    step: int
    total: int
    loss: float
    terms: Mapping[str, float]
    elapsed: float  # seconds of training, including earlier runs resumed from a checkpoint
    rate: float  # steps per second in this run
    eta: float
    sample: Image.Image | None = None  # the network's output on the held-out photo
    best: FastModel | None = None  # a copy of the best network so far, when it changed; on the last step always
    done: bool = False
    message: str | None = None


def distil_targets(photos: PhotoSet, painting: Image.Image, settings: TrainSettings, cache: Path, *,
                   backbone: VGGFeatures | None = None) -> Iterator[tuple[int, Image.Image]]:
    """(index, target) for each photo: the engine's result, from `cache` when it was made before.

    A target's file name is a hash of the photo, the painting and the engine settings, so a cached picture is
    only reused for exactly the same teacher."""
    cache.mkdir(parents=True, exist_ok=True)
    for index, pixels in enumerate(photos.pixels):
        photo = photo_from_pixels(pixels)
        engine = settings.engine_settings(max(photo.size))
        key = hashlib.sha256(pixels.numpy().tobytes() + style_digest(painting).encode()
                             + json.dumps(engine.to_dict(), sort_keys=True).encode()).hexdigest()[:32]
        path = cache / f"{key}.png"
        if path.is_file():
            yield index, Image.open(path).convert("RGB")
            continue
        target = stylize(photo, painting, engine, backbone=backbone)
        staging = path.with_suffix(".part")
        target.save(staging, format="PNG")
        staging.replace(path)
        yield index, target


Paintings = Image.Image | Mapping[str, Image.Image]  # one painting (named by `style_name`), or paintings by name


def named_paintings(painting: Paintings, style_name: str) -> list[tuple[str, Image.Image]]:
    """The paintings to learn as (name, painting) pairs, in order; one-sentence errors for what cannot be."""
    if isinstance(painting, Image.Image):
        return [(style_name, painting)]
    named = list(painting.items())
    if not named:
        raise SettingsError("Training needs at least one painting.")
    return named


def adapt_settings(base: FastModel) -> dict[str, Any]:
    """The settings a new style of `base` learns under unless told otherwise: the losses the base was trained
    with (as its record says) and adapting's own step size."""
    trained = base.meta.get("settings") or {}
    inherited = {name: tuple(value) if isinstance(value, list) else value
                 for name in INHERITED_LOSSES if (value := trained.get(name)) is not None}
    return {**inherited, **ADAPT_SETTINGS}


def check_teacher(settings: TrainSettings, paintings: int, base: FastModel | None = None) -> None:
    """Refuse, in one sentence, what the teachers cannot do (before a front end spends time on the photos)."""
    if settings.teacher == "distil" and (paintings > 1 or base is not None):
        raise SettingsError("The distil teacher learns one painting on its own; use the perceptual teacher for "
                            "several paintings or a new style of a trained network.")
    if base is not None and paintings != 1:
        raise SettingsError("A new style is learnt from one painting at a time.")


def check_start(start: FastModel, names: list[str], settings: TrainSettings) -> None:
    """Refuse, in one sentence, a model to go on from that does not hold exactly these styles at this width."""
    missing = [name for name in names if start.index(name) is None]
    if missing:
        raise SettingsError(f"{start.source or 'The model'} holds no style called {missing[0]!r}; it holds "
                            f"{', '.join(entry.name for entry in start.styles)}.")
    if start.net.width != settings.width:
        raise SettingsError(f"The model to go on from is {start.net.width}; train it with --width "
                            f"{start.net.width}.")


def train_iter(painting: Paintings, photos: PhotoSet, settings: TrainSettings, *, style_name: str = "",
               sample: Image.Image | None = None, checkpoint: Path | None = None, resume: bool = False,
               backbone: VGGFeatures | None = None, base: FastModel | None = None,
               start: FastModel | None = None) -> Iterator[TrainProgress]:
    """Yield a TrainProgress per step; the last has done=True and the best network (`best`).

    `painting` is one painting (called `style_name`) or several by name: one network learns them all. With
    `base`, one painting is learnt as a new style of a copy of that model, which keeps its styles and its
    convolutions. `photos` must carry targets for the distil teacher (PhotoSet.with_targets). With `resume`,
    training continues from `checkpoint` if it exists (made with the same settings but for `steps`). With `start`,
    a trained network of these styles (by name) goes on learning under `settings`, which may differ from its own:
    another style loss or weight; its record is kept in the new model's."""
    paintings = named_paintings(painting, style_name)
    check_teacher(settings, len(paintings), base)
    if start is not None:
        check_start(start, [name for name, _ in paintings], settings)
    if settings.teacher == "distil" and photos.targets is None:
        raise SettingsError("The distil teacher needs the engine's pictures of the photos first (distil_targets).")
    device = pick_device(settings.device)
    run = Training(painting, photos, settings, style_name, sample, device, backbone, base=base, start=start)
    if resume and checkpoint is not None and checkpoint.is_file():
        run.restore(checkpoint)
    try:
        yield from run.events(checkpoint)
    finally:
        run.release()


class Training:
    """State of one training run; `events()` is the loop."""

    def __init__(self, painting: Paintings, photos: PhotoSet, settings: TrainSettings, style_name: str,
                 sample: Image.Image | None, device: torch.device, backbone: VGGFeatures | None, *,
                 base: FastModel | None = None, start: FastModel | None = None) -> None:
        self.s, self.photos, self.device, self.base, self.start = settings, photos, device, base, start
        self.paintings = named_paintings(painting, style_name)
        if base is not None and base.net.width != settings.width:
            raise SettingsError(f"The base model is {base.net.width}; train its new style with --width "
                                f"{base.net.width}.")
        self.net = self.new_net().to(device)
        if start is not None:
            self.net.load_state_dict(started_weights(start, [name for name, _ in self.paintings]))
        # Which styles the steps train, in turn: all of them, or the new one alone.
        self.trained = [self.net.styles - 1] if base is not None else list(range(self.net.styles))
        self.optimizer = torch.optim.Adam([p for p in self.net.parameters() if p.requires_grad],
                                          lr=settings.learning_rate)
        self.step, self.elapsed_before = 0, 0.0
        self.ema: float | None = None
        self.best_ema, self.best_state = math.inf, None
        self.sample = None
        if sample is not None:
            self.sample = to_tensor(resize_to(sample, fitted_size(sample.size, SAMPLE_SIDE, min_short=16))).to(device)
        if settings.teacher == "perceptual":
            model = backbone if backbone is not None else load_backbone(settings.weights)
            model.check_layers([settings.content_layer, *settings.style_layers])
            self.extract = FeatureExtractor(model, device, settings.precision)
            self.style_loss = make_style_loss(settings.style_loss)
            self.style_targets = {style: self.painting_targets(art) for style, (_, art) in zip(self.trained,
                                                                                                 self.paintings)}

    def new_net(self) -> TransformerNet:
        """A seeded new network of the paintings' styles, or a copy of the base with one more style, started
        at the base's average style, every other parameter frozen."""
        if self.base is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.s.seed)
                return TransformerNet(self.s.width, len(self.paintings))
        net = copy.deepcopy(self.base.net).train()
        net.requires_grad_(False)
        new = net.add_style(blend_weights([1.0] * net.styles))
        for norm in net.norms().values():
            norm.scales[new].requires_grad_(True)
            norm.shifts[new].requires_grad_(True)
        return net

    def painting_targets(self, painting: Image.Image) -> dict[str, torch.Tensor]:
        s = self.s
        art = to_tensor(resize_to(painting, fitted_size(painting.size, s.style_size, min_short=16)))
        with torch.no_grad():
            found = self.extract(art.to(self.device), s.style_layers)
            return {n: self.style_loss.target([found[n].float()], [1.0]) for n in found}

    # --- the losses ---------------------------------------------------------------------------------------

    def perceptual(self, photos: torch.Tensor, style: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        s, targets = self.s, self.style_targets[style]
        out = self.net(photos, style)
        with torch.no_grad():
            target = self.extract(photos, [s.content_layer])[s.content_layer]
        feats = self.extract(out, [s.content_layer, *s.style_layers])
        content = content_loss(feats[s.content_layer], target) * s.content_weight
        # Per crop, as the engine measures one image; averaged over the crops and the layers.
        style = sum(self.style_loss(feats[n][i:i + 1], targets[n])
                    for n in s.style_layers for i in range(photos.shape[0]))
        style = style * (s.style_weight / (len(s.style_layers) * photos.shape[0]))
        terms = {"content": content, "style": style}
        if s.tv_weight:
            terms["tv"] = total_variation(out) * s.tv_weight
        return sum(terms.values()), terms

    def distil(self, photos: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        pixel = F.mse_loss(self.net(photos, 0), targets)
        return pixel, {"pixel": pixel}

    # --- the loop ------------------------------------------------------------------------------------------

    def train_step(self) -> dict[str, float]:
        generator = torch.Generator().manual_seed(self.s.seed * 1_000_003 + self.step)  # exact on resume
        photos, targets = self.photos.batch(generator, self.s.batch, self.s.crop)
        photos = photos.to(self.device)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.enable_grad():
            if self.s.teacher == "distil":
                loss, terms = self.distil(photos, targets.to(self.device))
            else:
                loss, terms = self.perceptual(photos, self.trained[self.step % len(self.trained)])
            loss.backward()
        self.optimizer.step()
        values = torch.stack([loss.detach(), *(t.detach() for t in terms.values())]).tolist()  # one host sync
        return {"loss": values[0], **dict(zip(terms, values[1:]))}

    def events(self, checkpoint: Path | None) -> Iterator[TrainProgress]:
        s = self.s
        start, first_step = time.perf_counter(), self.step
        while self.step < s.steps:
            values = self.train_step()
            self.step += 1
            loss = values.pop("loss")
            if not math.isfinite(loss):
                raise SettingsError(f"Training diverged at step {self.step} (the loss is not finite); "
                                    "lower the learning rate or the style weight.")
            self.ema = loss if self.ema is None else EMA_DECAY * self.ema + (1 - EMA_DECAY) * loss
            elapsed = time.perf_counter() - start
            rate = (self.step - first_step) / elapsed if elapsed > 0 else 0.0
            stopped = None
            if s.max_seconds and self.elapsed_before + elapsed >= s.max_seconds:
                stopped = f"Stopped at the {s.max_seconds:g} s time limit after {self.step} steps."
            last = stopped is not None or self.step == s.steps
            sample = best = None
            if last or self.step % s.sample_every == 0:
                sample = self.sample_picture()
                if self.ema < self.best_ema:
                    self.best_ema, self.best_state = self.ema, copy.deepcopy(self.net.state_dict())
                    best = self.model(self.elapsed_before + elapsed)
            if checkpoint is not None and (last or self.step % s.checkpoint_every == 0):
                self.save_checkpoint(checkpoint, self.elapsed_before + elapsed)
            if last and best is None:
                best = self.model(self.elapsed_before + elapsed)
            yield TrainProgress(self.step, s.steps, loss, MappingProxyType(values), self.elapsed_before + elapsed,
                                rate, (s.steps - self.step) / rate if rate else 0.0, sample, best, last, stopped)
            if last:
                return

    def sample_picture(self) -> Image.Image | None:
        """The held-out photo in each trained style, side by side."""
        if self.sample is None:
            return None
        with torch.no_grad():  # instance norm keeps no running statistics: training and eval modes agree
            return to_pil(torch.cat([self.net(self.sample, style) for style in self.trained], dim=-1))

    def model(self, seconds: float) -> FastModel:
        """The best network so far (the current one if there is none yet) with its metadata."""
        net = TransformerNet(self.s.width, self.net.styles)
        net.load_state_dict(self.best_state or self.net.state_dict())
        net.eval()
        record = {"teacher": self.s.teacher, "width": self.s.width, "settings": self.s.to_dict(),
                  "steps_done": self.step, "best_loss": self.best_ema if math.isfinite(self.best_ema) else None,
                  "training_seconds": round(seconds, 1), "device": describe_device(self.device),
                  "photos": list(self.photos.names), "photos_skipped": len(self.photos.skipped),
                  "generator": f"nst-studio {__version__}", "torch": torch.__version__}
        if self.start is not None:
            record["started_from"] = {"file": self.start.source, "sha256": self.start.digest, **self.start.meta}
        new = [StyleEntry(name, style_digest(art), art) for name, art in self.paintings]
        if self.base is not None:  # the base's record stays the model's; the new style keeps its own
            shared = {k: v for k, v in self.base.meta.items() if k not in ("style", "style_digest")}
            return FastModel(net, shared, styles=[*self.base.styles, replace(new[0], meta={"adapted": record})])
        if len(new) == 1:
            return FastModel(net, {"style": new[0].name, "style_digest": new[0].digest, **record}, new[0].painting)
        return FastModel(net, record, styles=new)

    def identity(self) -> str:
        """What a checkpoint must have been made for, besides the settings: the styles and any base model."""
        names = [name for name, _ in self.paintings]
        if self.base is None and self.start is None and len(names) == 1:
            return names[0]  # as checkpoints of one style always said
        identity = {"styles": names, "base": self.base.digest if self.base is not None else None}
        if self.start is not None:
            identity["start"] = self.start.digest
        return json.dumps(identity)

    # --- checkpoints -----------------------------------------------------------------------------------------

    def save_checkpoint(self, path: Path, seconds: float) -> None:
        payload = {"format": CHECKPOINT_FORMAT, "settings": json.dumps(self.s.to_dict(), sort_keys=True),
                   "style": self.identity(), "step": self.step, "seconds": seconds, "net": self.net.state_dict(),
                   "optimizer": self.optimizer.state_dict(), "ema": self.ema, "best_ema": self.best_ema,
                   "best": self.best_state}
        staging = path.with_name(path.name + ".part")
        torch.save(payload, staging)
        staging.replace(path)  # a stop while writing leaves the previous checkpoint whole

    def restore(self, path: Path) -> None:
        try:
            payload = torch.load(path, map_location=self.device, weights_only=True)
        except Exception:  # noqa: BLE001 - torch raises many kinds for a file that is not a checkpoint
            raise SettingsError(f"The checkpoint {path.name} cannot be read; delete it to start afresh.") from None
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            raise SettingsError(f"{path.name} is not a training checkpoint; delete it to start afresh.")
        theirs, mine = json.loads(payload["settings"]), self.s.to_dict()
        changed = sorted(k for k in mine if k not in RESUMABLE_CHANGES and theirs.get(k) != mine[k])
        if changed or payload["style"] != self.identity():
            what = ", ".join(changed) or "style (or base model)"
            raise SettingsError(f"The checkpoint {path.name} was made with another {what}; use the same settings "
                                "to resume, or delete it to start afresh.")
        # Checkpoints of one style from before conditional normalisation name its scales as nn.InstanceNorm2d.
        names = format_one_names(self.net)
        self.net.load_state_dict({names.get(k, k): v for k, v in payload["net"].items()})
        self.optimizer.load_state_dict(payload["optimizer"])
        self.step, self.elapsed_before = int(payload["step"]), float(payload["seconds"])
        self.ema, self.best_ema = payload["ema"], float(payload["best_ema"])
        self.best_state = payload["best"] and {names.get(k, k): v for k, v in payload["best"].items()}

    def release(self) -> None:
        with contextlib.suppress(AttributeError):
            del self.extract, self.style_targets
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def started_weights(start: FastModel, names: list[str]) -> dict[str, torch.Tensor]:
    """The state of `start`'s network for a network of the styles `names` (each held by `start`), in that order:
    the shared convolutions as they are, each style's scales and shifts from the style of that name."""
    state, order = start.net.state_dict(), [start.index(name) for name in names]
    picked = {}
    for key in TransformerNet(start.net.width, len(names)).state_dict():
        head, _, index = key.rpartition(".")
        per_style = head.endswith((".scales", ".shifts"))
        picked[key] = state[f"{head}.{order[int(index)]}" if per_style else key].clone()
    return picked


def photo_from_pixels(pixels: torch.Tensor) -> Image.Image:
    """(3, H, W) uint8 -> PIL, for showing a training photo."""
    return Image.fromarray(pixels.permute(1, 2, 0).numpy(), "RGB")
