"""Would batching several visitors' steps together pay? The network's forward and backward to the pixels
(VGG to relu5_1, the engine's memory format and precision) for B images in one batch, per image, against
one image at a time, in the same process.

    python -m bench.batching --sizes 256 --batch 4
    python -m bench.batching --device cuda --sizes 512 1024 --batch 4
"""

from __future__ import annotations

import argparse
import time

import torch

from nst_core.backbones import load_backbone
from nst_core.cpu_memory import keep_freed_memory
from nst_core.features import pick_device

from .machine import machine_name, sync
from .textbook import CONTENT_LAYER, STYLE_LAYERS


def seconds_per_image(model, device: torch.device, batch: int, size: int, repeats: int) -> float:
    """Mean seconds per image of forward + backward to the pixels, after one warm-up pass."""
    wanted = {CONTENT_LAYER, *STYLE_LAYERS}
    x = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            feats = model(x, wanted)
        sum(f.float().square().mean() for f in feats.values()).backward()
        x.grad = None

    step()
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    sync(device)
    return (time.perf_counter() - start) / (repeats * batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--weights", default="untrained", help="only the shapes matter for timing")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = pick_device(args.device)
    if device.type == "cpu":
        keep_freed_memory()  # as the engine runs
    model = load_backbone(args.weights).to(device, memory_format=torch.channels_last)
    print(f"# {machine_name(device)}, {torch.get_num_threads()} threads, network forward + backward only")
    print("| size | images per batch | ms per image | per-image speed-up |")
    print("|---|---|---|---|")
    for size in args.sizes:
        alone = seconds_per_image(model, device, 1, size, args.repeats)
        together = seconds_per_image(model, device, args.batch, size, args.repeats)
        print(f"| {size} | 1 | {alone * 1e3:.1f} | 1.00x |")
        print(f"| {size} | {args.batch} | {together * 1e3:.1f} | {alone / together:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
