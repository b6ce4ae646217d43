"""Command line for fast networks:

    python -m nst_core.fast train PAINTING [PAINTING ...] --photos DIR -o MODEL.pt [settings]
    python -m nst_core.fast apply MODEL_OR_STYLE PHOTO -o OUT.png [--size N] [--model FILE] [--blend NAME=W ...]
    python -m nst_core.fast adapt PAINTING --photos DIR -o MODEL.pt [--base FILE] [--seconds N | --steps N]

Training flags come from `TrainSettings` (help, defaults, ranges), as the engine's CLI comes from Settings.
Several paintings train one network of several styles; `adapt` teaches a trained network one more painting,
training only that style's scales and shifts. Progress goes to stderr; errors are one line and a non-zero exit
code. Ctrl-C during training writes the checkpoint and the best network so far, so `--resume` continues where
it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from PIL import Image

from ..command import run_command
from ..errors import SettingsError
from ..gallery import resolve_style_source
from ..images import decode_image, save_png
from .apply import (
    DEFAULT_SIZE,
    GALLERY_MODEL,
    MODELS,
    SHIPPED_DIR,
    fast_recipe,
    resolve_model,
    shipped_models,
    style_model,
    stylize_fast,
)
from .data import MAX_SCALE, PhotoSet, fetch_coco, load_photos
from .model import FastModel, save_model
from .train import (
    ADAPT_SETTINGS,
    INHERITED_LOSSES,
    MAX_STEPS,
    TrainProgress,
    TrainSettings,
    adapt_settings,
    check_start,
    check_teacher,
    distil_targets,
    train_iter,
)

EPILOG = """\
examples:
  python -m nst_core.fast train swirling_impasto --photos ~/photos -o impasto.pt --steps 1000 --crop 128
  python -m nst_core.fast train painting.jpg --coco ~/coco -o painting.pt --width full --steps 40000
  python -m nst_core.fast train painting.jpg --photos ~/photos -o painting.pt --resume
  python -m nst_core.fast train stained_glass marbled_paper painting.jpg --photos ~/photos -o three.pt
  python -m nst_core.fast apply swirling_impasto photo.jpg -o out.png --size 512
  python -m nst_core.fast apply stained_glass photo.jpg --model three.pt -o out.png
  python -m nst_core.fast apply three.pt photo.jpg --blend stained_glass=0.7 painting=0.3 -o out.png
  python -m nst_core.fast adapt new.jpg --base three.pt --photos ~/photos -o four.pt --seconds 600
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nst_core.fast", epilog=EPILOG,
                                     description="Train a one-pass network for a style, or stylize with one.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a fast network for one style or several", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("styles", nargs="+", metavar="painting",
                       help="the paintings (image files or gallery names): several train one network of several "
                       "styles, each named by its gallery name or file name")
    _add_training_arguments(train)
    train.add_argument("--start", metavar="MODEL", help="go on training this model's network (a file or a shipped "
                       "model holding these styles by name) under the settings given here, e.g. another style loss; "
                       "its record is kept in the new model's")
    train.add_argument("--distil-cache", default=str(Path.home() / ".cache" / "nst-studio" / "distil"),
                       help="where the distil teacher's pictures are kept (default: %(default)s)")
    group = train.add_argument_group("training settings")
    for f in dataclasses.fields(TrainSettings):
        _add_setting(group, f)
    adapt = commands.add_parser("adapt", help="teach a trained network one more painting (only its new style's "
                                "scales and shifts train)", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    adapt.add_argument("style", help="the new painting: an image file or a gallery name")
    adapt.add_argument("--base", default=None, help="the model to add the style to: a file or a shipped model "
                       f"(default: {GALLERY_MODEL.relative_to(SHIPPED_DIR.parent.parent)}, where shipped)")
    _add_training_arguments(adapt)
    group = adapt.add_argument_group("training settings (the width is the base model's)")
    group.add_argument("--seconds", type=float, dest="max_seconds", default=None,
                       help="wall-clock limit in seconds (as --max-seconds); it learns until then unless --steps "
                       "says how many steps")
    for f in dataclasses.fields(TrainSettings):
        # The base fixes the width; a new style learns from the perceptual teacher; --seconds is the time limit.
        if f.name not in ("width", "teacher", "max_seconds") and not f.name.startswith("distil"):
            _add_setting(group, f, "the base model's" if f.name in INHERITED_LOSSES else ADAPT_SETTINGS.get(f.name))
    apply = commands.add_parser("apply", help="stylize a photo with a trained network")
    apply.add_argument("model", help="a model file or a shipped model "
                       f"({', '.join(shipped_models()) or 'none'}), or a style that --model or a shipped model holds")
    apply.add_argument("photo", help="the photo (JPEG, PNG, WebP, GIF, BMP or TIFF)")
    apply.add_argument("-o", "--output", default="out.png", help="the PNG to write (it carries the recipe)")
    apply.add_argument("--size", type=int, default=DEFAULT_SIZE,
                       help="longest side of the result in pixels; 0 keeps the photo's size (default: %(default)s)")
    apply.add_argument("--model", dest="model_file", help="the model file (or shipped model) holding the style")
    apply.add_argument("--blend", nargs="+", metavar="NAME=W", help="mix the model's styles, weights scaled to sum "
                       "to 1 (the first argument then only names the model)")
    return parser


def _add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """What train and adapt share: the photos, where things go, resuming, progress."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--photos", help="a folder of training photos (unusable files are skipped and counted)")
    source.add_argument("--coco", metavar="DIR", help="download COCO val2017 (788 MB, needs internet) into DIR "
                        "and train on it")
    parser.add_argument("-o", "--output", required=True, help="where to write the model (.pt)")
    parser.add_argument("--sample", help="a held-out photo to show the network's progress on (default: the "
                        "folder's first photo, left out of training)")
    parser.add_argument("--samples-dir", help="where the samples go (default: MODEL-samples/ beside the model)")
    parser.add_argument("--checkpoint", help="checkpoint file (default: MODEL.ckpt)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint if there is one")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_setting(group: argparse._ArgumentGroup, f: dataclasses.Field, default: object = None) -> None:
    """A flag for a TrainSettings field; `default` is what the command uses instead of the field's default."""
    meta, flag = f.metadata, "--" + f.name.replace("_", "-")
    if default is None:
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind.startswith("tuple"):
        shown = default if isinstance(default, str) else " ".join(default)
        group.add_argument(flag, nargs="+", default=None, metavar="LAYER", help=meta["help"] + f" (default: {shown})")
        return
    choices = meta["choices"]() if callable(meta["choices"]) else meta["choices"]
    group.add_argument(flag, type={"int": int, "float": float}.get(kind, str), default=None, choices=choices,
                       help=meta["help"] + f" (default: {default})")


def settings_from_args(args: argparse.Namespace, **fixed: object) -> TrainSettings:
    values: dict[str, object] = dict(fixed)
    for f in dataclasses.fields(TrainSettings):
        value = getattr(args, f.name, None)
        if value is not None:
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return TrainSettings(**values)


def _line(text: str, tty: bool, end: bool = False) -> None:
    sys.stderr.write(("\r\033[K" + text + ("\n" if end else "")) if tty else text + "\n")
    sys.stderr.flush()


class ProgressBar:
    """One line on stderr, rewritten in place on a terminal, printed every few seconds otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def update(self, event: TrainProgress) -> None:
        now = time.monotonic()
        if event.message:
            _line(event.message, self.tty, end=True)
        if not (event.done or (self.tty and now - self.last > 0.2) or now - self.last >= 10):
            return
        self.last = now
        filled = round(24 * event.step / event.total)
        terms = ", ".join(f"{name} {value:.3g}" for name, value in event.terms.items())
        _line(f"[{'#' * filled}{'.' * (24 - filled)}] {event.step}/{event.total}  loss {event.loss:.3g} ({terms})  "
              f"{event.rate:.2f} steps/s  {event.elapsed:.0f} s  ETA {event.eta:.0f} s", self.tty, event.done)


def style_name(source: str) -> str:
    """A painting's name in a model: its gallery name, or its file's name without the extension."""
    return Path(source).stem if Path(source).is_file() else source


def output_path(args: argparse.Namespace) -> Path:
    output = Path(args.output)
    if output.suffix != ".pt":
        raise SettingsError(f"The model file must end in .pt, not {output.name}.")
    return output


def training_photos(args: argparse.Namespace, settings: TrainSettings) -> tuple[PhotoSet, Image.Image]:
    """The training photos and the sample photo (held out of them unless --sample names one)."""
    folder = Path(args.photos) if args.photos else fetch_coco(args.coco)
    keep = settings.distil_size if settings.teacher == "distil" else round(settings.crop * MAX_SCALE)
    photos = load_photos(folder, keep_side=max(keep, settings.crop))
    if args.sample:
        sample, note = decode_image(args.sample), ""
    else:
        sample, photos = photos.hold_out()
        note = f", {sample.info['name']} held out for the samples"
    print(f"{len(photos)} photos from {folder.name}/ ({len(photos.skipped)} skipped as unusable{note})",
          file=sys.stderr)
    return photos, sample


def train(args: argparse.Namespace) -> int:
    start = MODELS.get(resolve_model(args.start)) if args.start else None
    settings = settings_from_args(args, **({"width": start.net.width} if start is not None else {}))
    output = output_path(args)
    names = [style_name(source) for source in args.styles]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise SettingsError(f"Two paintings are both called {twice[0]!r}; a network's styles need different names.")
    check_teacher(settings, len(names))
    if start is not None:
        check_start(start, names, settings)
    paintings = {name: decode_image(resolve_style_source(source)) for name, source in zip(names, args.styles)}
    photos, sample = training_photos(args, settings)
    if settings.teacher == "distil":
        targets = []
        for index, target in distil_targets(photos, paintings[names[0]], settings, Path(args.distil_cache)):
            targets.append(target)
            print(f"teacher: photo {index + 1}/{len(photos)} stylized by the engine", file=sys.stderr)
        photos = photos.with_targets(targets)
    painting = paintings if len(names) > 1 else paintings[names[0]]
    return run_training(args, output, lambda checkpoint: train_iter(
        painting, photos, settings, style_name=names[0], sample=sample, checkpoint=checkpoint, resume=args.resume,
        start=start))


def adapt(args: argparse.Namespace) -> int:
    output = output_path(args)
    if args.base is None and not GALLERY_MODEL.is_file():
        raise SettingsError("There is no shipped multi-style network yet to add a painting to; give a model with "
                            "--base FILE.")
    base = MODELS.get(resolve_model(args.base or GALLERY_MODEL))
    # "--seconds 180" means three minutes of learning: not cut short by train's 1000-step default on a fast CPU.
    until_time_is_up = {"steps": MAX_STEPS} if args.max_seconds else {}
    settings = settings_from_args(args, **adapt_settings(base), **until_time_is_up, width=base.net.width)
    name = style_name(args.style)
    if base.index(name) is not None:
        raise SettingsError(f"{base.source} already holds a style called {name!r}; rename the painting's file.")
    painting = decode_image(resolve_style_source(args.style))
    photos, sample = training_photos(args, settings)
    print(f"adapting {base.source} ({base.net.styles} style{'s' if base.net.styles > 1 else ''}) to {name!r}: its "
          "convolutions stay as they are, only the new style's scales and shifts train", file=sys.stderr)
    return run_training(args, output, lambda checkpoint: train_iter(
        painting, photos, settings, style_name=name, sample=sample, checkpoint=checkpoint, resume=args.resume,
        base=base))


def run_training(args: argparse.Namespace, output: Path, start: Callable[[Path], Iterator[TrainProgress]]) -> int:
    """Run `start(checkpoint)`'s training with a progress bar and samples; write the best network (also on
    Ctrl-C, once there is one)."""
    checkpoint = Path(args.checkpoint or output.with_suffix(".ckpt"))
    samples = Path(args.samples_dir or output.with_name(output.stem + "-samples"))
    samples.mkdir(parents=True, exist_ok=True)
    bar = None if args.quiet else ProgressBar()
    best: FastModel | None = None
    seconds = 0.0
    events = start(checkpoint)
    try:
        for event in events:
            if bar:
                bar.update(event)
            if event.sample is not None:
                event.sample.save(samples / f"step-{event.step:06d}.png")
            best, seconds = event.best or best, event.elapsed
    except KeyboardInterrupt:
        events.close()
        if best is None:
            print("\ninterrupted before the first sample; the checkpoint (if any) is kept", file=sys.stderr)
            return 130
        print(f"\ninterrupted: writing the best network so far; --resume continues from {checkpoint.name}",
              file=sys.stderr)
    save_model(best, output)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.2f} MB, {seconds:.0f} s of training, "
          f"{best.net.styles} style{'s' if best.net.styles > 1 else ''}); samples in {samples}/", file=sys.stderr)
    return 0


def apply(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix.lower() != ".png":
        raise SettingsError(f"The output must be a .png file (it carries the recipe), not {output.name}.")
    if args.size < 0:
        raise SettingsError("--size must be 0 (the photo's own size) or a positive number of pixels.")
    model = style_model(args.model, args.model_file, parse_blend(args.blend) if args.blend else None)
    photo = decode_image(args.photo)
    start = time.perf_counter()
    result = stylize_fast(model, photo, args.size or None)
    seconds = time.perf_counter() - start
    save_png(result, output, fast_recipe(model, photo, result))
    print(f"wrote {output} ({result.size[0]}×{result.size[1]}, {model.label}, {seconds * 1000:.0f} ms)",
          file=sys.stderr)
    return 0


def parse_blend(pairs: list[str]) -> dict[str, float]:
    """["a=0.7", "b=0.3"] -> {"a": 0.7, "b": 0.3}; one-sentence errors for anything else."""
    blend: dict[str, float] = {}
    for pair in pairs:
        name, _, weight = pair.rpartition("=")
        try:
            blend[name] = blend.get(name, 0.0) + float(weight)
        except ValueError:
            name = ""
        if not name:
            raise SettingsError(f"--blend takes NAME=WEIGHT pairs such as stained_glass=0.7, not {pair!r}.")
    return blend


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    command = {"train": train, "adapt": adapt, "apply": apply}[args.command]
    return run_command(lambda: command(args), args.output, interrupted="; nothing written")

if __name__ == "__main__":
    sys.exit(main())
