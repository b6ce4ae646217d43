"""Style distance against training steps, from the pictures a training run leaves: `train` writes the network's
output on the held-out photo every --sample-every steps (MODEL-samples/step-NNNNNN.png, one picture per style
side by side), and this measures each with bench/measures.py's style distance (1 = the unstyled photo, 0 = the
painting's feature statistics), per style, as a table and a plot.

    NST_WEIGHTS=../shared/weights/vgg16-caffe-features.pth python -m bench.fast_curve gallery-samples \\
        --styles stained_glass pointillism --photo ../shared/images/tubingen.jpg --plot docs/fast/curve.png

The held-out photo is one the networks never saw (tubingen by default), at the samples' size.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from PIL import Image

from nst_core.backbones import load_backbone
from nst_core.config import default_weights
from nst_core.gallery import resolve_style_source
from nst_core.images import decode_image, resize_to, to_tensor

from .__main__ import SHARED_IMAGES
from .measures import Judge
from .sheets import line_plot

STEP = re.compile(r"step-(\d+)\.png$")


def samples(folder: Path) -> list[tuple[int, Path]]:
    """(step, picture) of every sample in the folder, in step order."""
    found = [(int(match.group(1)), path) for path in folder.iterdir() if (match := STEP.search(path.name))]
    return sorted(found)


def style_parts(picture: Image.Image, count: int) -> list[Image.Image]:
    """The picture of each style: a sample shows the styles side by side, each as wide as the others."""
    width = picture.width // count
    return [picture.crop((i * width, 0, (i + 1) * width, picture.height)) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("samples", type=Path, help="a training run's samples folder")
    parser.add_argument("--styles", nargs="+", required=True,
                        help="the run's paintings in training order (gallery names or files)")
    parser.add_argument("--photo", default=str(SHARED_IMAGES / "tubingen.jpg"), help="the held-out photo")
    parser.add_argument("--plot", type=Path, default=None, help="write the curve here (.png)")
    args = parser.parse_args()
    judge = Judge(load_backbone(default_weights(), pooling="max"))
    photo = decode_image(args.photo)
    paintings = [decode_image(resolve_style_source(name)) for name in args.styles]
    runs = samples(args.samples)
    if not runs:
        parser.error(f"no step-NNNNNN.png pictures in {args.samples}")
    print("| step | " + " | ".join(Path(name).stem for name in args.styles) + " |")
    print("|---|" + "---|" * len(args.styles))
    series: dict[str, list[float]] = {Path(name).stem: [] for name in args.styles}
    for step, path in runs:
        parts = style_parts(Image.open(path).convert("RGB"), len(args.styles))
        distances = []
        for part, painting, name in zip(parts, paintings, series):
            side = max(part.size)
            style = painting.resize((side, max(1, round(side * painting.height / painting.width))))
            distance = judge.style_distance(to_tensor(part), to_tensor(resize_to(photo, part.size)), to_tensor(style))
            series[name].append(distance)
            distances.append(distance)
        print(f"| {step} | " + " | ".join(f"{d:.3f}" for d in distances) + " |", flush=True)
    if args.plot:
        every = runs[0][0]  # the plot's x axis steps by the sampling interval: a last sample off it is left out
        regular = [k for k, (step, _) in enumerate(runs) if step == every * (k + 1)]
        series = {name: [values[k] for k in regular] for name, values in series.items()}
        line_plot(series, args.plot, f"Style distance on the held-out photo ({Path(args.photo).stem}) while training",
                  "training step", "style distance (1 = the photo, 0 = the painting)", first_x=every, x_step=every)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
