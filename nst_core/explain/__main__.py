"""Command line for the teaching views: python -m nst_core.explain VIEW [PICTURES] -o DIR [options].

Writes one PNG per panel into DIR, named after its layer or setting (relu3_1.png, style10_relu4_2.png), a
labelled contact sheet (sheet.png) and, with --timelapse, timelapse.gif and timelapse.mp4; prints ONE JSON
line with the numbers the view showed. Progress goes to stderr; errors are one line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from ..command import run_command
from ..gallery import resolve_style_source
from ..images import save_png
from ..names import LAYER_CHOICES
from ..timelapse import Film, write_gif, write_mp4
from . import CAPTIONS, INPUTS, VIEWS
from .knobs import COMPARE_STYLE_WEIGHT
from .render import contact_sheet
from .synthesis import layer_sets

FILM_INTERVAL = 0.4  # seconds between time-lapse frames (each is a contact sheet of every panel)
STATUS_INTERVAL = 2.0  # seconds between progress lines when stderr is not a terminal

EXAMPLES = """\
examples:
  python -m nst_core.explain layers photo.jpg --layer relu4_1 -o out/layers
  python -m nst_core.explain channel --layer relu5_1 --channel 42 --photo photo.jpg -o out/channel
  python -m nst_core.explain reconstruct photo.jpg -o out/reconstruct --timelapse
  python -m nst_core.explain texture starry_night -o out/texture
  python -m nst_core.explain shuffle painting.jpg --tiles 4 -o out/shuffle
  python -m nst_core.explain compare photo.jpg starry_night -o out/compare
  python -m nst_core.explain grid photo.jpg starry_night --rows style -o out/grid
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nst_core.explain", epilog=EXAMPLES,
                                     description="Show why style transfer works, one view at a time.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-o", "--output", required=True, help="folder for the PNGs (created if missing)")
    common.add_argument("--weights", help="the network's weights: a source name or a local VGG file "
                        "(default: $NST_WEIGHTS, else vgg19)")
    common.add_argument("--size", type=int, help="longest side of the pictures in pixels (default: the view's)")
    common.add_argument("--timelapse", action="store_true", help="also write timelapse.gif and timelapse.mp4")
    common.add_argument("--quiet", action="store_true", help="no progress on stderr")
    steps = argparse.ArgumentParser(add_help=False)
    steps.add_argument("--steps", type=int, help="optimisation steps of each picture (default: the view's)")
    steps.add_argument("--seed", type=int, help="seed of the starting noise (default: 0)")
    views = parser.add_subparsers(dest="view", required=True, metavar="VIEW")

    def view(name: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub = views.add_parser(name, parents=[common, *parents], help=CAPTIONS[name].split(". ")[0],
                               description=CAPTIONS[name])
        for picture in INPUTS[name]:
            if name != "channel":  # its photo is optional: --photo
                sub.add_argument(picture, help=f"the {picture}: an image file" +
                                 (" or a gallery name" if picture == "painting" else ""))
        return sub

    layers = view("layers")
    layers.add_argument("--layer", choices=LAYER_CHOICES, default="relu3_1", help="the layer to look at")
    layers.add_argument("--channel", type=int, help="the channel laid over the picture (default: the busiest)")
    layers.add_argument("--top", type=int, default=16, help="how many feature maps to show (default: 16)")
    channel = view("channel", steps)
    channel.add_argument("--layer", choices=LAYER_CHOICES, default="relu3_1", help="the layer of the channel")
    channel.add_argument("--channel", type=int, help="the channel (default: the busiest over --photo, else 0)")
    channel.add_argument("--photo", help="a photo: also show where the channel fires in it")
    reconstruct = view("reconstruct", steps)
    reconstruct.add_argument("--layers", nargs="+", choices=LAYER_CHOICES, metavar="LAYER",
                             help="the layers to rebuild from (default: relu1_1 relu2_1 relu3_1 relu4_1 relu5_1)")
    reconstruct.add_argument("--tv", type=float, help="smoothing that removes noise the network cannot see")
    texture = view("texture", steps)
    texture.add_argument("--sets", choices=("growing", "single", "all"), default="growing",
                         help="growing: relu1_1, then +relu2_1, ...; single: one layer at a time; all: the five")
    shuffle = view("shuffle", steps)
    shuffle.add_argument("--tiles", type=int, default=4, help="tiles per side (default: 4)")
    compare = view("compare", steps)
    compare.add_argument("--init", choices=("noise", "content"), default="noise", help="start from (default: noise)")
    compare.add_argument("--style-weight", type=float,
                         help=f"the style weight of both runs (default: {COMPARE_STYLE_WEIGHT:g})")
    grid = view("grid", steps)
    grid.add_argument("--rows", choices=("content", "style"), default="content",
                      help="rows vary the content layer, or the set of style layers")
    grid.add_argument("--style-weights", nargs="+", type=float, metavar="W",
                      help="the columns' style weights (default: 1 10 100)")
    return parser


def view_arguments(args: argparse.Namespace) -> tuple[list[Any], dict[str, Any]]:
    """The view's pictures and its keyword options, leaving out what was not given (the view's default wins)."""
    pictures = []
    for picture in INPUTS[args.view]:
        value = getattr(args, picture, None)
        if value is not None and picture == "painting":
            value = resolve_style_source(value)
        pictures.append(value)
    skip = {"view", "output", "timelapse", "quiet", *INPUTS[args.view]}
    options = {key: value for key, value in vars(args).items() if key not in skip and value is not None}
    if args.view == "texture":
        layer_sets(options["sets"])  # refuse a bad name before loading the network
    return pictures, options


class Status:
    """The newest status line on stderr: rewritten in place on a terminal, every few seconds otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.tty, self.last = quiet, sys.stderr.isatty(), 0.0

    def show(self, text: str, final: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or not (self.tty or final or now - self.last >= STATUS_INTERVAL):
            return
        self.last = now
        sys.stderr.write(("\r\033[K" + text + ("\n" if final else "")) if self.tty else text + "\n")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> dict[str, Any]:
    pictures, options = view_arguments(args)
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    status, film = Status(args.quiet), Film() if args.timelapse else None
    started, first_image, last_frame, event = time.perf_counter(), None, 0.0, None
    for event in VIEWS[args.view](*pictures, **options):
        if first_image is None and event.panels:
            first_image = time.perf_counter() - started
        status.show(event.status)
        if film is not None and (event.done or time.perf_counter() - last_frame >= FILM_INTERVAL):
            last_frame = time.perf_counter()
            film.add(contact_sheet([(p.title, p.image) for p in event.panels]), event.step, event.total)
    assert event is not None and event.done
    status.show(event.status, final=True)
    written = []
    for panel in event.panels:
        recipe = {"view": args.view, "panel": panel.name, "title": panel.title}
        if panel.settings is not None:
            recipe["settings"] = dict(panel.settings)  # the Stylize tab can restore it from the PNG
        save_png(panel.image, folder / f"{panel.name}.png", recipe)
        written.append(f"{panel.name}.png")
    contact_sheet([(p.title, p.image) for p in event.panels]).save(folder / "sheet.png")
    if film is not None:
        write_gif(film, folder / "timelapse.gif")
        write_mp4(film, folder / "timelapse.mp4")
        written += ["timelapse.gif", "timelapse.mp4"]
    return {"view": args.view, "output": str(folder), "panels": written, "numbers": dict(event.numbers),
            "first_image_seconds": round(first_image or 0.0, 2),
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    # A picture grown from noise converges and then stalls; the engine says so (and restarts), which here
    # is expected, not a warning worth a line.
    logging.getLogger("nst_core.engine").setLevel(logging.ERROR)
    def explain() -> int:
        print(json.dumps(run(args)))
        return 0

    return run_command(explain, f"into {args.output}")

if __name__ == "__main__":
    sys.exit(main())
