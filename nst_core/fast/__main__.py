"""Command line for fast networks:

    python -m nst_core.fast train STYLE --photos DIR -o MODEL.pt [settings]
    python -m nst_core.fast apply MODEL PHOTO -o OUT.png [--size N]

Training flags come from `TrainSettings` (help, defaults, ranges), as the engine's CLI comes from Settings.
Progress goes to stderr; errors are one line and a non-zero exit code. Ctrl-C during training writes the
checkpoint and the best network so far, so `--resume` continues where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

from ..command import run_command
from ..errors import SettingsError
from ..gallery import resolve_style_source
from ..images import decode_image, save_png
from .apply import DEFAULT_SIZE, fast_recipe, resolve_model, shipped_models, stylize_fast
from .data import MAX_SCALE, fetch_coco, load_photos
from .model import FastModel, load_model, save_model
from .train import TrainProgress, TrainSettings, distil_targets, train_iter

EPILOG = """\
examples:
  python -m nst_core.fast train swirling_impasto --photos ~/photos -o impasto.pt --steps 1000 --crop 128
  python -m nst_core.fast train painting.jpg --coco ~/coco -o painting.pt --width full --steps 40000
  python -m nst_core.fast train painting.jpg --photos ~/photos -o painting.pt --resume
  python -m nst_core.fast apply swirling_impasto photo.jpg -o out.png --size 512
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nst_core.fast", epilog=EPILOG,
                                     description="Train a one-pass network for a style, or stylize with one.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a fast network for one style", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("style", help="the painting: an image file or a gallery name")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--photos", help="a folder of training photos (unusable files are skipped and counted)")
    source.add_argument("--coco", metavar="DIR", help="download COCO val2017 (788 MB, needs internet) into DIR "
                        "and train on it")
    train.add_argument("-o", "--output", required=True, help="where to write the model (.pt)")
    train.add_argument("--sample", help="a held-out photo to show the network's progress on (default: the "
                       "folder's first photo, left out of training)")
    train.add_argument("--samples-dir", help="where the samples go (default: MODEL-samples/ beside the model)")
    train.add_argument("--checkpoint", help="checkpoint file (default: MODEL.ckpt)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoint if there is one")
    train.add_argument("--distil-cache", default=str(Path.home() / ".cache" / "nst-studio" / "distil"),
                       help="where the distil teacher's pictures are kept (default: %(default)s)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    group = train.add_argument_group("training settings")
    for f in dataclasses.fields(TrainSettings):
        _add_setting(group, f)
    apply = commands.add_parser("apply", help="stylize a photo with a trained network")
    apply.add_argument("model", help=f"a model file or a shipped model ({', '.join(shipped_models()) or 'none'})")
    apply.add_argument("photo", help="the photo (JPEG, PNG, WebP, GIF, BMP or TIFF)")
    apply.add_argument("-o", "--output", default="out.png", help="the PNG to write (it carries the recipe)")
    apply.add_argument("--size", type=int, default=DEFAULT_SIZE,
                       help="longest side of the result in pixels; 0 keeps the photo's size (default: %(default)s)")
    return parser


def _add_setting(group: argparse._ArgumentGroup, f: dataclasses.Field) -> None:
    meta, flag = f.metadata, "--" + f.name.replace("_", "-")
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind.startswith("tuple"):
        group.add_argument(flag, nargs="+", default=None, metavar="LAYER",
                           help=meta["help"] + f" (default: {' '.join(default)})")
        return
    choices = meta["choices"]() if callable(meta["choices"]) else meta["choices"]
    group.add_argument(flag, type={"int": int, "float": float}.get(kind, str), default=None, choices=choices,
                       help=meta["help"] + f" (default: {default})")


def settings_from_args(args: argparse.Namespace) -> TrainSettings:
    values = {}
    for f in dataclasses.fields(TrainSettings):
        value = getattr(args, f.name)
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


def train(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    output = Path(args.output)
    if output.suffix != ".pt":
        raise SettingsError(f"The model file must end in .pt, not {output.name}.")
    painting = decode_image(resolve_style_source(args.style))
    style_name = args.style if not Path(args.style).is_file() else Path(args.style).stem
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
    if settings.teacher == "distil":
        targets = []
        for index, target in distil_targets(photos, painting, settings, Path(args.distil_cache)):
            targets.append(target)
            print(f"teacher: photo {index + 1}/{len(photos)} stylized by the engine", file=sys.stderr)
        photos = photos.with_targets(targets)
    checkpoint = Path(args.checkpoint or output.with_suffix(".ckpt"))
    samples = Path(args.samples_dir or output.with_name(output.stem + "-samples"))
    samples.mkdir(parents=True, exist_ok=True)
    bar = None if args.quiet else ProgressBar()
    best: FastModel | None = None
    events = train_iter(painting, photos, settings, style_name=style_name, sample=sample, checkpoint=checkpoint,
                        resume=args.resume)
    try:
        for event in events:
            if bar:
                bar.update(event)
            if event.sample is not None:
                event.sample.save(samples / f"step-{event.step:06d}.png")
            best = event.best or best
    except KeyboardInterrupt:
        events.close()
        if best is None:
            print("\ninterrupted before the first sample; the checkpoint (if any) is kept", file=sys.stderr)
            return 130
        print(f"\ninterrupted: writing the best network so far; --resume continues from {checkpoint.name}",
              file=sys.stderr)
    save_model(best, output)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.2f} MB, {best.meta['training_seconds']:.0f} s of "
          f"training); samples in {samples}/", file=sys.stderr)
    return 0


def apply(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix.lower() != ".png":
        raise SettingsError(f"The output must be a .png file (it carries the recipe), not {output.name}.")
    if args.size < 0:
        raise SettingsError("--size must be 0 (the photo's own size) or a positive number of pixels.")
    model = load_model(resolve_model(args.model))
    photo = decode_image(args.photo)
    start = time.perf_counter()
    result = stylize_fast(model, photo, args.size or None)
    seconds = time.perf_counter() - start
    save_png(result, output, fast_recipe(model, photo, result))
    print(f"wrote {output} ({result.size[0]}×{result.size[1]}, {model.label}, {seconds * 1000:.0f} ms)",
          file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    return run_command(lambda: train(args) if args.command == "train" else apply(args), args.output,
                       interrupted="; nothing written")

if __name__ == "__main__":
    sys.exit(main())
