"""Big outputs: seconds per step and peak memory at large sizes, tiled and untiled, each in a fresh process.

    python -m bench.large --weights ../shared/weights/vgg16-caffe-features.pth --sizes 1024 2048 4096 --steps 2
    python -m bench.large --sizes 2048 --tile-sizes 1024 4096     # tiled against untiled at 2048 px

Each row runs `--steps` optimiser steps at one size (no coarse to fine) in a child process, so its peak
resident memory (Linux VmHWM) is that run's alone; the first step also builds the targets (the painting's
features, tile by tile at a tiled size) and is timed apart. What a whole coarse-to-fine run costs follows
from the rows: its steps at each scale times that scale's seconds per step.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def child(size: int, tile_size: int, steps: int, weights: str | None, content: str, style: str) -> dict:
    """One row, measured in this process (run as a child by `main`)."""
    from nst_core import Settings, stylize_iter

    values = {"size": size, "iterations": steps, "coarse_to_fine": False, "tile_size": tile_size,
              "preview_every": 1000}
    if weights:
        values["weights"] = weights
    start = time.perf_counter()
    stamps, tiles = [], 1
    for event in stylize_iter(content, style, Settings(**values)):
        stamps.append(time.perf_counter())
        tiles = event.tiles
    with open("/proc/self/status") as f:
        peak_kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    per_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else float("nan")
    return {"size": size, "tile_size": tile_size, "tiles": tiles, "first_step_s": stamps[0] - start,
            "s_per_step": per_step, "peak_gib": peak_kib / 2**20, "output": list(event.output_size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--tile-sizes", type=int, nargs="+", default=[1024])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--content", default=str(SHARED_IMAGES / "tubingen.jpg"))
    parser.add_argument("--style", default=str(SHARED_IMAGES / "starry_night.jpg"))
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.steps, args.weights, args.content, args.style)))
        return
    print("| size | tile size | tiles | first step (targets + 1 step) | s/step | peak memory (process RSS) |")
    print("|---|---|---|---|---|---|")
    rows = []
    for size in args.sizes:
        for tile_size in args.tile_sizes:
            command = [sys.executable, "-m", "bench.large", "--child", str(size), str(tile_size), "--steps",
                       str(args.steps), "--content", args.content, "--style", args.style]
            if args.weights:
                command += ["--weights", args.weights]
            result = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
            if result.returncode != 0:
                print(f"| {size} | {tile_size} | failed: {result.stderr.strip().splitlines()[-1]} | | | |", flush=True)
                continue
            row = json.loads(result.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"| {row['output'][0]}x{row['output'][1]} | {tile_size} | {row['tiles']} | "
                  f"{row['first_step_s']:.1f} s | {row['s_per_step']:.1f} | {row['peak_gib']:.2f} GiB |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
