"""Benchmark: the engine against the textbook reference loop, in the same process.

    python -m bench --weights ../shared/weights/vgg16-caffe-features.pth --sizes 256 512 --steps 6
    python -m bench --device cuda --sizes 256 512 1024 2048 --json bench.json
    python -m bench --sizes 256 --steps 4 --profile     # where an engine step's time goes

For each size it prints ms per step, steps per second, peak memory, the ratio to the reference, and the
arithmetic rate against the analytic FLOP count (forward + backward to the pixels = 2x forward, since the
weights are frozen), next to this machine's own measured matrix-multiply rate. Rows per size: the
textbook loop, the engine, the engine streaming a preview image on every step (the studio asks for
one every 10), whose ratio to the engine row is the most streaming can cost, and the network alone (the floor
no step goes under); on a GPU also the engine without its CUDA graph (what the graph buys). Each row is the
median of `--rounds` interleaved measurements; on a GPU give --steps well above the graph's warm-up (20+).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

from nst_core import Settings, engine, stylize_iter
from nst_core.backbones import VGGFeatures, load_backbone
from nst_core.cpu_memory import keep_freed_memory
from nst_core.features import FeatureExtractor, pick_device
from nst_core.images import decode_image, resize_longest, to_pil, to_tensor
from nst_core.step_graph import cuda_capture, on_side_stream

from .machine import machine_name, matmul_rate, peak_memory, reset_peak_memory, sync
from .textbook import CONTENT_LAYER, STYLE_LAYERS, textbook_stylize

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def conv_flops(model: VGGFeatures, height: int, width: int, last: str) -> float:
    """Forward FLOPs (2 per multiply-add) of the convolutions up to layer `last`."""
    flops, h, w = 0.0, height, width
    for name, layer in zip(model.names, model.features):
        if isinstance(layer, torch.nn.Conv2d):
            flops += 2.0 * layer.in_channels * layer.out_channels * 9 * h * w
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
        if name == last:
            break
    return flops


def time_engine(content, style, settings: Settings, model: VGGFeatures) -> float:
    """Mean seconds per step of the engine after its first (warm-up) step, previews and bookkeeping included:
    the time from the first event to the last (done, with the final image) over the steps between."""
    stamps = [time.perf_counter() for _event in stylize_iter(content, style, settings, backbone=model)]
    sync(pick_device(settings.device))
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def time_reference(model: VGGFeatures, content: torch.Tensor, style: torch.Tensor, steps: int) -> float:
    """Seconds per step of the textbook loop, its set-up and first (warm-up) evaluation subtracted."""
    def run(evaluations: int) -> float:
        start = time.perf_counter()
        textbook_stylize(model, content, style, evaluations=evaluations)
        sync(content.device)
        return time.perf_counter() - start

    run(1)  # first calls build the convolution kernels for these shapes
    return (run(steps + 1) - run(1)) / steps


def time_network_floor(model: VGGFeatures, content: torch.Tensor, settings: Settings, steps: int) -> float:
    """Seconds per forward + backward to the pixels of the network alone, as the engine runs it (precision, memory
    format; on a GPU one CUDA graph of the pass): what no step can go under."""
    extract = FeatureExtractor(model, content.device, settings.precision)
    layers = [settings.content_layer, *settings.style_layers]
    x = content.clone().requires_grad_(True)

    def work() -> torch.Tensor:
        found = extract(x, layers)
        total = sum(f.float().square().mean() for f in found.values())
        total.backward()
        return total.detach()

    run = work
    if content.device.type == "cuda":
        on_side_stream(work)
        replay, _ = cuda_capture(work)
        run = replay
    run()
    sync(content.device)
    start = time.perf_counter()
    for _ in range(steps):
        run()
    sync(content.device)
    return (time.perf_counter() - start) / steps


def time_engine_without_graphs(content, style, settings: Settings, model: VGGFeatures) -> float:
    """The engine with every step launched kernel by kernel (engine.CUDA_GRAPHS off): what the graph buys."""
    engine.CUDA_GRAPHS = False
    try:
        return time_engine(content, style, settings, model)
    finally:
        engine.CUDA_GRAPHS = True


def preview_seconds(content: torch.Tensor) -> float:
    """Median seconds to turn the image being optimised into a preview (what the engine does per preview)."""
    times = []
    for _ in range(20):
        start = time.perf_counter()
        to_pil(content)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile_step(content, style, settings: Settings, model: VGGFeatures, device: torch.device) -> str:
    """The operators an engine step spends its time in (torch.profiler), slowest first."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    events = stylize_iter(content, style, settings, backbone=model)
    next(events)  # set-up and the first (kernel-building) step stay out of the profile
    with profile(activities=activities) as prof:
        for _event in events:
            pass
        sync(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--weights", default=None, help="weights source or file (default: the settings' default)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="measure each row this many times; print the median")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--profile", action="store_true", help="print the engine's operator profile per size")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    if device.type == "cpu":
        keep_freed_memory()  # the engine turns this on for the process anyway: give the textbook loop it too
    base = Settings(**({"weights": args.weights} if args.weights else {}))
    model = load_backbone(base.weights, convention=base.weights_convention, pooling=base.pooling)
    reference_model = load_backbone(base.weights, convention=base.weights_convention, pooling=base.pooling)
    content_img = decode_image(SHARED_IMAGES / "tubingen.jpg")
    style_img = decode_image(SHARED_IMAGES / "starry_night.jpg")
    fp32_rate = matmul_rate(device, torch.float32)
    bf16_rate = matmul_rate(device, torch.bfloat16)
    print(f"# {machine_name(device)}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"{model.arch} ({base.weights.rsplit('/', 1)[-1]}), precision {args.precision}")
    print(f"# matmul: fp32 {fp32_rate / 1e9:.0f} GFLOP/s, bf16 {bf16_rate / 1e9:.0f} GFLOP/s")
    print("| size | implementation | ms/step | steps/s | peak memory | vs reference | GFLOP/s | % of fp32 matmul |")
    print("|---|---|---|---|---|---|---|---|")
    rows, notes, preview_ms = [], [], {}
    for size in args.sizes:
        settings = Settings(**{**base.to_dict(), "size": size, "iterations": args.steps, "coarse_to_fine": False,
                               "preview_every": 1000, "device": device.type, "precision": args.precision,
                               "content_layer": CONTENT_LAYER, "style_layers": tuple(STYLE_LAYERS)})
        content = to_tensor(resize_longest(content_img, size)).to(device)
        style = to_tensor(resize_longest(style_img, size)).to(device)
        flops = 2 * conv_flops(model, content.shape[2], content.shape[3], "relu5_1")
        reference_model.to(device, memory_format=torch.contiguous_format)
        measures = {
            "textbook loop (fp32, NCHW)": partial(time_reference, reference_model, content, style, args.steps),
            "nst_core engine": partial(time_engine, content_img, style_img, settings, model),
            "nst_core, a preview every step":
                partial(time_engine, content_img, style_img, replace(settings, preview_every=1), model),
            "the network alone (forward + backward), the floor":
                partial(time_network_floor, model, content, settings, args.steps),
        }
        if device.type == "cuda":
            measures["nst_core engine, no CUDA graph"] = partial(time_engine_without_graphs, content_img, style_img,
                                                                 settings, model)
        samples: dict[str, list[float]] = {name: [] for name in measures}
        peaks: dict[str, str] = {}
        for _round in range(args.rounds):  # interleaved, so a slow spell of a shared machine hits every row
            for name, measure in measures.items():
                reset_peak_memory(device)
                samples[name].append(measure())
                peaks[name] = peak_memory(device)
        timings = [(name, statistics.median(samples[name]), peaks[name]) for name in measures]
        reference = timings[0][1]
        for name, seconds, memory in timings:
            row = {"size": size, "implementation": name, "ms_per_step": seconds * 1e3, "steps_per_s": 1 / seconds,
                   "peak_memory": memory, "ratio_to_reference": reference / seconds,
                   "gflops": flops / seconds / 1e9, "fraction_of_fp32_matmul": flops / seconds / fp32_rate}
            rows.append(row)
            print(f"| {size} | {name} | {row['ms_per_step']:.1f} | {row['steps_per_s']:.2f} | {memory} | "
                  f"{row['ratio_to_reference']:.2f}x | {row['gflops']:.0f} | "
                  f"{100 * row['fraction_of_fp32_matmul']:.0f}% |", flush=True)
        preview = preview_seconds(content)
        preview_ms[size] = preview * 1e3
        notes.append(f"{size} px: one preview image costs {preview * 1e3:.1f} ms = "
                     f"{100 * preview / timings[1][1]:.2f}% of an engine step (timed alone)")
        if args.profile:
            notes.append(f"{size} px, where an engine step's time goes:\n"
                         + profile_step(content_img, style_img, settings, model, device))
    print("\n".join(notes))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_name(device), "threads": torch.get_num_threads(),
                                               "matmul_fp32": fp32_rate, "matmul_bf16": bf16_rate, "rows": rows,
                                               "preview_ms": preview_ms},
                                              indent=2))


if __name__ == "__main__":
    main()
