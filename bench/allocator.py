"""What keeping freed CPU memory (nst_core.cpu_memory) is worth: the network's forward and backward to the
pixels (VGG to relu5_1, channels_last, the engine's Gram losses) with glibc's default allocator and with
freed memory kept, per step: milliseconds, page faults and kernel time. The setting is process-wide, so
each side runs in a fresh interpreter of its own, the two interleaved.

    python -m bench.allocator --sizes 256 512 1024
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

STEPS = """
import json, resource, sys, time, torch
from nst_core import cpu_memory
from nst_core.backbones import load_backbone
from nst_core.losses import GramLoss
keep, size, steps = sys.argv[1] == "keep", int(sys.argv[2]), int(sys.argv[3])
if keep:
    cpu_memory.keep_freed_memory()
model = load_backbone("untrained").to(memory_format=torch.channels_last)
layers = {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"}
x = torch.rand(1, 3, size * 3 // 4, size).contiguous(memory_format=torch.channels_last).requires_grad_(True)
with torch.no_grad():
    loss = GramLoss()
    targets = {k: loss.target([v], [1.0]) for k, v in model(torch.rand(1, 3, size * 3 // 4, size), layers).items()}
def step():
    feats = model(x, layers)
    sum(loss(feats[k], targets[k]) for k in layers).backward()
    x.grad = None
step(); step()  # kernels built, and the kept heap grown to a step's needs
usage, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for _ in range(steps):
    step()
seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"ms": 1e3 * seconds / steps, "faults": (after.ru_minflt - usage.ru_minflt) / steps,
                  "kernel_ms": 1e3 * (after.ru_stime - usage.ru_stime) / steps}))
"""


def measure(mode: str, size: int, steps: int) -> dict:
    result = subprocess.run([sys.executable, "-c", STEPS, mode, str(size), str(steps)], capture_output=True,
                            text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side; the median is printed")
    args = parser.parse_args()
    print("| size | allocator | ms/step | page faults/step | kernel ms/step | speed-up |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        runs: dict[str, list[dict]] = {"glibc default": [], "freed memory kept": []}
        for _round in range(args.rounds):
            for label, mode in (("glibc default", "plain"), ("freed memory kept", "keep")):
                runs[label].append(measure(mode, size, args.steps))
        medians = {label: {key: statistics.median(r[key] for r in rows) for key in rows[0]}
                   for label, rows in runs.items()}
        base = medians["glibc default"]["ms"]
        for label, m in medians.items():
            print(f"| {size} | {label} | {m['ms']:.0f} | {m['faults']:.0f} | {m['kernel_ms']:.0f} | "
                  f"{base / m['ms']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
