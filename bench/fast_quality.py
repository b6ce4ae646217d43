"""The shipped fast networks against the slow engine at its default budget, on photos none of them was
trained on: the neutral scores of bench/quality.py (style and content error, lower is better; the unstyled
photo's scores for scale) and a contact sheet to look at.

    NST_WEIGHTS=../shared/weights/vgg16-caffe-features.pth python -m bench.fast_quality --sheet docs/fast_sheet.jpg

Photos: ../shared/images' tubingen, golden_gate and brad_pitt (kept out of the training photos on purpose).
Paintings: each shipped model's gallery painting. The engine runs with its defaults (Settings()), the fast
network at the same output size.
"""

from __future__ import annotations

import argparse
import time

from PIL import Image, ImageDraw

from nst_core import Settings, stylize
from nst_core.backbones import load_backbone
from nst_core.fast.apply import MODELS, shipped_models, stylize_fast
from nst_core.gallery import get_style
from nst_core.images import decode_image, resize_to, to_tensor

from .__main__ import SHARED_IMAGES
from .quality import neutral_score

PHOTOS = ("tubingen", "golden_gate", "brad_pitt")
TILE = 256


def scores(net, picture: Image.Image, photo: Image.Image, painting: Image.Image) -> tuple[float, float]:
    """neutral_score of `picture` against the photo (at the picture's size) and the painting (at its longest side)."""
    content = to_tensor(resize_to(photo, picture.size))
    side = max(picture.size)
    style = to_tensor(painting.resize((side, round(side * painting.height / painting.width))))
    return neutral_score(net, to_tensor(picture), content, style)


def tile(image: Image.Image, label: str) -> Image.Image:
    out = Image.new("RGB", (TILE, TILE + 16), "white")
    small = image.copy()
    small.thumbnail((TILE, TILE))
    out.paste(small, ((TILE - small.width) // 2, (TILE - small.height) // 2))
    ImageDraw.Draw(out).text((4, TILE + 2), label, fill="black")
    return out


def save_sheet(rows: list[list[Image.Image]], path: str) -> None:
    sheet = Image.new("RGB", (4 * TILE, len(rows) * (TILE + 16)), "white")
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            sheet.paste(cell, (c * TILE, r * (TILE + 16)))
    sheet.save(path, quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", nargs="+", default=list(PHOTOS))
    parser.add_argument("--sheet", default=None, help="write the contact sheet here (.jpg or .png)")
    args = parser.parse_args()
    settings = Settings()
    net = load_backbone(settings.weights, pooling="max")
    print(f"## Fast networks vs the engine's defaults ({settings.size} px, {settings.iterations} steps), unseen photos")
    print("| style | photo | style error: fast | slow | photo | content error: fast | slow | time: fast | slow |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows, totals = [], {"fast": [0.0, 0.0], "slow": [0.0, 0.0], "photo": [0.0, 0.0]}
    for photo_name in args.photos:  # every network on one photo first: a cut-short run still compares them
        photo = decode_image(SHARED_IMAGES / f"{photo_name}.jpg")
        for name, path in shipped_models().items():
            model = MODELS.get(path)
            painting = decode_image(get_style(name).path)
            start = time.perf_counter()
            fast = stylize_fast(model, photo, settings.size)
            fast_seconds = time.perf_counter() - start
            start = time.perf_counter()
            slow = stylize(photo, painting, settings)
            slow_seconds = time.perf_counter() - start
            measured = {"fast": scores(net, fast, photo, painting), "slow": scores(net, slow, photo, painting),
                        "photo": scores(net, resize_to(photo, fast.size), photo, painting)}
            for key, (style_error, content_error) in measured.items():
                totals[key][0] += style_error
                totals[key][1] += content_error
            print(f"| {name} | {photo_name} | {measured['fast'][0]:.3f} | {measured['slow'][0]:.3f} | "
                  f"{measured['photo'][0]:.3f} | {measured['fast'][1]:.3f} | {measured['slow'][1]:.3f} | "
                  f"{fast_seconds * 1e3:.0f} ms | {slow_seconds:.0f} s |", flush=True)
            rows.append([tile(photo, photo_name), tile(painting, name), tile(fast, f"fast {fast_seconds * 1e3:.0f} ms"),
                         tile(slow, f"slow {slow_seconds:.0f} s")])
            if args.sheet:
                save_sheet(rows, args.sheet)  # after every row: a long run cut short leaves what it made
    count = max(1, len(rows))
    print("| mean | | " + " | ".join(f"{totals[k][0] / count:.3f}" for k in ("fast", "slow", "photo")) + " | "
          + " | ".join(f"{totals[k][1] / count:.3f}" for k in ("fast", "slow")) + " | | |")
    if args.sheet and rows:
        print(f"contact sheet: {args.sheet} (photo | painting | fast | slow)")


if __name__ == "__main__":
    main()
