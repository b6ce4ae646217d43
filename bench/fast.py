"""Fast networks: inference per size, webcam frames through the real studio, and the cost of training, each
next to a reference measured in the same process (the machine may be shared: ratios survive that, absolute
times do not).

    NST_WEIGHTS=../shared/weights/vgg16-caffe-features.pth python -m bench.fast --threads 2
    python -m bench.fast --parts inference --sizes 512 1080   # a GPU: --device cuda

Inference: the slim and full networks (a shipped slim model where there is one), milliseconds per picture,
their arithmetic against this machine's own matrix-multiply rate, and one optimisation step of the engine at
the same size (how many fast pictures one slow step costs). Webcam: one stream through `python app.py`'s webcam
endpoint fed as the page feeds it (a frame uploaded every STREAM_EVERY seconds), the stylized frames that come
back per second, against the network alone at the same size.
Training: seconds per training step of the shipped recipe against one engine step at 256 px, and what the
shipped models' files say their training took.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import time
from pathlib import Path

import torch

from nst_core import Settings
from nst_core.backbones import load_backbone
from nst_core.fast.apply import MODELS, shipped_models, shipped_styles, style_model, stylize_fast
from nst_core.fast.data import PhotoSet
from nst_core.fast.model import FastModel, TransformerNet
from nst_core.fast.train import Training, TrainSettings
from nst_core.features import native_bf16_cpu, pick_device
from nst_core.images import decode_image, fitted_size, resize_longest

from .__main__ import SHARED_IMAGES, time_engine
from .machine import machine_name, matmul_rate, sync


def conv_flops(net: torch.nn.Module, image: torch.Tensor) -> float:
    """FLOPs of one forward pass (2 per multiply-add of every convolution), counted with hooks."""
    total = 0.0

    def count(module: torch.nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        total += 2.0 * module.in_channels * module.out_channels * module.kernel_size[0] * module.kernel_size[1] \
            * output.shape[-2] * output.shape[-1] / module.groups

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.inference_mode():
        net(image)
    for hook in hooks:
        hook.remove()
    return total


def timed(run, rounds: int, device: torch.device) -> float:
    """Median seconds of `run()` over `rounds`, after one warm-up call."""
    return statistics.median(timed_rounds(run, rounds, device)[0])


def timed_rounds(run, rounds: int, device: torch.device, *, warm: bool = True) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (all of this process's threads) of each of `rounds` calls, after a warm-up
    call unless `warm` is False."""
    if warm:
        run()
        sync(device)
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        sync(device)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def first_shipped() -> FastModel:
    """The first shipped style's one-style network (the slim network as the studio runs it)."""
    return style_model(next(iter(shipped_styles())))


def networks(device: torch.device) -> dict[str, TransformerNet]:
    slim = first_shipped().net if shipped_styles() else TransformerNet("slim")
    return {"slim": slim.to(device).eval(), "full": TransformerNet("full").to(device).eval()}


def inference(sizes: list[int], rounds: int, device: torch.device, weights: str) -> list[dict]:
    """Per size: the slim and full networks, interleaved round by round (a slow spell of a shared machine hits
    both), against one engine step at that size, timed before and after them."""
    rate = matmul_rate(device, torch.float32)
    photo = decode_image(SHARED_IMAGES / "tubingen.jpg")
    painting = decode_image(SHARED_IMAGES / "starry_night.jpg")
    nets = networks(device)
    print(f"## Inference ({machine_name(device)}, {torch.get_num_threads()} threads; fp32 matmul "
          f"{rate / 1e9:.0f} GFLOP/s at the start)")
    print("| size | network | ms/picture | CPU ms/picture | pictures/s | GFLOP | % of fp32 matmul | "
          "engine steps per picture |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for size in sizes:
        width, height = fitted_size(photo.size, size)
        x = torch.rand(1, 3, height, width, device=device)
        settings = Settings(size=size, iterations=3, coarse_to_fine=False, preview_every=1000, device=device.type,
                            weights=weights)
        backbone = load_backbone(weights)
        engine = [time_engine(photo, painting, settings, backbone)]
        samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in nets}
        with torch.inference_mode():
            for net in nets.values():
                net(x)  # the first call of a shape picks its kernels
            for _round in range(rounds):
                for name, net in nets.items():
                    wall, cpu = timed_rounds(lambda net=net, x=x: net(x), 1, device, warm=False)
                    samples[name][0].extend(wall)
                    samples[name][1].extend(cpu)
        engine.append(time_engine(photo, painting, settings, backbone))
        engine_step = statistics.median(engine)
        for name, net in nets.items():
            seconds, cpu = statistics.median(samples[name][0]), statistics.median(samples[name][1])
            flops = conv_flops(net, x)
            row = {"size": size, "network": name, "ms": seconds * 1e3, "cpu_ms": cpu * 1e3, "gflop": flops / 1e9,
                   "fraction_of_matmul": flops / seconds / rate, "engine_step_ms": engine_step * 1e3}
            rows.append(row)
            print(f"| {width}×{height} | {name} | {row['ms']:.1f} | {row['cpu_ms']:.0f} | {1 / seconds:.1f} | "
                  f"{row['gflop']:.1f} | {100 * row['fraction_of_matmul']:.0f}% | {seconds / engine_step:.3f} |",
                  flush=True)
        print(f"  one engine step at {width}×{height} (forward and backward through VGG): {engine_step * 1e3:.0f} ms "
              f"(median of {len(engine)}, before and after)")
    if shipped_models() and device.type == "cpu":
        model = first_shipped()
        for size in sizes:
            whole = timed(lambda size=size: stylize_fast(model, photo, size), rounds, device)
            print(f"  the whole of `apply` at {size} px from a {photo.size[0]}×{photo.size[1]} photo (resize, network, "
                  f"picture): {whole * 1e3:.1f} ms")
    print(f"  fp32 matmul at the end: {matmul_rate(device, torch.float32) / 1e9:.0f} GFLOP/s")
    return rows


