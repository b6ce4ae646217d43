"""End to end on the same budget: the engine with its defaults (as the CLI runs it) against the textbook
loop, wall-clock time and neutral quality, in one process, both from loaded weights and decoded images.

    python -m bench.end_to_end --weights ../shared/weights/vgg16-caffe-features.pth --size 256 --iterations 100
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from nst_core import Settings, stylize
from nst_core.backbones import load_backbone
from nst_core.images import decode_image, resize_longest, to_tensor

from .quality import neutral_score
from .textbook import textbook_stylize

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--content", default=str(SHARED_IMAGES / "golden_gate.jpg"))
    parser.add_argument("--style", default=str(SHARED_IMAGES / "the_scream.jpg"))
    args = parser.parse_args()
    content_img, style_img = decode_image(args.content), decode_image(args.style)
    net = load_backbone(args.weights, pooling="max")
    content = to_tensor(resize_longest(content_img, args.size))
    style = to_tensor(resize_longest(style_img, args.size))
    torch.optim.LBFGS([torch.zeros(1, requires_grad=True)])  # the first optimiser imports torch._dynamo (~3 s)
    start = time.perf_counter()
    textbook = textbook_stylize(net, content, style, evaluations=args.iterations)
    textbook_seconds = time.perf_counter() - start
    settings = Settings(size=args.size, iterations=args.iterations, weights=args.weights)
    # Both loops start from loaded weights and decoded images; resizing and targets are timed for both.
    backbone = load_backbone(args.weights, pooling=settings.pooling)
    start = time.perf_counter()
    ours = to_tensor(stylize(content_img, style_img, settings, backbone=backbone))
    ours_seconds = time.perf_counter() - start
    print(f"# {args.size} px, {args.iterations} steps, {torch.get_num_threads()} threads")
    print("| implementation | seconds | style error | content error | sum |")
    print("|---|---|---|---|---|")
    for name, seconds, image in (("textbook loop", textbook_seconds, textbook), ("nst_core", ours_seconds, ours)):
        s, c = neutral_score(net, image, content, style)
        print(f"| {name} | {seconds:.1f} | {s:.4f} | {c:.4f} | {s + c:.4f} |")
    print(f"speed-up: {textbook_seconds / ours_seconds:.2f}x")


if __name__ == "__main__":
    main()
