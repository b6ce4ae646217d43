"""Painting a clip with known motion: temporal error and speed, with the temporal step and frame by frame.

The clip is a pan across a photo (the scene moves 2 px a frame), with a tone for a sound track, so the motion
the flow should find is known. For each method it prints the mean temporal error (how much a painted frame
differs from the last one moved along the motion, levels of 255) with the temporal step and without, their
ratio, and frames per second (flow included).

    python -m bench.video --size 256 --frames 24
    NST_WEIGHTS=../shared/weights/vgg16-caffe-features.pth python -m bench.video --size 128 --slow-iterations 30
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import torch
from PIL import Image

from nst_core import Settings
from nst_core.video import choose_painter, open_clip, paint_clip

from .machine import machine_name
from .sheets import line_plot

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
GALLERY = Path(__file__).resolve().parents[1] / "styles" / "gallery"


def make_pan_clip(path: Path, photo: Path, frames: int, size: tuple[int, int], fps: int = 8) -> None:
    """A pan across `photo`, its window moving 2 px left a frame (the scene moves right), with a 440 Hz tone."""
    width, height = size
    picture = Image.open(photo).convert("RGB").resize((width + 2 * frames + 2, height + 20))
    silent = path.with_suffix(".silent.mp4")
    writer = imageio_ffmpeg.write_frames(str(silent), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         macro_block_size=2, ffmpeg_log_level="error")
    writer.send(None)
    for t in range(frames):
        left = 2 * (frames - t)
        writer.send(np.ascontiguousarray(np.asarray(picture.crop((left, 10, left + width, 10 + height)))))
    writer.close()
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(silent), "-f", "lavfi",
                    "-i", f"sine=frequency=440:duration={frames / fps}", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                    "-c:a", "aac", "-shortest", str(path)], check=True)
    silent.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--fast-style", default="stained_glass")
    parser.add_argument("--slow-style", default=str(GALLERY / "ink_hatching.png"))
    parser.add_argument("--slow-iterations", type=int, default=0, help="also the slow method, this many steps for "
                        "the first frame (0: fast only)")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--plot", type=Path, default=None, help="also draw each run's temporal error per frame here")
    args = parser.parse_args()
    print(f"# {machine_name(torch.device('cpu'))}, {torch.get_num_threads()} threads; a {args.frames}-frame pan, "
          f"painted at {args.size} px")
    print("| method | temporal step | temporal error | frames/s | ratio to frame by frame |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        clip_path = Path(folder) / "pan.mp4"
        width = args.size - args.size % 2
        make_pan_clip(clip_path, SHARED_IMAGES / "tubingen.jpg", args.frames, (width, width * 3 // 4))
        clip = open_clip(clip_path)
        methods = [("fast", args.fast_style, Settings())]
        if args.slow_iterations:
            values = {"iterations": args.slow_iterations, **({"weights": args.weights} if args.weights else {})}
            methods.append(("slow", args.slow_style, Settings(**values)))
        series = {}
        for method, style, settings in methods:
            painter, _ = choose_painter(style, method, settings)
            flicker = paint_clip(clip, painter, Path(folder) / "flicker.mp4", args.size, temporal=False)
            smooth = paint_clip(clip, painter, Path(folder) / "smooth.mp4", args.size)
            for name, report in (("no", flicker), ("yes", smooth)):
                print(f"| {method} | {name} | {report.mean_error:.2f} | {report.frames / report.seconds:.2f} | "
                      f"{report.mean_error / flicker.mean_error:.2f}x |", flush=True)
                series[f"{method}, {'temporal' if name == 'yes' else 'frame by frame'}"] = report.errors
    if args.plot:
        line_plot(series, args.plot, f"Each frame's change from the last one moved along the motion "
                  f"({args.frames}-frame pan, {args.size} px)", "frame", "temporal error (levels of 255)", first_x=2)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
