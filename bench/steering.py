"""Steering (issue 23): when a weight moves during a run, does L-BFGS converge better keeping its curvature pairs
(measured on the old objective) or restarted from the same image?

    python -m bench.steering --weights ../shared/weights/vgg16-caffe-features.pth

Each pair runs twice with the same change at the same step (the style weight times --factor, halfway), once each
way, and prints the loss under the new weights at the change and at the end, and how many steps after the change
each needed to come within 10 % of the better final loss. Losses, not times: a loaded machine gives the same table.
"""

from __future__ import annotations

import argparse

from nst_core import Settings, engine, stylize_iter
from nst_core.images import decode_image
from nst_core.steering import Steering

from .pictures import SHARED_IMAGES as IMAGES

PAIRS = (("tubingen.jpg", "starry_night.jpg"), ("golden_gate.jpg", "the_scream.jpg"))


def losses(photo, painting, settings: Settings, change: dict[str, float], at: int, restart: bool) -> list[float]:
    """The total loss at every step from the change on."""
    engine.RESTART_ON_STEER = restart
    steering = Steering([{"step": at, **change}])
    return [event.loss for event in stylize_iter(photo, painting, settings, steering=steering) if event.step >= at]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=Settings().iterations)
    parser.add_argument("--factor", type=float, default=10.0)
    args = parser.parse_args()
    settings = Settings(weights=args.weights, size=args.size, iterations=args.iterations, coarse_to_fine=False)
    at = args.iterations // 2
    print(f"| pair | change at step {at} | way | loss at the change | final loss | steps to within 10 % |")
    print("|---|---|---|---|---|---|")
    try:
        for photo_name, painting_name in PAIRS:
            photo, painting = decode_image(IMAGES / photo_name), decode_image(IMAGES / painting_name)
            for name, factor in (("style_weight", args.factor), ("style_weight", 1 / args.factor)):
                change = {name: getattr(settings, name) * factor}
                runs = {way: losses(photo, painting, settings, change, at, way == "restart")
                        for way in ("keep", "restart")}
                best = min(run[-1] for run in runs.values())
                for way, run in runs.items():
                    within = next(i for i, loss in enumerate(run) if loss <= 1.1 * best)
                    print(f"| {photo_name} x {painting_name} | {name} x{factor:g} | {way} | {run[0]:.4g} | "
                          f"{run[-1]:.4g} | {within} |", flush=True)
    finally:
        engine.RESTART_ON_STEER = True


if __name__ == "__main__":
    main()
