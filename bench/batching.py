"""Does batching several visitors' steps together pay? Per image, B images in one batch against one at a time,
in the same process: the network's forward and backward to the pixels alone (VGG to relu5_1, the engine's
memory format and precision), and the engine's whole step (nst_core.together: B runs of the default objective,
each with its own optimiser, against one run).

    python -m bench.batching --sizes 256 --batch 4
    python -m bench.batching --device cuda --sizes 512 1024 --batch 4
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch
from PIL import Image

from nst_core import Settings
from nst_core.backbones import load_backbone
from nst_core.cpu_memory import keep_freed_memory
from nst_core.features import pick_device
from nst_core.images import to_pil
from nst_core.together import Request, Together

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


def engine_seconds_per_image(model, device: torch.device, batch: int, size: int, steps: int) -> float:
    """Mean seconds per image of an engine step, `batch` runs together (1: a run alone), after the first step."""
    settings = Settings(size=size, iterations=steps, coarse_to_fine=False, device=device.type, preview_every=1000)
    requests = [Request(gradient_image(size, size * 3 // 4, seed), gradient_image(size, size, seed + 100), settings)
                for seed in range(batch)]
    stamps = []
    for index, _event in Together(requests, backbone=model):
        if index == 0:
            stamps.append(time.perf_counter())
    sync(device)
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1) / batch


def gradient_image(width: int, height: int, seed: int) -> Image.Image:
    """A smooth random picture: timing needs shapes, not paintings."""
    generator = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, 4, 4, generator=generator)
    return to_pil(torch.nn.functional.interpolate(small, size=(height, width), mode="bilinear"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--weights", default="untrained", help="only the shapes matter for timing")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engine-steps", type=int, default=12, help="engine steps per measurement (the first is "
                        "not timed)")
    args = parser.parse_args()
    device = pick_device(args.device)
    if device.type == "cpu":
        keep_freed_memory()  # as the engine runs
    model = load_backbone(args.weights).to(device, memory_format=torch.channels_last)
    print(f"# {machine_name(device)}, {torch.get_num_threads()} threads, network forward + backward only")
    print("| size | what | images per batch | ms per image | per-image speed-up |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        measures = {"network": partial(seconds_per_image, model, device, size=size, repeats=args.repeats),
                    "engine step": partial(engine_seconds_per_image, model, device, size=size,
                                           steps=args.engine_steps)}
        for what, measure in measures.items():
            alone, together = measure(batch=1), measure(batch=args.batch)
            print(f"| {size} | {what} | 1 | {alone * 1e3:.1f} | 1.00x |")
            print(f"| {size} | {what} | {args.batch} | {together * 1e3:.1f} | {alone / together:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
