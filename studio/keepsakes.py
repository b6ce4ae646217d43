"""What the server keeps of each run: the last picture each visitor was shown, with its recipe, and a film of the
run, and what Stop offers from them.

Kept in the server process (never in the GPU worker, which is gone after Stop on ZeroGPU), so Stop can offer the
last picture as a PNG, the history strip can record it and any run can become a time-lapse.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from PIL import Image

from nst_core.lru import LRU
from nst_core.timelapse import Film

from .files import ServedFiles

Kept = tuple[Image.Image, dict, tuple[int, int], int]  # picture, recipe, the finished picture's size, step


class Keepsakes:
    """The last picture each key (a session's tab, or one kind of its results) was shown, with its recipe and the
    size the finished one would have, and the film of its latest run. Bounded: the least recently used keys drop
    out."""

    def __init__(self, capacity: int = 64) -> None:
        self.items: LRU[str, Kept] = LRU(capacity)
        self.films: LRU[str, Film] = LRU(capacity)

    def begin(self, key: str) -> None:
        """A new run starts: its film starts empty (the last picture stays until the run shows one)."""
        self.films.put(key, Film())

    def keep(self, key: str, image: Image.Image, recipe: dict, output_size: tuple[int, int], step: int, *,
             total: int | None = None) -> None:
        """`total`: the run's length for the film's step counter (0: open-ended; None: the recipe's iterations)."""
        self.items.put(key, (image, recipe, output_size, step))
        film = self.films.setdefault(key, Film)
        if total is None:
            total = int(recipe.get("settings", {}).get("iterations", step))
        film.add(image, step, total)  # compresses: outside any lock

    def film_only(self, key: str, image: Image.Image, step: int, total: int) -> None:
        """A picture for the key's film alone (a short run's frame between two shown previews)."""
        self.films.setdefault(key, Film).add(image, step, total)

    def last(self, key: str) -> Kept | None:
        return self.items.get(key)

    def film(self, key: str) -> Film | None:
        """The frames of the key's latest run (None if it never ran)."""
        return self.films.get(key)


def stopped_download(keepsakes: Keepsakes, files: ServedFiles, key: str) -> tuple[str, Any]:
    """After Stop: (status, PNG) of the last picture kept under `key`, at the size the run was making (a stop
    during a coarse scale enlarges it and says so), its recipe saying at which step it stopped."""
    kept = keepsakes.last(key)
    if kept is None:
        return "Stopped.", gr.skip()
    image, recipe, output_size, step = kept
    note = ""
    if image.size != tuple(output_size):
        note = (f" It was stopped at a coarse scale ({image.size[0]}×{image.size[1]}), so the PNG is that "
                f"picture enlarged to {output_size[0]}×{output_size[1]}.")
        image = image.resize(tuple(output_size), Image.Resampling.BICUBIC)
    recipe = {**recipe, "stopped_at_step": step, "output_size": list(image.size)}
    return f"Stopped. The last image is kept; download it below.{note}", files.png(image, recipe)