def runtimes(sizes: list[int], rounds: int, compile_network: bool) -> list[dict]:
    """The slim network on the CPU as it runs (eager, NCHW) against the ways it might run faster: channels_last,
    bf16 (native only on CPUs with bf16 instructions), torch.compile and ONNX Runtime (where installed), each
    interleaved round by round with eager, with what each costs once before its first picture."""
    net = (first_shipped().net if shipped_styles() else TransformerNet("slim")).eval()
    net.requires_grad_(False)
    photo = decode_image(SHARED_IMAGES / "tubingen.jpg")
    print(f"## Ways to run the slim network ({machine_name(torch.device('cpu'))}, {torch.get_num_threads()} threads; "
          f"bf16 {'native' if native_bf16_cpu() else 'emulated'})")
    print("| size | way | ms/picture | vs eager | once, before the first picture |")
    print("|---|---|---|---|---|")
    rows = []
    for size in sizes:
        width, height = fitted_size(photo.size, size)
        ways = ways_to_run(net, torch.rand(1, 3, height, width), compile_network)
        samples: dict[str, list[float]] = {name: [] for name in ways}
        with torch.no_grad():
            for run, _ in ways.values():
                run()  # the first call of a shape picks its kernels
            for _round in range(rounds):
                for name, (run, _) in ways.items():
                    samples[name].extend(timed_rounds(run, 1, torch.device("cpu"), warm=False)[0])
        eager = statistics.median(samples["eager (NCHW)"])
        for name, (_, once) in ways.items():
            seconds = statistics.median(samples[name])
            rows.append({"size": size, "way": name, "ms": seconds * 1e3, "vs_eager": eager / seconds, "once_s": once})
            print(f"| {width}×{height} | {name} | {seconds * 1e3:.0f} | {eager / seconds:.2f}x | "
                  f"{f'{once:.1f} s' if once else '-'} |", flush=True)
    return rows


def ways_to_run(net: TransformerNet, x: torch.Tensor, compile_network: bool) -> dict[str, tuple]:
    """name -> (a call that stylizes `x` once, seconds spent making it ready)."""
    def eager() -> torch.Tensor:
        return net.to(memory_format=torch.contiguous_format)(x)

    last = x.contiguous(memory_format=torch.channels_last)

    def channels_last() -> torch.Tensor:
        return net.to(memory_format=torch.channels_last)(last)

    def bf16() -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return eager()

    ways: dict[str, tuple] = {"eager (NCHW)": (eager, 0.0), "channels_last": (channels_last, 0.0),
                              "bf16 autocast": (bf16, 0.0)}
    if compile_network:
        start = time.perf_counter()
        compiled = torch.compile(net, dynamic=False)
        with torch.no_grad():
            compiled(x)
        ways["torch.compile"] = (lambda: compiled(x), time.perf_counter() - start)
    with contextlib.suppress(ImportError):
        import onnxruntime

        start = time.perf_counter()
        exported = io.BytesIO()
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            torch.onnx.export(net, (x,), exported, input_names=["x"], dynamo=False)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = onnxruntime.InferenceSession(exported.getvalue(), options, providers=["CPUExecutionProvider"])
        pixels = x.numpy()
        session.run(None, {"x": pixels})
        ways["ONNX Runtime"] = (lambda: session.run(None, {"x": pixels}), time.perf_counter() - start)
    return ways


