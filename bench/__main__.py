"""Benchmark: the engine against the textbook reference loop, in the same process.

    python -m bench --weights ../shared/weights/vgg16-caffe-features.pth --sizes 256 512 --steps 6
    python -m bench --device cuda --sizes 256 512 1024 2048 --json bench.json

For each size it prints ms per step, steps per second, peak memory, the ratio to the reference, and the
arithmetic rate against the analytic FLOP count (forward + backward to the pixels = 2x forward, since the
weights are frozen), next to this machine's own measured matrix-multiply rate.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from nst_core import Settings, stylize_iter
from nst_core.backbones import VGGFeatures, load_backbone
from nst_core.engine import pick_device
from nst_core.images import decode_image, resize_longest, to_tensor

from .textbook import CONTENT_LAYER, STYLE_LAYERS, textbook_stylize

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def conv_flops(model: VGGFeatures, height: int, width: int, last: str) -> float:
    """Forward FLOPs (2 per multiply-add) of the convolutions up to layer `last`."""
    flops, h, w = 0.0, height, width
    for name, layer in zip(model.names, model.layers):
        if isinstance(layer, torch.nn.Conv2d):
            flops += 2.0 * layer.in_channels * layer.out_channels * 9 * h * w
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
        if name == last:
            break
    return flops


def matmul_rate(device: torch.device, dtype: torch.dtype, seconds: float = 1.0) -> float:
    """This machine's dense matrix-multiply rate in FLOP/s (the practical ceiling for convolutions)."""
    n = 2048 if device.type == "cpu" else 8192
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    _sync(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    _sync(device)
    return 2.0 * n**3 * count / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
    with open("/proc/self/status") as f:  # resident-set high-water mark of the process so far
        peak = next((line.split()[1] for line in f if line.startswith("VmHWM")), "0")
    return f"{int(peak) / 2**20:.2f} GiB (process)"


def time_engine(content, style, settings: Settings, model: VGGFeatures, steps: int) -> float:
    """Median seconds per step of the engine (its own events, so bookkeeping is included)."""
    stamps = []
    for _event in stylize_iter(content, style, settings, backbone=model):
        stamps.append(time.perf_counter())
    gaps = sorted(b - a for a, b in zip(stamps[1:], stamps[2:]))  # skip the first step (warm-up)
    return gaps[len(gaps) // 2]


def time_reference(model: VGGFeatures, content: torch.Tensor, style: torch.Tensor, steps: int) -> float:
    """Seconds per step of the textbook loop, its set-up and first (warm-up) evaluation subtracted."""
    def run(evaluations: int) -> float:
        start = time.perf_counter()
        textbook_stylize(model, content, style, evaluations=evaluations)
        _sync(content.device)
        return time.perf_counter() - start

    run(1)  # first calls build the convolution kernels for these shapes
    return (run(steps + 1) - run(1)) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--weights", default=None, help="weights source or file (default: the settings' default)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    base = Settings(**({"weights": args.weights} if args.weights else {}))
    model = load_backbone(base.weights, convention=base.weights_convention, pooling=base.pooling)
    reference_model = load_backbone(base.weights, convention=base.weights_convention, pooling=base.pooling)
    content_img = decode_image(SHARED_IMAGES / "tubingen.jpg")
    style_img = decode_image(SHARED_IMAGES / "starry_night.jpg")
    fp32_rate = matmul_rate(device, torch.float32)
    bf16_rate = matmul_rate(device, torch.bfloat16)
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, device {device}, "
          f"torch {torch.__version__}, {model.arch} ({base.weights.rsplit('/', 1)[-1]})")
    print(f"# matmul: fp32 {fp32_rate / 1e9:.0f} GFLOP/s, bf16 {bf16_rate / 1e9:.0f} GFLOP/s")
    print("| size | implementation | ms/step | steps/s | peak memory | vs reference | GFLOP/s | % of fp32 matmul |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for size in args.sizes:
        settings = Settings(**{**base.to_dict(), "size": size, "iterations": args.steps, "coarse_to_fine": False,
                               "preview_every": 1000, "device": device.type, "precision": args.precision,
                               "content_layer": CONTENT_LAYER, "style_layers": tuple(STYLE_LAYERS)})
        content = to_tensor(resize_longest(content_img, size)).to(device)
        style = to_tensor(resize_longest(style_img, size)).to(device)
        flops = 2 * conv_flops(model, content.shape[2], content.shape[3], "relu5_1")
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        reference_model.to(device, memory_format=torch.contiguous_format)
        reference = time_reference(reference_model, content, style, args.steps)
        reference_memory = _peak_memory(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        engine = time_engine(content_img, style_img, settings, model, args.steps)
        engine_memory = _peak_memory(device)
        for name, seconds, memory in (("textbook loop (fp32, NCHW)", reference, reference_memory),
                                      ("nst_core engine", engine, engine_memory)):
            row = {"size": size, "implementation": name, "ms_per_step": seconds * 1e3, "steps_per_s": 1 / seconds,
                   "peak_memory": memory, "ratio_to_reference": reference / seconds,
                   "gflops": flops / seconds / 1e9, "fraction_of_fp32_matmul": flops / seconds / fp32_rate}
            rows.append(row)
            print(f"| {size} | {name} | {row['ms_per_step']:.1f} | {row['steps_per_s']:.2f} | {memory} | "
                  f"{row['ratio_to_reference']:.2f}x | {row['gflops']:.0f} | "
                  f"{100 * row['fraction_of_fp32_matmul']:.0f}% |")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": str(device), "matmul_fp32": fp32_rate,
                                               "matmul_bf16": bf16_rate, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
