"""Starting region maps for one click: keep the subject, paint only the sky, two paintings split at the horizon.

Each preset returns a map of labels (which painting, or the photo, paints each pixel) at the photo's shape, as a
guess for the user to correct with the brush: nothing here knows what a subject or a sky *is*. The sky is the part
of the photo reached from its top edge through gently changing colour, never far from the top edge's; the
horizon is the lowest row still mostly sky.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Labels of a region map: which painting paints a pixel, or KEEP the photo.
MAIN, SECOND, THIRD, KEEP = 0, 1, 2, 3
WORK_SIZE = 128  # the sky is looked for at this size (longest side): enough for a horizon, fast in numpy
TOP_BAND = 0.04  # the top rows whose typical colour is the sky's
SKY_LIKE = 0.12  # how far (RGB, 0-1) a pixel may be from the sky's colour, beyond the top band's own spread, and
SKY_DISTANCE = 0.3  # ... be sky whatever its neighbours (LIKE), or be sky where it continues a sky's gradient
SKY_STEP = 0.05  # how far from a sky neighbour a pixel may be and still be sky: a gradient, not an edge
NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))
SKY_ROW_SHARE = 0.5  # a row at least this much sky is above the horizon
PRESETS = ("keep the subject", "sky only", "split at the horizon")


def keep_the_subject(size: tuple[int, int]) -> np.ndarray:
    """An upright ellipse over the middle of the picture (where a phone photo's subject usually is) keeps the
    photo; the rest is painted by the main painting."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    inside = ((x + 0.5 - width / 2) / (0.3 * width)) ** 2 + ((y + 0.5 - 0.55 * height) / (0.42 * height)) ** 2 <= 1
    return np.where(inside, KEEP, MAIN).astype(np.uint8)


def sky_mask(photo: Image.Image) -> np.ndarray:
    """True where the photo's sky is (at the photo's shape): grown from the top edge through neighbours that differ
    little from each other (a sky's gradient, not a roof's edge) and not too far from the top band's colour."""
    small = photo.convert("RGB")
    small.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BOX)
    pixels = np.asarray(small, dtype=np.float32) / 255
    band = pixels[: max(1, round(TOP_BAND * pixels.shape[0]))].reshape(-1, 3)
    colour = np.median(band, axis=0)
    spread = np.quantile(np.linalg.norm(band - colour, axis=1), 0.9)
    distance = np.linalg.norm(pixels - colour, axis=2) - spread
    like_sky, near_sky = distance <= SKY_LIKE, distance <= SKY_DISTANCE
    # A pixel like the sky joins from any sky neighbour (through a thin cable blurred into the sky, say); one
    # merely near it only from a neighbour it hardly differs from (down a sky's gradient, not across a roof's edge).
    smooth = {d: np.linalg.norm(pixels - _shifted(pixels, *d), axis=2) <= SKY_STEP for d in NEIGHBOURS}
    sky = np.zeros(near_sky.shape, dtype=bool)
    sky[0] = near_sky[0]
    while True:
        grown = np.logical_or.reduce([_shifted(sky, *d) & (like_sky | smooth[d]) for d in NEIGHBOURS]) | sky
        grown &= near_sky
        if np.array_equal(grown, sky):
            break
        sky = grown
    mask = Image.fromarray(sky.astype(np.uint8) * 255).resize(photo.size, Image.Resampling.BILINEAR)
    return np.asarray(mask) >= 128


def _shifted(values: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """values moved by (dy, dx): out[y, x] = values[y - dy, x - dx], zero (False) where that is off the edge."""
    out = np.zeros_like(values)
    height, width = values.shape[:2]
    out[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        values[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def horizon_row(sky: np.ndarray) -> int:
    """The first row below the sky: below the lowest row that is mostly sky (the middle if no row is)."""
    rows = np.flatnonzero(sky.mean(axis=1) >= SKY_ROW_SHARE)
    return int(rows[-1]) + 1 if len(rows) else sky.shape[0] // 2


def sky_only(photo: Image.Image) -> np.ndarray:
    """The main painting paints the sky; the rest keeps the photo."""
    return np.where(sky_mask(photo), MAIN, KEEP).astype(np.uint8)


def split_at_horizon(photo: Image.Image) -> np.ndarray:
    """The main painting above the horizon, the second below it."""
    labels = np.full((photo.height, photo.width), MAIN, dtype=np.uint8)
    labels[horizon_row(sky_mask(photo)):] = SECOND
    return labels


def preset_labels(name: str, photo: Image.Image) -> np.ndarray:
    """The named preset's labels over `photo` (one of PRESETS)."""
    if name == "keep the subject":
        return keep_the_subject(photo.size)
    if name == "sky only":
        return sky_only(photo)
    if name == "split at the horizon":
        return split_at_horizon(photo)
    raise ValueError(f"no preset {name!r}")
