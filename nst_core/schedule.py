"""Coarse to fine: the sizes a run optimises at, the steps each gets, and the ETA that follows from them.

It knows sizes and step counts only: no tensors, no images beyond their (width, height).
"""

from __future__ import annotations

import time

from .config import Settings, field_info
from .errors import ImageError
from .images import fitted_size

MIN_SCALE_SIZE = 128  # coarse-to-fine never starts below this: VGG's deep layers need room
MAX_SIDE = int(field_info("size")["high"])  # no image side, enlarged for a thin photo or not, beyond this


def plan_scales(content: tuple[int, int], settings: Settings) -> list[tuple[int, int]]:
    """(width, height) of each scale, coarse to fine: halvings of the output down to MIN_SCALE_SIZE.

    No side is ever below what the deepest layer in use can see (16 px for relu5_x): a very thin photo is
    made longer instead, and the coarse scales stop where they would be too thin. A photo too thin for any
    size up to MAX_SIDE is refused with one sentence.
    """
    need = settings.deepest_layer_side()
    final = fitted_size(content, settings.size, min_short=need)
    if max(final) > MAX_SIDE:
        raise ImageError(
            f"The photo is {content[0]}×{content[1]} pixels, too thin to stylize: its short side would be under "
            f"the {need} px its deepest layer needs at any size up to {MAX_SIDE} px, so crop it.")
    sizes = [final]
    longest = settings.size
    while settings.coarse_to_fine and longest // 2 >= MIN_SCALE_SIZE and len(sizes) < settings.iterations:
        longest //= 2
        if min(fitted_size(content, longest)) < need:
            break
        sizes.insert(0, fitted_size(content, longest))
    return sizes


def split_iterations(iterations: int, scales: int, ratio: float = 0.5) -> list[int]:
    """Steps per scale, each scale getting `ratio` of the share of the one before (the final scale the rest).

    A step at half the size costs a quarter, and coarse steps settle the large structures that fine
    steps then only refine, so most of the steps go where they are cheap.
    """
    weights = [ratio ** i for i in range(scales)]
    share = [int(iterations * w / sum(weights)) for w in weights]
    share[-1] += iterations - sum(share)
    for scale, steps in enumerate(share):
        if steps == 0:  # every scale gets a step (plan_scales makes no more scales than steps): from the largest
            share[share.index(max(share))] -= 1
            share[scale] = 1
    return share


def eta_seconds(elapsed: float, work_done: float, work_total: float) -> float:
    """Seconds left if the rest of the work goes at the pace so far. Work is pixels × steps: a step's cost
    grows with its pixels, so a coarse step is a quarter of a fine one (a step count alone was 3x optimistic)."""
    if work_done <= 0:
        return 0.0
    return elapsed / work_done * max(0.0, work_total - work_done)


class Clock:
    """Elapsed time and the ETA of a run, counting work as pixels × steps per scale."""

    def __init__(self, sizes: list[tuple[int, int]], shares: list[int]) -> None:
        self.start = time.perf_counter()
        self.pixels = [w * h for w, h in sizes]
        self.total = sum(p * n for p, n in zip(self.pixels, shares))
        self.done = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def tick(self, scale: int) -> tuple[float, float]:
        """One step at `scale` (1-based) is done: (elapsed, eta) in seconds."""
        self.done += self.pixels[scale - 1]
        elapsed = time.perf_counter() - self.start
        return elapsed, eta_seconds(elapsed, self.done, self.total)
