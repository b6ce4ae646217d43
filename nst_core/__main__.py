"""Command line: python -m nst_core CONTENT STYLE [STYLE ...] -o OUT.png [settings].

Every setting of `Settings` becomes a flag with its help text, default and range, so the CLI and the
engine can never disagree. Progress goes to stderr; errors are one line and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

from PIL import Image

from . import __version__
from .backbones import SOURCES
from .command import run_command
from .config import Settings, field_info
from .engine import Progress, stylize_iter
from .errors import SettingsError
from .gallery import list_styles as gallery_styles
from .gallery import resolve_style_source
from .images import decode_image, read_recipe, save_png
from .regions import RegionPlan, make_plan, parse_colour, plan_from_recipe
from .steering import Steering

DESCRIPTION = """\
Repaint a photo in the style of one or more paintings by optimising its pixels against a frozen,
pretrained VGG network (Gatys, Ecker & Bethge 2015). The content weight keeps the photo's shapes, the
style weight pulls in the painting's textures and colours: the picture is a balance of the two, so
raising one is the same as lowering the other.

STYLE is an image file or a gallery name (run with --list-styles to see them).
"""

EPILOG = """\
examples:
  python -m nst_core photo.jpg starry_night.jpg -o out.png
  python -m nst_core photo.jpg starry_night.jpg the_scream.jpg --style-blend 3 1 -o out.png
  python -m nst_core photo.jpg starry_night.jpg --size 768 --iterations 400 --preserve-color luminance -o out.png
  NST_WEIGHTS=vgg16-caffe-features.pth python -m nst_core photo.jpg starry_night.jpg -o out.png
  python -m nst_core photo.jpg the_scream.jpg --regions map.png --region-style '#0000ff=starry_night' \
      --region-style '#00ff00=photo' -o out.png
  python -m nst_core photo.jpg the_scream.jpg --recipe made-in-the-studio.png -o again.png
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nst_core", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("content", nargs="?", help="the photo to repaint (JPEG, PNG, WebP, GIF, BMP or TIFF)")
    parser.add_argument("styles", nargs="*", metavar="style", help="one or more paintings, files or gallery names")
    parser.add_argument("-o", "--output", default="out.png", help="where to write the PNG (default: out.png); "
                        "it records every setting in its metadata")
    parser.add_argument("--list-styles", action="store_true", help="list the gallery's styles and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--recipe", metavar="PNG", help="make a picture made here again: its settings (flags given "
                        "here win), its region map and the weights moved during its run; give the same photo and "
                        "paintings, in the same order")
    parser.add_argument("--version", action="version", version=f"nst-studio {__version__}")
    regions = parser.add_argument_group("regions (which painting goes where)")
    regions.add_argument("--regions", metavar="MAP.png", help="a map the photo's shape, one flat colour per "
                         "region; regions without a --region-style are painted from the STYLE paintings")
    regions.add_argument("--region-style", action="append", default=[], metavar="'#rrggbb=STYLE'",
                         help="paint the map's region of that colour from STYLE (a painting file or a gallery "
                         "name), or keep the photo there with STYLE 'photo'; repeatable")
    regions.add_argument("--style-regions", metavar="MAP.png", help="a map of the (first) STYLE painting, the "
                         "painting's shape, in the same colours: each region of the photo is painted from the part "
                         "of the painting under its colour (sky from the painting's sky)")
    group = parser.add_argument_group("settings")
    defaults = Settings()
    for f in dataclasses.fields(Settings):
        _add_setting(group, f, getattr(defaults, f.name))
    return parser


# What the command line adds to a setting's help: things only a command line can take.
CLI_NOTES = {"weights": " Also the path of a local VGG file (or set NST_WEIGHTS)."}


def _add_setting(group: argparse._ArgumentGroup, f: dataclasses.Field, default: object) -> None:
    info = field_info(f.name)
    flag = "--" + f.name.replace("_", "-")
    help_text = info["help"] + CLI_NOTES.get(f.name, "")
    if info["useful"] is not None:
        help_text += f" Useful range {info['useful'][0]:g} to {info['useful'][1]:g}."
    if info["low"] is not None and not isinstance(default, tuple) and default is not None:
        help_text += f" [{info['low']:g} to {info['high']:g}]"
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind == "bool":
        group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,  # unset: a recipe's value
                           help=help_text + f" (default: {default})")
        return
    if kind.startswith("tuple"):
        item = str if "str" in kind else float
        # An unset list's help text says itself what leaving it out does.
        shown = f" (default: {' '.join(map(str, default))})" if default else ""
        group.add_argument(flag, nargs="+", type=item, default=None, metavar="X", help=help_text + shown)
        return
    item = {"int": int, "float": float}.get(kind, str)
    group.add_argument(flag, type=item, default=None, choices=info["choices"] if f.name != "content_layer" else None,
                       help=help_text + f" (default: {default})")


def settings_from_args(args: argparse.Namespace, recipe: dict | None = None) -> Settings:
    """The flags given, over the recipe's settings (if any), over the defaults."""
    values = {}
    if recipe is not None:
        recorded = recipe.get("settings")
        if not isinstance(recorded, dict):
            raise SettingsError("The recipe has no settings: it was not made here, or it was changed.")
        # A time limit is the machine's, not the picture's; a local weights file is recorded by name only, so
        # --weights or NST_WEIGHTS says where it is here (a source name, such as vgg19, is used as recorded).
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()
                  if k in SETTING_NAMES and k != "max_seconds" and not (k == "weights" and v not in SOURCES)}
    for f in dataclasses.fields(Settings):
        value = getattr(args, f.name)
        if value is not None:
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return Settings(**values)


