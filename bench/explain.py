"""The teaching views at their default sizes: seconds to the first picture and to the end of each, and the same
as a count of reference steps (one default Stylize step at 128 px, timed in this process first), so a number
measured on a busy machine still says what the view costs.

    NST_WEIGHTS=../shared/weights/vgg16-caffe-features.pth python -m bench.explain
    python -m bench.explain --views layers reconstruct --threads 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from nst_core import Settings
from nst_core.config import default_weights
from nst_core.engine import resolve_backbone, stylize_iter
from nst_core.explain import INPUTS, VIEWS
from nst_core.features import pick_device
from nst_core.images import decode_image

from .machine import machine_name

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
REFERENCE_SIZE = 128


def reference_step(photo, painting, weights: str, steps: int = 12) -> float:
    """Seconds per step of a default stylization at 128 px (after two warm-up steps)."""
    settings = Settings(size=REFERENCE_SIZE, iterations=steps + 2, weights=weights, coarse_to_fine=False)
    stamps = [time.perf_counter() for _ in stylize_iter(photo, painting, settings)]
    return (stamps[-1] - stamps[1]) / (len(stamps) - 2)


def time_view(view: str, pictures: dict, weights: str) -> tuple[float, float]:
    """(seconds to the first event with a picture, seconds to the end) of one view at its defaults."""
    start, first = time.perf_counter(), None
    for event in VIEWS[view](*(pictures[role] for role in INPUTS[view]), weights=weights):
        if first is None and event.panels:
            first = time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None, help="default: $NST_WEIGHTS, else vgg19")
    parser.add_argument("--views", nargs="+", choices=list(VIEWS), default=list(VIEWS))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--reference-steps", type=int, default=12, help="steps timed for the reference (default 12)")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    weights = args.weights or default_weights()
    photo = decode_image(SHARED_IMAGES / "tubingen.jpg")
    painting = decode_image(SHARED_IMAGES / "starry_night.jpg")
    pictures = {"photo": photo, "image": photo, "painting": painting}
    resolve_backbone(Settings(weights=weights))  # loaded once, as in a running studio
    torch.optim.LBFGS([torch.zeros(1, requires_grad=True)])  # the first optimiser imports torch._dynamo (~3 s)
    step = reference_step(photo, painting, weights, args.reference_steps)
    machine = machine_name(pick_device("auto"))
    print(f"{machine}, {torch.get_num_threads()} torch threads; reference: a {REFERENCE_SIZE} px Stylize step takes "
          f"{step * 1000:.0f} ms")
    print("| view | first picture (s) | whole view (s) | whole view in reference steps |\n|---|---|---|---|")
    rows = []
    for view in args.views:
        first, total = time_view(view, pictures, weights)
        rows.append({"view": view, "first_s": round(first, 2), "total_s": round(total, 1),
                     "reference_steps": round(total / step)})
        print(f"| {view} | {first:.2f} | {total:.1f} | {total / step:.0f} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "threads": torch.get_num_threads(),
                                               "reference_step_s": step, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
