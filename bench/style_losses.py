"""What each style loss costs per step: the engine's whole step, and the loss alone, against Gram.

    python -m bench.style_losses --weights ../shared/weights/vgg16-caffe-features.pth --sizes 256 512 --steps 4
    python -m bench.style_losses --device cuda --precision auto --sizes 512 1024 --steps 20

Per size and loss: the engine's seconds per step (the median of `--rounds` interleaved runs, each timed
after its first step, no coarse to fine), its ratio to the Gram loss's, and the loss alone: its value and
gradient on the photo's features at every style layer, without the network, which is where the losses differ.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from nst_core import Settings, stylize_iter
from nst_core.backbones import load_backbone
from nst_core.config import STYLE_LOSSES
from nst_core.features import FeatureExtractor, pick_device
from nst_core.images import decode_image, resize_longest, to_tensor
from nst_core.losses import make_style_loss

from .machine import machine_name, sync

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def engine_step(content, style, settings: Settings, device: torch.device) -> float:
    stamps = []
    for _event in stylize_iter(content, style, settings):
        sync(device)
        stamps.append(time.perf_counter())
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def loss_alone(name: str, features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
               device: torch.device, repeats: int = 3) -> float:
    """Seconds for the loss's value and gradient at every style layer, from ready features."""
    loss = make_style_loss(name)
    summaries = {layer: loss.target([targets[layer]], [1.0]) for layer in features}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for layer, found in features.items():
            leaf = found.detach().float().requires_grad_(True)
            loss(leaf, summaries[layer]).backward()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--precision", default="fp32", help="the network's arithmetic (losses stay fp32)")
    args = parser.parse_args()
    device = pick_device(args.device)
    base = Settings(**({"weights": args.weights} if args.weights else {}))
    content = decode_image(SHARED_IMAGES / "tubingen.jpg")
    style = decode_image(SHARED_IMAGES / "starry_night.jpg")
    extractor = FeatureExtractor(load_backbone(base.weights, pooling=base.pooling), device, args.precision)
    print(f"# {machine_name(device)}, {args.precision}, {torch.get_num_threads()} threads, "
          f"{', '.join(base.style_layers)}")
    print("| size | style loss | ms/step (engine) | vs gram | loss alone, ms (value + gradient, every layer) |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        runs = {name: Settings(**{**base.to_dict(), "style_layers": base.style_layers, "size": size,
                                  "iterations": args.steps + 1, "coarse_to_fine": False, "style_loss": name,
                                  "preview_every": 1000, "precision": args.precision,
                                  "device": device.type})
                for name in STYLE_LOSSES}
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for _round in range(args.rounds):  # interleaved: a slow spell of a shared machine hits every loss
            for name, settings in runs.items():
                samples[name].append(engine_step(content, style, settings, device))
        with torch.no_grad():
            photo = extractor(to_tensor(resize_longest(content, size)).to(device), base.style_layers)
            painting = extractor(to_tensor(resize_longest(style, size)).to(device), base.style_layers)
        gram = statistics.median(samples["gram"])
        for name in runs:
            seconds = statistics.median(samples[name])
            alone = loss_alone(name, photo, painting, device)
            print(f"| {size} | {name} | {seconds * 1e3:.0f} | {seconds / gram:.2f}x | {alone * 1e3:.0f} |", flush=True)


if __name__ == "__main__":
    main()