SETTING_NAMES = {f.name for f in dataclasses.fields(Settings)}


def read_recipe_file(path: str) -> dict:
    recipe = read_recipe(path)
    if recipe is None:
        raise SettingsError(f"{Path(path).name} carries no recipe (only pictures made here do).")
    return recipe


def check_painting_count(recipe: dict | None, count: int) -> None:
    made_with = len(recipe.get("style_sizes", ())) if recipe is not None else count
    if made_with != count:
        raise SettingsError(f"The recipe was made with {made_with} painting(s), not {count}: give them all, in the "
                            "order they were given then.")


def resolve_style(name_or_path: str) -> str | Path:
    """A gallery name or a file path."""
    return resolve_style_source(name_or_path)


class ProgressBar:
    """One status line on stderr, rewritten in place on a terminal, printed now and then otherwise."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_print = 0.0

    def update(self, event: Progress) -> None:
        if event.message:
            self._line(event.message)
        now = time.monotonic()
        if not (self.tty or event.done or now - self.last_print >= 5.0):
            return
        self.last_print = now
        filled = round(24 * event.step / event.total)
        groups = ", ".join(f"{name} {_number(value)}" for name, value in event.groups.items())
        text = (f"[{'#' * filled}{'.' * (24 - filled)}] {event.step}/{event.total} "
                f"{event.size[0]}x{event.size[1]}  loss {_number(event.loss)} ({groups})  {event.rate:.2f} it/s  "
                f"ETA {event.eta:.0f}s")
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if event.done else ""))
            self.stream.flush()
        else:
            self._line(text)

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()


def _number(value: float | None) -> str:
    """A loss for the status line; None is a loss that was not finite (the step was rolled back)."""
    return "not finite" if value is None else f"{value:.3g}"


def list_styles() -> int:
    for style in gallery_styles():
        state = "" if style.available else "  (not downloaded yet)"
        print(f"{style.name:24s} {style.title}{state}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.list_styles:
        return run_command(list_styles, args.output)
    if not args.content or not args.styles:
        parser.error("give a content image and at least one style (a file or a gallery name)")
    return run_command(lambda: stylize_to_file(args), args.output, interrupted="; nothing written",
                       offline_hint="Connect to the internet once, or point --weights (or NST_WEIGHTS) at a local "
                                    "VGG file.")


def region_plan(args: argparse.Namespace, content: Image.Image, styles: list[Image.Image],
                settings: Settings, recipe: dict | None = None) -> tuple[RegionPlan | None, Settings]:
    """--regions and --region-style as a plan; each region's own painting joins `styles` (its blend weight 1:
    blends only mix the paintings of one region). Without --regions, a recipe's regions."""
    if args.regions is None and recipe is not None and "regions" in recipe:
        return plan_from_recipe(recipe["regions"], content.size, [style.size for style in styles]), settings
    if args.regions is None:
        if args.region_style or args.style_regions:
            raise SettingsError("--region-style and --style-regions need --regions, the photo's map.")
        return None, settings
    main = tuple(range(len(styles)))
    named: dict[tuple[int, int, int], tuple[int, ...]] = {}
    for text in args.region_style:
        colour, sep, style = text.partition("=")
        if not sep or not style.strip():
            raise SettingsError(f"--region-style looks like '#0000ff=starry_night' or '#00ff00=photo', not {text!r}.")
        if style.strip() == "photo":
            named[parse_colour(colour)] = ()
        else:
            styles.append(decode_image(resolve_style(style.strip())))
            named[parse_colour(colour)] = (len(styles) - 1,)
    if settings.style_blend is not None:
        settings = dataclasses.replace(settings, style_blend=settings.style_blend
                                       + (1.0,) * (len(styles) - len(settings.style_blend)))
    plan = make_plan(decode_image(args.regions), content.size, named, main)
    if args.style_regions is not None:
        painting_map = make_plan(decode_image(args.style_regions), styles[0].size, {}, (), of="painting")
        plan = dataclasses.replace(plan, painting_maps={0: painting_map})
    return plan, settings


def stylize_to_file(args: argparse.Namespace) -> int:
    recipe = read_recipe_file(args.recipe) if args.recipe else None
    settings = settings_from_args(args, recipe)
    content = decode_image(args.content)
    styles = [decode_image(resolve_style(s)) for s in args.styles]
    if args.regions is None:  # every painting is given in the list (regions' own ones too, if the recipe has them)
        check_painting_count(recipe, len(styles))
    plan, settings = region_plan(args, content, styles, settings, recipe)
    check_painting_count(recipe, len(styles))
    steering = None
    if recipe is not None and recipe.get("schedule"):
        try:
            steering = Steering(recipe["schedule"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise SettingsError("The recipe's weight changes could not be read: it was changed.") from None
    output = Path(args.output)
    if output.suffix.lower() != ".png":
        raise SettingsError(f"The output must be a .png file (it carries the recipe), not {output.name}.")
    bar = None if args.quiet else ProgressBar()
    final = None
    for event in stylize_iter(content, styles, settings, regions=plan, steering=steering):
        if bar:
            bar.update(event)
        final = event
    assert final is not None and final.preview is not None and final.recipe is not None
    save_png(final.preview, output, dict(final.recipe))
    print(f"wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
