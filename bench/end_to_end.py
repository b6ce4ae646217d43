"""End to end on the same budget: the engine with its defaults (as the CLI runs it) against the textbook
loop, wall-clock time and neutral quality, in one process, both from loaded weights and decoded images.
The engine also runs on a half and a quarter of the budget, to show what quality each second buys.

    python -m bench.end_to_end --weights ../shared/weights/vgg16-caffe-features.pth --size 256 --iterations 100
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import torch

from nst_core import Settings, stylize
from nst_core.backbones import load_backbone
from nst_core.cpu_memory import keep_freed_memory
from nst_core.images import decode_image, resize_longest, to_tensor

from .quality import neutral_score
from .textbook import textbook_stylize

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def timed(run) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    image = run()
    return time.perf_counter() - start, image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1, help="time each row this many times; print the median")
    parser.add_argument("--content", default=str(SHARED_IMAGES / "golden_gate.jpg"))
    parser.add_argument("--style", default=str(SHARED_IMAGES / "the_scream.jpg"))
    args = parser.parse_args()
    keep_freed_memory()  # the engine turns this on for the process anyway: give the textbook loop it too
    content_img, style_img = decode_image(args.content), decode_image(args.style)
    net = load_backbone(args.weights, pooling="max")
    content = to_tensor(resize_longest(content_img, args.size))
    style = to_tensor(resize_longest(style_img, args.size))
    torch.optim.LBFGS([torch.zeros(1, requires_grad=True)])  # the first optimiser imports torch._dynamo (~3 s)
    # Both loops start from loaded weights and decoded images; resizing and targets are timed for both.
    backbone = load_backbone(args.weights, pooling=Settings().pooling)
    budgets = [args.iterations] + [b for b in (args.iterations // 2, args.iterations // 4) if b >= 1]
    runs = {("textbook loop", args.iterations):
            lambda: textbook_stylize(net, content, style, evaluations=args.iterations)}
    for budget in budgets:
        settings = Settings(size=args.size, iterations=budget, weights=args.weights)
        runs[("nst_core", budget)] = lambda s=settings: to_tensor(stylize(content_img, style_img, s, backbone=backbone))
    seconds: dict[tuple[str, int], list[float]] = {key: [] for key in runs}
    images = {}
    for _round in range(args.rounds):  # interleaved, so a slow spell of the machine hits every row
        for key, run in runs.items():
            elapsed, images[key] = timed(run)
            seconds[key].append(elapsed)
    print(f"# {args.size} px, {Path(args.content).stem} + {Path(args.style).stem}, {torch.get_num_threads()} threads, "
          f"median of {args.rounds}")
    print("| implementation | steps | seconds | style error | content error | sum (lower is better) |")
    print("|---|---|---|---|---|---|")
    for (name, budget), image in images.items():
        s, c = neutral_score(net, image, content, style)
        print(f"| {name} | {budget} | {statistics.median(seconds[(name, budget)]):.1f} | {s:.4f} | {c:.4f} | "
              f"{s + c:.4f} |")
    same = statistics.median(seconds[("textbook loop", args.iterations)]) / statistics.median(
        seconds[("nst_core", args.iterations)])
    print(f"speed-up on the same budget: {same:.2f}x" + (
        "" if math.isfinite(images[("textbook loop", args.iterations)].sum().item())
        else " (the textbook loop diverged: its image is NaN)"))


if __name__ == "__main__":
    main()
