"""The default picture's size (issue 21): today's default run against candidates at a larger size, on the picture
bench's panel, judged as a person sees them: at the larger size (a smaller picture is shown stretched).

    python -m bench.default_size --weights ../shared/weights/vgg16-caffe-features.pth --out docs/quality/size

Each method is a dict of settings on top of the engine's defaults; "previous" pins the default before this bench
(256 px, 150 steps, each finer scale half the steps of the one before). "previous, equal time" is the same run
given as many steps as the slowest candidate took seconds, found from the previous run's own seconds per step on
the pair, so a candidate is compared with what the old default makes in the same time too (run only where a
candidate took longer than the previous default: otherwise "previous" already had at least its time). Runs of one
pair are timed one after the other in this process: label the figures quiet or loaded.

Writes, under --out: each result, a sheet per pair (every method at the judged size, 1:1 crops of a detail
beside them) and results.json; prints the table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from PIL import Image

from nst_core import Settings, stylize_iter
from nst_core.images import resize_longest, resize_to, to_tensor

from .measures import Judge, judge
from .pictures import PANEL, load_pair
from .sheets import contact_sheet

PREVIOUS = {"size": 256, "iterations": 150, "scale_step_ratio": 0.5}
EQUAL_TIME = "previous, equal time"
SHOWN = ("style", "structure", "speckle", "colour")


def run(photo: Image.Image, painting: Image.Image, settings: Settings) -> tuple[Image.Image, float]:
    start = time.perf_counter()
    final = None
    for event in stylize_iter(photo, painting, settings):
        final = event
    return final.preview, time.perf_counter() - start


def judged(judge_net: Judge, image: Image.Image, photo: Image.Image, painting: Image.Image, side: int) -> dict:
    """The bench's measures of `image` as shown at `side` px on its long side (stretched if smaller)."""
    shown = resize_longest(image, side)
    return judge(judge_net, to_tensor(shown), to_tensor(resize_to(photo, shown.size)),
                 to_tensor(resize_longest(painting, side)))


def detail(image: Image.Image, side: int, crop: int = 128) -> Image.Image:
    """A 1:1 crop of the picture's centre as shown at `side` px: where softness shows."""
    shown = resize_longest(image, side)
    left, top = (shown.width - crop) // 2, (shown.height - crop) // 2
    return shown.crop((left, top, left + crop, top + crop))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="weights source or file")
    parser.add_argument("--pairs", type=int, nargs="+", default=[0, 1, 2, 3, 6, 7], help="panel indices")
    parser.add_argument("--methods", nargs="+", default=["defaults={}"], metavar="NAME=JSON",
                        help="candidates: settings on top of the engine's defaults")
    parser.add_argument("--side", type=int, default=512, help="the size every result is judged and shown at")
    parser.add_argument("--out", default="out/default-size")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    methods = {"previous": PREVIOUS, **{name: json.loads(value) for name, value in
                                       (item.split("=", 1) for item in args.methods)}}
    from nst_core.backbones import load_backbone
    judge_net = Judge(load_backbone(args.weights, pooling="max"))
    rows: dict[str, list[dict]] = {name: [] for name in [*methods, EQUAL_TIME]}  # equal time: only if needed
    for index in args.pairs:
        pair = load_pair(*PANEL[index])
        results = {}
        for name, overrides in methods.items():
            settings = Settings(**{"weights": args.weights, "preview_every": 1000, **overrides})
            results[name] = (*run(pair.photo, pair.painting, settings), settings.iterations)
        slowest = max(seconds for name, (_, seconds, _) in results.items() if name != "previous")
        _, previous_seconds, previous_steps = results["previous"]
        steps = round(previous_steps * slowest / previous_seconds)
        if steps > previous_steps:  # a candidate took longer: the previous default gets as long too
            settings = Settings(**{"weights": args.weights, "preview_every": 1000, **PREVIOUS, "iterations": steps})
            results[EQUAL_TIME] = (*run(pair.photo, pair.painting, settings), steps)
        tiles = []
        for name, (image, seconds, steps) in results.items():
            image.save(out / f"{pair.name.replace(' ', '_')}__{name.replace(' ', '_').replace(',', '')}.png")
            measures = judged(judge_net, image, pair.photo, pair.painting, args.side)
            rows[name].append({"pair": pair.name, "seconds": seconds, "steps": steps, "size": list(image.size),
                               **{m: measures[m] for m in SHOWN}})
            caption = f"{name}: {max(image.size)} px, {steps} steps, {seconds:.0f} s"
            tiles += [(resize_longest(image, args.side), None, caption), (detail(image, args.side), None, "1:1 detail")]
            print(f"{pair.name:40s} {name:22s} {max(image.size):4d} px {steps:4d} steps {seconds:6.1f} s  "
                  + "  ".join(f"{m} {measures[m]:.3f}" for m in SHOWN), flush=True)
        contact_sheet(tiles, columns=4, title=f"{pair.name}, shown at {args.side} px",
                      side=320).save(out / f"sheet-{index}.jpg", quality=90)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    print("\n| method | px | steps | seconds (x previous) | " + " | ".join(SHOWN) + " |")
    print("|---|---|---|---|" + "---|" * len(SHOWN))
    base = [r["seconds"] for r in rows["previous"]]
    for name, results in rows.items():
        if len(results) < len(base):
            print(f"| {name} | run on {len(results)} of {len(base)} pairs (where a candidate was slower) |")
            continue
        ratio = sum(r["seconds"] / b for r, b in zip(results, base)) / len(base)
        mean = {m: sum(r[m] for r in results) / len(results) for m in SHOWN}
        print(f"| {name} | {max(results[0]['size'])} | {sum(r['steps'] for r in results) / len(results):.0f} | "
              f"{sum(r['seconds'] for r in results) / len(results):.1f} ({ratio:.2f}x) | "
              + " | ".join(f"{mean[m]:.3f}" for m in SHOWN) + " |")


if __name__ == "__main__":
    main()
