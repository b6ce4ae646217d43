"""Regions (issue 23): contact sheets of region runs beside a plain run, and what a region map costs.

    python -m bench.regions --weights ../shared/weights/vgg16-caffe-features.pth --out docs/regions

Each case is a photo from ../shared/images, a map (one of the studio's presets, or a simple shape drawn here: a
sky band, a box), and what paints each region. Every case runs plainly (its main painting over the whole photo)
and with its map, at the engine's defaults, one after the other in this process, so the two-region run's time is
a ratio against the plain run's: label the figures quiet or loaded. Writes the maps, the results, sheet.jpg
and results.json.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from nst_core import Settings, stylize_iter
from nst_core.images import decode_image, resize_longest
from nst_core.region_presets import KEEP, MAIN, SECOND, preset_labels
from nst_core.regions import RegionPlan, make_plan

from .pictures import SHARED_IMAGES as IMAGES
from .sheets import contact_sheet

BLUE, GREEN, RED = (0, 0, 255), (0, 255, 0), (255, 0, 0)


@dataclass(frozen=True)
class Case:
    name: str
    photo: str
    main: str  # the painting of every region the case names no other for (RED on the map)
    others: dict[tuple[int, int, int], str | None]  # a region's colour -> its painting, or None: keep the photo
    # How the map is drawn: a studio preset ("preset:sky only": nst_core.region_presets, its second painting BLUE
    # and the photo kept GREEN), "sky" (a band at the top, BLUE) or "box" (a rectangle, GREEN).
    shape: str
    extent: tuple[float, ...] = ()  # the band's height, or the box's left, top, right, bottom, as shares
    painting_sky: float | None = None  # a map of the main painting too: its sky band's height (BLUE), as a share


CASES = (
    Case("two paintings split at the horizon (preset)", "tubingen.jpg", "the_scream.jpg", {BLUE: "starry_night.jpg"},
         "preset:split at the horizon"),
    Case("sky only, the rest keeps the photo (preset)", "golden_gate.jpg", "starry_night.jpg", {GREEN: None},
         "preset:sky only"),
    Case("keep the subject, a portrait painting (preset)", "brad_pitt.jpg", "picasso_selfport1907.jpg",
         {GREEN: None}, "preset:keep the subject"),
    Case("keep the houses, a portrait painting over them", "tubingen.jpg", "picasso_selfport1907.jpg", {GREEN: None},
         "box", (0.5, 0.1, 1.0, 0.72)),
    Case("sky from the painting's sky (a map of each)", "tubingen.jpg", "starry_night.jpg", {}, "sky", (0.36,),
         painting_sky=0.62),
)
PRESET_COLOURS = {MAIN: RED, SECOND: BLUE, KEEP: GREEN}


def draw_map(size: tuple[int, int], case: Case, sky: float | None = None, photo: Image.Image | None = None
             ) -> Image.Image:
    """The photo's map (or, given `sky`, a painting's: a sky band that high)."""
    width, height = size
    if sky is None and case.shape.startswith("preset:"):
        labels = preset_labels(case.shape.removeprefix("preset:"), photo)
        colours = np.zeros((*labels.shape, 3), dtype=np.uint8)
        for label, colour in PRESET_COLOURS.items():
            colours[labels == label] = colour
        return Image.fromarray(colours)
    image = Image.new("RGB", size, RED)
    draw = ImageDraw.Draw(image)
    if sky is not None or case.shape == "sky":
        draw.rectangle([0, 0, width, round(height * (sky or case.extent[0]))], fill=BLUE)
    else:
        left, top, right, bottom = case.extent
        draw.rectangle([left * width, top * height, right * width, bottom * height], fill=GREEN)
    return image


def plan_for(case: Case, photo: Image.Image, map_image: Image.Image) -> tuple[RegionPlan, list[Image.Image]]:
    paintings = [decode_image(IMAGES / case.main)]
    named: dict[tuple[int, int, int], tuple[int, ...]] = {}
    for colour, painting in case.others.items():
        if painting is None:
            named[colour] = ()
        else:
            paintings.append(decode_image(IMAGES / painting))
            named[colour] = (len(paintings) - 1,)
    plan = make_plan(map_image, photo.size, named, (0,))
    if case.painting_sky is not None:
        own = draw_map(paintings[0].size, case, sky=case.painting_sky)
        plan = replace(plan, painting_maps={0: make_plan(own, paintings[0].size, {}, (), of="painting")})
    return plan, paintings


def run(photo: Image.Image, paintings: list[Image.Image], settings: Settings,
        plan: RegionPlan | None) -> tuple[Image.Image, float]:
    start = time.perf_counter()
    final = None
    for event in stylize_iter(photo, paintings, settings, regions=plan):
        final = event
    return final.preview, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/regions"))
    parser.add_argument("--size", type=int, default=Settings().size)
    parser.add_argument("--iterations", type=int, default=Settings().iterations)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings(weights=args.weights, size=args.size, iterations=args.iterations)
    run(decode_image(IMAGES / "tubingen.jpg"), [decode_image(IMAGES / "starry_night.jpg")],
        Settings(weights=args.weights, size=64, iterations=2), None)  # loads the weights outside the timings
    tiles, results = [], []
    for index, case in enumerate(CASES):
        photo = decode_image(IMAGES / case.photo)
        map_image = draw_map(photo.size, case, photo=photo)
        plan, paintings = plan_for(case, photo, map_image)
        plain, plain_seconds = run(photo, paintings[:1], settings, None)
        painted, region_seconds = run(photo, paintings, settings, plan)
        map_image.save(args.out / f"map-{index}.png")
        painted.save(args.out / f"regions-{index}.jpg", quality=92)
        plain.save(args.out / f"plain-{index}.jpg", quality=92)
        shown = resize_longest(map_image, 256)
        if case.painting_sky is not None:  # the painting's map beside the painting, in the plain run's inset
            painting_shown = decode_image(IMAGES / case.main)
            own = draw_map(painting_shown.size, case, sky=case.painting_sky)
            painting_inset = Image.blend(painting_shown, own, 0.45)
        else:
            painting_inset = decode_image(IMAGES / case.main)
        tiles += [(resize_longest(photo, 512), shown, f"{case.photo} and its map"),
                  (plain, painting_inset, f"plain: {case.main}"),
                  (painted, None, case.name)]
        results.append({"case": case.name, "photo": case.photo, "plain_seconds": round(plain_seconds, 1),
                        "regions_seconds": round(region_seconds, 1), "regions": len(plan.regions),
                        "ratio": round(region_seconds / plain_seconds, 2)})
        print(f"{case.name:42s} plain {plain_seconds:5.1f} s  regions {region_seconds:5.1f} s  "
              f"ratio {region_seconds / plain_seconds:.2f}", flush=True)
    contact_sheet(tiles, 3, f"Regions at {args.size} px, {args.iterations} steps", side=384) \
        .save(args.out / "sheet.jpg", quality=90)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
