"""Fast networks against the slow engine, per style, on photos none of the networks was trained on: the style
distance and structure kept of bench/measures.py (style distance 1 = the unstyled photo, 0 = the painting's
feature statistics), the fast network's distance over the slow engine's (the issue's "within 1.5x"), and a
contact sheet (photo | painting | slow | fast) to look at.

    NST_WEIGHTS=../shared/weights/vgg16-caffe-features.pth python -m bench.fast_quality --sheet fast_sheet.jpg
    ... python -m bench.fast_quality --model gallery.pt --styles stained_glass pointillism --size 256

Photos: ../shared/images' tubingen, golden_gate and brad_pitt (kept out of the training photos on purpose).
Styles: every style the shipped models hold, or those of `--model` (or `--styles`), each against its gallery
painting. The slow engine runs with its defaults at `--size`; its pictures are cached under `--cache` (the key
is the photo, the painting and the settings), so comparing a new network costs only the network. The fast
network runs at `--fast-size` (default: the same size), and is measured at its own size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from PIL import Image

from nst_core import Settings, stylize
from nst_core.backbones import load_backbone
from nst_core.fast.apply import MODELS, resolve_model, shipped_models, style_model, stylize_fast
from nst_core.fast.model import style_digest
from nst_core.gallery import get_style
from nst_core.images import decode_image, resize_to, to_tensor

from .__main__ import SHARED_IMAGES
from .measures import Judge, structure_kept
from .sheets import contact_sheet

PHOTOS = ("tubingen", "golden_gate", "brad_pitt")
DEFAULT_CACHE = Path.home() / ".cache" / "nst-studio" / "bench-slow"


def held_styles(model_paths: list[str]) -> list[tuple[str, str | None]]:
    """(style, model file or None for 'whichever shipped model holds it') for every style to measure."""
    if not model_paths:
        return [(entry.name, None) for path in shipped_models().values() for entry in MODELS.get(path).styles]
    return [(entry.name, path) for path in model_paths for entry in MODELS.get(resolve_model(path)).styles]


def slow_picture(photo: Image.Image, painting: Image.Image, settings: Settings,
                 cache: Path) -> tuple[Image.Image, float]:
    """The engine's picture (from the cache when made before) and the seconds it took (0 from the cache)."""
    key = hashlib.sha256(photo.tobytes() + style_digest(painting).encode()
                         + json.dumps(settings.to_dict(), sort_keys=True).encode()).hexdigest()[:32]
    path = cache / f"{key}.png"
    if path.is_file():
        return Image.open(path).convert("RGB"), 0.0
    start = time.perf_counter()
    picture = stylize(photo, painting, settings)
    seconds = time.perf_counter() - start
    cache.mkdir(parents=True, exist_ok=True)
    picture.save(path.with_suffix(".part"), format="PNG")
    path.with_suffix(".part").replace(path)
    return picture, seconds


def measure(judge: Judge, picture: Image.Image, photo: Image.Image, painting: Image.Image) -> tuple[float, float]:
    """(style distance, structure kept) of `picture`: the photo at the picture's size, the painting at its
    longest side (as the engine uses it)."""
    image, content = to_tensor(picture), to_tensor(resize_to(photo, picture.size))
    side = max(picture.size)
    style = to_tensor(painting.resize((side, max(1, round(side * painting.height / painting.width)))))
    return judge.style_distance(image, content, style), structure_kept(image, content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", nargs="+", default=list(PHOTOS), help="names in ../shared/images")
    parser.add_argument("--model", nargs="+", default=[], help="model files (default: the shipped models)")
    parser.add_argument("--styles", nargs="+", default=None, help="only these styles")
    parser.add_argument("--size", type=int, default=256, help="the slow engine's size (the issue measured at 256)")
    parser.add_argument("--fast-size", type=int, default=None, help="the fast network's size (default: --size)")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where the slow pictures are kept")
    parser.add_argument("--sheet", default=None, help="write the contact sheet here (.jpg or .png)")
    args = parser.parse_args()
    settings = Settings(size=args.size)
    fast_size = args.fast_size or args.size
    judge = Judge(load_backbone(settings.weights, pooling="max"))
    styles = [(name, path) for name, path in held_styles(args.model) if args.styles is None or name in args.styles]
    title = (f"Fast networks ({fast_size} px) vs the engine's defaults ({args.size} px, {settings.iterations} steps), "
             "unseen photos")
    print(f"## {title}")
    print("| style | photo | style distance: fast | slow | fast / slow | structure kept: fast | slow | "
          "time: fast | slow |")
    print("|---|---|---|---|---|---|---|---|---|")
    tiles, ratios = [], {}
    for name, model_path in styles:
        model = style_model(name, model_path)
        painting = decode_image(get_style(name).path)
        for photo_name in args.photos:
            photo = decode_image(SHARED_IMAGES / f"{photo_name}.jpg")
            start = time.perf_counter()
            fast = stylize_fast(model, photo, fast_size)
            fast_seconds = time.perf_counter() - start
            slow, slow_seconds = slow_picture(photo, painting, settings, Path(args.cache))
            (fast_style, fast_structure), (slow_style, slow_structure) = (
                measure(judge, fast, photo, painting), measure(judge, slow, photo, painting))
            ratio = fast_style / slow_style
            ratios.setdefault(name, []).append(ratio)
            slow_time = f"{slow_seconds:.0f} s" if slow_seconds else "cached"
            print(f"| {name} | {photo_name} | {fast_style:.3f} | {slow_style:.3f} | {ratio:.2f}x | "
                  f"{fast_structure:.2f} | {slow_structure:.2f} | {fast_seconds * 1e3:.0f} ms | {slow_time} |",
                  flush=True)
            tiles += [(photo, None, photo_name), (painting, None, name),
                      (slow, None, f"slow: style {slow_style:.2f}, structure {slow_structure:.2f}"),
                      (fast, None, f"fast: style {fast_style:.2f} ({ratio:.2f}x), structure {fast_structure:.2f}")]
            if args.sheet:  # after every row: a run cut short leaves what it made
                contact_sheet(tiles, 4, title).save(args.sheet, quality=88)
    print("\n| style | fast / slow style distance, worst photo | mean |\n|---|---|---|")
    for name, values in ratios.items():
        print(f"| {name} | {max(values):.2f}x | {sum(values) / len(values):.2f}x |")
    if args.sheet and tiles:
        print(f"contact sheet: {args.sheet} (photo | painting | slow | fast)")


if __name__ == "__main__":
    main()