def webcam(frames: int, every: float | None = None) -> dict:
    """Frames through the real studio's webcam endpoint as the browser sends them: one stream, a new frame
    every `every` seconds (default: the page's STREAM_EVERY; each uploaded, as the page does), answers counted
    as they stream back."""
    import threading

    import httpx

    import app  # builds the page and sets torch's threads, as `python app.py` does
    from studio.tabs.fast import STREAM_EVERY
    from studio.tabs.fast_job import LIVE_SIDE

    from .studio import free_port

    every = every or STREAM_EVERY
    name = next(iter(shipped_styles()))  # as the menu names it
    frame = resize_longest(decode_image(SHARED_IMAGES / "tubingen.jpg"), 640)  # a webcam's 640×480
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=85)
    model = style_model(name)
    alone = timed(lambda: stylize_fast(model, frame, LIVE_SIDE), 10, torch.device("cpu"))
    port = free_port()
    app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    url = f"http://127.0.0.1:{port}/gradio_api"
    answers: list[float] = []
    try:
        with httpx.Client(timeout=30) as http:
            def frame_data() -> list:
                path = http.post(f"{url}/upload", files=[("files", ("frame.jpg", buffer.getvalue()))]).json()[0]
                return [{"path": path, "meta": {"_type": "gradio.FileData"}}, name, None]

            event = http.post(f"{url}/call/fast_live", json={"data": frame_data()}).json()["event_id"]

            def listen() -> None:
                with httpx.stream("GET", f"{url}/call/fast_live/{event}", timeout=60) as stream:
                    for line in stream.iter_lines():
                        if line.startswith("event: generating"):
                            answers.append(time.perf_counter())
                        elif line.startswith("event: error") or line.startswith("event: complete"):
                            return

            listener = threading.Thread(target=listen, daemon=True)
            listener.start()
            while not answers and listener.is_alive():  # the first answer: the stream is up and warm
                time.sleep(0.01)
            start = time.perf_counter()
            for index in range(frames):
                time.sleep(max(0.0, start + index * every - time.perf_counter()))
                http.post(f"{url}/stream/{event}", json={"data": frame_data()})
            quiet = max(1.0, 3 * alone)  # the last frames' answers: until none has come for this long
            while time.perf_counter() - max([start, *answers]) < quiet and listener.is_alive():
                time.sleep(0.05)
            http.post(f"{url}/stream/{event}/close")
    finally:
        app.demo.close()
    received = [t for t in answers if t >= start]
    rate = len(received) / (max([start + frames * every, *received]) - start)
    print(f"## Webcam through the studio (one stream, a 640×480 JPEG frame every {every:g} s for "
          f"{frames * every:.0f} s, stylized at {LIVE_SIDE} px)")
    print(f"  {rate:.1f} stylized frames/s came back ({len(received)} for {frames} sent, at most "
          f"{1 / every:.1f}/s); the network alone {alone * 1e3:.0f} ms a frame ({1 / alone:.1f} frames/s)")
    return {"frames_per_s": rate, "every_s": every, "sent": frames, "received": len(received),
            "network_ms": alone * 1e3}


def training(steps: int, weights: str, device: torch.device) -> dict:
    """Seconds per step of the shipped recipe (slim, perceptual) against one engine step at 256 px."""
    settings = TrainSettings(weights=weights, device=device.type)
    photos = PhotoSet.of([(p.name, decode_image(p)) for p in sorted(SHARED_IMAGES.glob("*.jpg"))[:4]],
                         keep_side=2 * settings.crop)
    run = Training(decode_image(SHARED_IMAGES / "starry_night.jpg"), photos, settings, "bench", None, device, None)
    run.train_step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        run.train_step()
    sync(device)
    per_step = (time.perf_counter() - start) / steps
    engine = time_engine(decode_image(SHARED_IMAGES / "tubingen.jpg"), decode_image(SHARED_IMAGES / "starry_night.jpg"),
                         Settings(size=256, iterations=4, coarse_to_fine=False, preview_every=1000, weights=weights,
                                  device=device.type), load_backbone(weights))
    print(f"## Training (slim, perceptual, {settings.batch} crops of {settings.crop} px a step)")
    print(f"  {per_step:.2f} s a step = {per_step / engine:.2f} engine steps at 256 px ({engine:.2f} s); "
          f"{settings.steps} steps (the shipped recipe) ≈ {settings.steps * per_step / 60:.0f} min here")
    for name, path in shipped_models().items():
        meta = MODELS.get(path).meta
        print(f"  shipped {name}: {meta.get('steps_done')} steps in {meta.get('training_seconds', 0) / 60:.0f} min "
              f"on {meta.get('device')}, {len(meta.get('photos', []))} photos")
    return {"seconds_per_step": per_step, "engine_step_256": engine}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["inference", "webcam", "training"],
                        choices=["inference", "webcam", "training", "runtimes"])
    parser.add_argument("--no-compile", action="store_true", help="runtimes: leave torch.compile out (it takes a "
                        "minute per size to compile)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--frames", type=int, default=40, help="webcam frames to send")
    parser.add_argument("--every", type=float, default=None,
                        help="webcam: seconds between frames sent (default: the page's, studio.tabs.fast.STREAM_EVERY)")
    parser.add_argument("--steps", type=int, default=5, help="training steps to time")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--weights", default=None, help="VGG weights for the references (default: NST_WEIGHTS)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    weights = args.weights or Settings().weights
    report: dict = {"machine": machine_name(device), "threads": torch.get_num_threads()}
    if "inference" in args.parts:
        report["inference"] = inference(args.sizes, args.rounds, device, weights)
    if "runtimes" in args.parts:
        report["runtimes"] = runtimes(args.sizes, args.rounds, not args.no_compile)
    if "training" in args.parts:
        report["training"] = training(args.steps, weights, device)
    if "webcam" in args.parts and shipped_models():
        report["webcam"] = webcam(args.frames, args.every)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
