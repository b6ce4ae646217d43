"""Big outputs: seconds per step and peak memory at large sizes, tiled and untiled, each in a fresh process.

    python -m bench.large --weights ../shared/weights/vgg16-caffe-features.pth --sizes 1024 2048 4096 --steps 2
    python -m bench.large --sizes 2048 --tile-sizes 1024 4096     # tiled against untiled at 2048 px
    python -m bench.large --sizes 4096 --whole --steps 150 --save out/large   # whole default runs, pictures kept

Each row runs `--steps` optimiser steps at one size (no coarse to fine) in a child process, so its peak
memory is that run's alone (on a CPU the process's resident set, Linux VmHWM; on a GPU the allocated
tensors); the first step also builds the targets (the painting's features, tile by tile at a tiled size) and
is timed apart. What a whole coarse-to-fine run costs follows from the rows: its steps at each scale times that
scale's seconds per step. `--whole` runs exactly that instead, the default coarse-to-fine schedule with
`--steps` iterations in all, and reports its total time; `--save` keeps each row's picture.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def child(size: int, tile_size: int, args: argparse.Namespace) -> dict:
    """One row, measured in this process (run as a child by `main`)."""
    from nst_core import Settings, stylize_iter
    from nst_core.features import pick_device

    from .machine import peak_gib, reset_peak_memory, sync

    device = pick_device(args.device)
    values = {"size": size, "iterations": args.steps, "coarse_to_fine": args.whole, "tile_size": tile_size,
              "preview_every": 1000, "device": device.type}
    if args.weights:
        values["weights"] = args.weights
    reset_peak_memory(device)
    start = time.perf_counter()
    stamps, final = [], None
    for event in stylize_iter(args.content, args.style, Settings(**values)):
        sync(device)
        stamps.append(time.perf_counter())
        final = event
    per_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else float("nan")
    if args.save:
        Path(args.save).mkdir(parents=True, exist_ok=True)
        final.preview.save(Path(args.save) / f"{size}-tile{tile_size}-{'whole' if args.whole else 'steps'}.png")
    return {"size": size, "tile_size": tile_size, "tiles": final.tiles, "first_step_s": stamps[0] - start,
            "s_per_step": per_step, "total_s": stamps[-1] - start, "steps": len(stamps),
            "peak_gib": peak_gib(device), "device": device.type, "output": list(final.output_size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--tile-sizes", type=int, nargs="+", default=[1024])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--whole", action="store_true", help="a whole coarse-to-fine run of --steps iterations")
    parser.add_argument("--save", default=None, help="a folder for each row's picture")
    parser.add_argument("--content", default=str(SHARED_IMAGES / "tubingen.jpg"))
    parser.add_argument("--style", default=str(SHARED_IMAGES / "starry_night.jpg"))
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args)))
        return
    memory = "GPU memory (allocated)" if args.device == "cuda" else "memory (process RSS)"
    print(f"| size | tile size | tiles | steps | first step (targets + 1 step) | s/step | total | peak {memory} |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for size in args.sizes:
        for tile_size in args.tile_sizes:
            command = [sys.executable, "-m", "bench.large", "--child", str(size), str(tile_size), "--steps",
                       str(args.steps), "--device", args.device, "--content", args.content, "--style", args.style]
            for flag, value in (("--weights", args.weights), ("--save", args.save)):
                if value:
                    command += [flag, value]
            if args.whole:
                command.append("--whole")
            result = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
            if result.returncode != 0:
                print(f"| {size} | {tile_size} | failed: {result.stderr.strip().splitlines()[-1]} | | | | | |",
                      flush=True)
                continue
            row = json.loads(result.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"| {row['output'][0]}x{row['output'][1]} | {tile_size} | {row['tiles']} | {row['steps']} | "
                  f"{row['first_step_s']:.1f} s | {row['s_per_step']:.2f} | {row['total_s']:.1f} s | "
                  f"{row['peak_gib']:.2f} GiB |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
