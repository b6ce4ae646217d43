"""Render the procedural style gallery.

Every image that `manifest.json` marks "procedural" is drawn here from numpy and Pillow alone, with one
seeded generator per style and no global random state, so the PNGs in `styles/gallery/` can always be
rebuilt and checked:

    python styles/generate.py            # rewrite styles/gallery/*.png
    python styles/generate.py --check    # exit 1 if a committed PNG differs from a fresh render

"Differs" allows for the last bit of floating point (see `difference`): numpy picks its kernels for
transcendental functions by CPU, so the same code renders a few pixels one level apart on another machine.

Style transfer copies local texture statistics (Gram matrices of CNN features), so each picture is built
to carry strong, characteristic texture at several scales rather than flat areas or fine detail alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 512
GALLERY_DIR = Path(__file__).resolve().parent / "gallery"

Array = np.ndarray
StyleFn = Callable[[np.random.Generator], Array]
_STYLES: dict[str, tuple[int, StyleFn]] = {}


def style(name: str, seed: int) -> Callable[[StyleFn], StyleFn]:
    """Register a style function under `name`; it is always called with a fresh generator seeded `seed`."""

    def register(fn: StyleFn) -> StyleFn:
        _STYLES[name] = (seed, fn)
        return fn

    return register


# --------------------------------------------------------------------------------------------------------
# Small helpers. Every image is a float32 array (H, W, 3) in [0, 1] until it is saved.


def _hex(code: str) -> Array:
    """An RGB triple in [0, 1] from '#rrggbb'."""
    return np.array([int(code[i : i + 2], 16) for i in (1, 3, 5)], np.float32) / 255


def _palette(*codes: str) -> Array:
    """A (k, 3) array of colours from hex codes."""
    return np.stack([_hex(c) for c in codes])


def _ramp(t: Array, colours: Array) -> Array:
    """Map t in [0, 1] through a piecewise-linear gradient of `colours` (k, 3)."""
    t = np.clip(t, 0, 1) * (len(colours) - 1)
    i = np.minimum(t.astype(np.int32), len(colours) - 2)
    f = (t - i)[..., None]
    return colours[i] * (1 - f) + colours[i + 1] * f


def _coords(size: int = SIZE) -> tuple[Array, Array]:
    """Pixel x and y coordinate grids."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    return x, y


def _smooth(e0: float, e1: float, x: Array) -> Array:
    """Hermite smoothstep from e0 to e1 (e0 > e1 gives a falling step)."""
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    return t * t * (3 - 2 * t)


def _noise(
    rng: np.random.Generator, cells: int | tuple[int, int], size: int | tuple[int, int] = SIZE
) -> Array:
    """Smooth value noise: a random lattice of cells (x, y) upsampled bicubically to size (w, h)."""
    cx, cy = (cells, cells) if isinstance(cells, int) else cells
    w, h = (size, size) if isinstance(size, int) else size
    lattice = rng.random((cy + 1, cx + 1), dtype=np.float32)
    return np.array(Image.fromarray(lattice).resize((w, h), Image.Resampling.BICUBIC), np.float32)


def _fbm(
    rng: np.random.Generator, cells: int = 4, octaves: int = 5, gain: float = 0.5, size: int = SIZE
) -> Array:
    """Fractal noise normalised to [0, 1]: octaves of value noise, each twice as fine and `gain` as strong."""
    total = np.zeros((size, size), np.float32)
    amp = 1.0
    for octave in range(octaves):
        total += amp * _noise(rng, min(cells * 2**octave, size), size)
        amp *= gain
    return (total - total.min()) / (total.max() - total.min())


def _blur(a: Array, r: int, passes: int = 3) -> Array:
    """Approximately Gaussian blur of a 2-D or (H, W, C) float array: `passes` box blurs of radius r.

    Pillow only blurs 8-bit images; this keeps float precision and works on masks and colour alike.
    """
    if r < 1:
        return a
    k = 2 * r + 1
    out = a.astype(np.float32)
    for _ in range(passes):
        for axis in (0, 1):
            pad = [(0, 0)] * out.ndim
            pad[axis] = (r + 1, r)
            c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float32)
            hi = np.take(c, np.arange(k, c.shape[axis]), axis=axis)
            lo = np.take(c, np.arange(0, c.shape[axis] - k), axis=axis)
            out = ((hi - lo) / k).astype(np.float32)
    return out


def _voronoi(
    px: Array, py: Array, xs: Array | None = None, ys: Array | None = None, pad: float = 80.0, block: int = 32
) -> tuple[Array, Array, Array]:
    """Nearest point, second-nearest point and distance to their shared cell border, for every pixel.

    The border distance is exact (distance to the perpendicular bisector), which keeps grout and lead
    lines the same width everywhere. Pixels may sit at warped positions (xs, ys); each block of pixels
    only considers points within `pad` of it, so pad must exceed the second-nearest distance.
    """
    if xs is None or ys is None:
        xs, ys = _coords()
    h, w = xs.shape
    near = np.empty((h, w), np.int32)
    second = np.empty((h, w), np.int32)
    edge = np.empty((h, w), np.float32)
    everyone = np.arange(len(px))
    for y0 in range(0, h, block):
        for x0 in range(0, w, block):
            bx, by = xs[y0 : y0 + block, x0 : x0 + block], ys[y0 : y0 + block, x0 : x0 + block]
            sel = np.flatnonzero(
                (px >= bx.min() - pad)
                & (px <= bx.max() + pad)
                & (py >= by.min() - pad)
                & (py <= by.max() + pad)
            )
            if sel.size < 2:
                sel = everyone
            d2 = (bx[..., None] - px[sel]) ** 2 + (by[..., None] - py[sel]) ** 2
            # Two argmin passes beat a partial sort when each block has only a few dozen candidates.
            i1 = d2.argmin(-1)[..., None]
            da = np.take_along_axis(d2, i1, -1)[..., 0]
            np.put_along_axis(d2, i1, np.inf, -1)
            i2 = d2.argmin(-1)[..., None]
            db = np.take_along_axis(d2, i2, -1)[..., 0]
            a, b = sel[i1[..., 0]], sel[i2[..., 0]]
            sep = np.maximum(np.hypot(px[a] - px[b], py[a] - py[b]), 1e-3)
            near[y0 : y0 + block, x0 : x0 + block] = a
            second[y0 : y0 + block, x0 : x0 + block] = b
            edge[y0 : y0 + block, x0 : x0 + block] = (db - da) / (2 * sep)
    return near, second, edge


def _stroke_texture(rng: np.random.Generator, angle: float, length: int, width: int) -> Array:
    """Noise made of short parallel streaks (like brush or knife marks) at `angle` degrees, in [0, 1]."""
    big = int(SIZE * 1.5)
    tex = _noise(rng, (max(2, big // length), max(2, big // width)), big)
    img = Image.fromarray(tex).rotate(angle, resample=Image.Resampling.BILINEAR)
    o = (big - SIZE) // 2
    return np.array(img, np.float32)[o : o + SIZE, o : o + SIZE]


def _fills(colours: Array) -> list[tuple[int, ...]]:
    """Pillow fill colours for many float RGB rows at once (much faster than one _rgb call each)."""
    return [tuple(c) for c in np.clip(np.rint(colours * 255), 0, 255).astype(int).tolist()]


def _supersampled(img: Image.Image) -> Array:
    """Downsample a 2x drawing to SIZE (anti-aliasing Pillow's hard-edged shapes), as floats."""
    return np.asarray(img.reduce(2), np.float32) / 255


def _rgb(colour: Array) -> tuple[int, int, int]:
    """A Pillow fill colour from a float RGB triple."""
    c = np.clip(np.rint(np.asarray(colour) * 255), 0, 255).astype(int)
    return int(c[0]), int(c[1]), int(c[2])


# --------------------------------------------------------------------------------------------------------
# The styles.


@style("swirling_impasto", seed=1889)
def swirling_impasto(rng: np.random.Generator) -> Array:
    """Van Gogh-like night: thick ridged brush strokes that follow a swirling flow field."""
    big = 2 * SIZE
    # The flow field only needs to be known coarsely: strokes are traced through it in 5 px steps.
    g = 128
    cell = big / g
    gy, gx = (np.mgrid[0:g, 0:g].astype(np.float32) + 0.5) * cell
    vx = np.ones_like(gx)
    vy = 0.45 * np.sin(gx / 170 + gy / 90)
    # (x, y, radius, spin, bright): the great central swirl, a moon and stars; bright ones get halos.
    vortices = [
        (520, 360, 230, 1.0, False),
        (860, 170, 130, -1.0, True),
        (150, 130, 75, 1.0, True),
        (390, 110, 60, -1.0, True),
        (640, 560, 70, 1.0, True),
        (930, 480, 65, -1.0, True),
        (300, 420, 120, -1.0, False),
    ]
    for cx, cy, rad, spin, _ in vortices:
        dx, dy = gx - cx, gy - cy
        r = np.hypot(dx, dy) + 1e-3
        k = 3.2 * spin * np.exp(-((r / rad) ** 2))
        vx += -dy / r * k
        vy += dx / r * k
    horizon = 0.74 * big + 45 * np.sin(gx / 150)
    land = gy > horizon
    vx[land], vy[land] = 1.0, 0.35 * np.cos(gx[land] / 150)
    # A flame-shaped cypress on the left, its strokes licking upwards.
    half = 85 * np.clip((gy - 230) / (big - 230), 0, 1) ** 0.8 + 10 * np.sin(gy / 35)
    tree = (np.abs(gx - 200) < half) & (gy > 230)
    vx[tree], vy[tree] = 0.35 * np.sin(gy[tree] / 30), -1.0
    angle = np.arctan2(vy, vx) + 0.6 * (_noise(rng, 12, g) - 0.5)
    shade_noise = _noise(rng, 10, big)

    def colour_at(x: Array, y: Array) -> Array:
        """The intended paint colour at canvas points x, y (any shape)."""
        ix = np.clip((x / cell).astype(np.int32), 0, g - 1)
        iy = np.clip((y / cell).astype(np.int32), 0, g - 1)
        n = shade_noise[np.clip(y.astype(np.int32), 0, big - 1), np.clip(x.astype(np.int32), 0, big - 1)]
        sky = _palette("#13215e", "#1f4296", "#3a6fbf", "#7fa8d8", "#c3d6e6")
        col = _ramp(n * 0.85, sky)
        for cx, cy, rad, _, bright in vortices:
            r = np.hypot(x - cx, y - cy) / rad
            if bright:
                core = _ramp(np.clip(r / 0.45, 0, 1), _palette("#fffbe0", "#f7e27a", "#e9b93a"))
                rings = np.where(np.sin(r * 22) > 0, 1.0, 0.0)[..., None]
                halo = rings * _hex("#f2d45c") + (1 - rings) * _hex("#9cc0e0")
                col = np.where(
                    (r < 0.45)[..., None],
                    core,
                    np.where((r < 1.05)[..., None], halo * 0.85 + col * 0.15, col),
                )
            else:
                band = ((np.sin(r * 16) > 0.55) & (r < 1.0))[..., None]
                col = np.where(band, _hex("#b8d2e2") * 0.7 + col * 0.3, col)
        ground = _ramp(n, _palette("#0d1c2e", "#1f3b4f", "#3d5c5a", "#5f7a4f"))
        lights = (n > 0.86) & (y < 0.74 * big + 120)
        ground = np.where(lights[..., None], _hex("#f0c84a"), ground)
        col = np.where(land[iy, ix][..., None], ground, col)
        cypress = _ramp(n, _palette("#0a120c", "#1d2e17", "#3c4a22", "#6b5a2a"))
        return np.where(tree[iy, ix][..., None], cypress, col)

    # Underpainting: a darker, blurred version of the scene shows between strokes like a toned ground.
    ys, xs = (np.mgrid[0:g, 0:g].astype(np.float32) + 0.5) * cell
    under = np.clip(colour_at(xs, ys) * 0.55, 0, 1)
    canvas = Image.fromarray((under * 255).astype(np.uint8)).resize((big, big), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(canvas)

    n_strokes, steps, step = 4700, 16, 5.0
    pos = rng.random((n_strokes, 2), dtype=np.float32) * big
    # Strokes start more densely around the bright bodies, so halos read as concentric rings of paint.
    for cx, cy, rad, _, bright in vortices:
        if bright:
            m = int(rad * 2.2)
            a = rng.random(m) * 2 * np.pi
            r = np.sqrt(rng.random(m)) * rad * 1.05
            pos = np.vstack([pos, np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1).astype(np.float32)])
    trail = np.empty((steps, len(pos), 2), np.float32)
    p = pos.copy()
    for k in range(steps):
        trail[k] = p
        ix = np.clip((p[:, 0] / cell).astype(np.int32), 0, g - 1)
        iy = np.clip((p[:, 1] / cell).astype(np.int32), 0, g - 1)
        a = angle[iy, ix]
        p = p + step * np.stack([np.cos(a), np.sin(a)], 1)
    colours = colour_at(pos[:, 0], pos[:, 1]) * (0.93 + 0.14 * rng.random((len(pos), 1)))
    lengths = rng.integers(7, steps + 1, len(pos))
    widths = rng.integers(9, 16, len(pos))
    # Each stroke: a dark rim, the paint body, and a thin offset highlight on its ridge (impasto).
    rim, body, ridge = _fills(colours * 0.5), _fills(colours), _fills(colours * 1.2 + 0.08)
    for i in range(len(pos)):
        pts = trail[: lengths[i], i]
        w = int(widths[i])
        draw.line(pts.ravel().tolist(), fill=rim[i], width=w + 3)
        draw.line(pts.ravel().tolist(), fill=body[i], width=w)
        draw.line((pts - w * 0.22).ravel().tolist(), fill=ridge[i], width=max(2, w // 4))
    return _supersampled(canvas)


@style("mosaic_tesserae", seed=547)
def mosaic_tesserae(rng: np.random.Generator) -> Array:
    """Byzantine mosaic: tesserae laid in rings around a rosette, wavy rows elsewhere, with grout."""
    t = 14.0  # tessera size in pixels
    cx = cy = SIZE / 2
    big_r = 200
    xs_, ys_ = [], []

    def rings(ox: float, oy: float, radius: float) -> None:
        # Andamento: tesserae follow the motif's outline in concentric courses.
        for k in range(int(radius / t)):
            r = (k + 0.5) * t
            n = max(1, round(2 * np.pi * r / t))
            a = rng.random() * 2 * np.pi + np.arange(n) * 2 * np.pi / n
            xs_.extend(ox + r * np.cos(a))
            ys_.extend(oy + r * np.sin(a))

    corners = [(0, 0), (SIZE, 0), (0, SIZE), (SIZE, SIZE)]
    rings(cx, cy, big_r)
    for ox, oy in corners:
        rings(ox, oy, 88)
    for j in range(-1, int(SIZE / t) + 2):
        x = np.arange(-t, SIZE + t, t) + (j % 2) * t / 2
        y = j * t + 5 * np.sin(x / 45 + j * 0.25)
        far = np.hypot(x - cx, y - cy) > big_r + t * 0.3
        for ox, oy in corners:
            far &= np.hypot(x - ox, y - oy) > 88 + t * 0.3
        xs_.extend(x[far])
        ys_.extend(y[far])
    px = np.array(xs_, np.float32) + rng.normal(0, 0.9, len(xs_)).astype(np.float32)
    py = np.array(ys_, np.float32) + rng.normal(0, 0.9, len(ys_)).astype(np.float32)

    # The design, sampled once per tessera at its centre.
    r = np.hypot(px - cx, py - cy)
    th = np.arctan2(py - cy, px - cx)
    gold, red, white, lapis = _hex("#d9a931"), _hex("#a3261f"), _hex("#efe6cf"), _hex("#1d3f8a")
    turq, terra, dark, green = _hex("#2f9c95"), _hex("#c0653a"), _hex("#1b1a24"), _hex("#2d5e3a")
    petal_r = 50 + 115 * np.abs(np.cos(4 * th)) ** 0.7
    col = np.empty((len(px), 3), np.float32)
    col[:] = lapis
    sprinkle = rng.random(len(px)) < 0.1
    col[sprinkle] = gold
    in_petal = r < petal_r
    col[in_petal] = _ramp(((r - 40) / 120)[in_petal], np.stack([white, _hex("#e79a8b"), red]))
    col[in_petal & (r > petal_r - 13)] = dark
    col[r < 44] = red
    col[r < 32] = gold
    col[r < 12] = white
    border = (r > big_r - 26) & (r < big_r + 6)
    checker = (np.floor((th + np.pi) / (2 * np.pi) * 48) % 2).astype(bool)
    col[border] = np.where(checker[border, None], white, terra)
    col[(r > big_r - 13) & (r < big_r + 6)] = dark
    outside = r >= big_r + 6
    wave = np.sin((py + 14 * np.sin(px / 38)) / (2.6 * t)) > 0.72
    col[outside] = green
    col[outside & wave] = turq
    for ox, oy in corners:
        rc = np.hypot(px - ox, py - oy)
        inner = rc < 88
        col[inner] = np.where((np.floor(rc[inner] / t) % 2 == 0)[:, None], gold, white)
        col[inner & (rc > 88 - t)] = dark
        col[rc < t] = red
    # Hand-cut glass and stone never match exactly: jitter each tessera's brightness and hue a little.
    col *= 0.86 + 0.22 * rng.random((len(px), 1), dtype=np.float32)
    col += rng.normal(0, 0.015, col.shape).astype(np.float32)

    x, y = _coords()
    near, _, edge = _voronoi(px, py, pad=4 * t)
    img = col[near]
    # Each tessera is a little bevelled and tilted, so it catches the light on one side.
    tilt = rng.normal(0, 1, (len(px), 2)).astype(np.float32)
    sheen = 1 + 0.05 * ((x - px[near]) * tilt[near, 0] + (y - py[near]) * tilt[near, 1]) / t
    bevel = 0.8 + 0.2 * _smooth(1.0, 3.5, edge)
    img = img * (sheen * bevel * (0.97 + 0.06 * _fbm(rng, 32, 2)))[..., None]
    grout = _hex("#b8ae98") * (0.85 + 0.15 * _fbm(rng, 16, 2))[..., None]
    tile = _smooth(1.0, 2.0, edge)[..., None]
    return img * tile + grout * (1 - tile)


@style("stained_glass", seed=1248)
def stained_glass(rng: np.random.Generator) -> Array:
    """Rose window: symmetric Voronoi panes of jewel-coloured mottled glass in thick black leading."""
    cx = cy = SIZE / 2
    rose = 236
    jewels = {
        "ruby": "#9b1123",
        "sapphire": "#123c9a",
        "emerald": "#0a7a46",
        "amber": "#e3961a",
        "amethyst": "#6e2a8a",
        "gold": "#f2cf48",
        "turquoise": "#138f96",
        "white": "#dcdcbc",
        "rose": "#c8326b",
    }
    # (radius, count, the pair of glasses alternating round the ring)
    courses = [
        (0, 1, ("gold", "gold")),
        (36, 6, ("ruby", "ruby")),
        (74, 12, ("sapphire", "amber")),
        (112, 12, ("emerald", "white")),
        (148, 24, ("ruby", "sapphire")),
        (186, 24, ("amethyst", "gold")),
        (220, 36, ("turquoise", "ruby")),
    ]
    px, py, cols = [], [], []
    for k, (r, n, pair) in enumerate(courses):
        a0 = (k % 2) * np.pi / max(n, 1)
        for i in range(n):
            a = a0 + i * 2 * np.pi / n
            px.append(cx + r * np.cos(a))
            py.append(cy + r * np.sin(a))
            cols.append(_hex(jewels[pair[i % 2]]))
    # The spandrels outside the rose get smaller, freely placed panes of deep blue and red.
    while len(px) < 215:
        x, y = rng.random(2) * SIZE
        if np.hypot(x - cx, y - cy) > rose + 12:
            px.append(x)
            py.append(y)
            cols.append(
                _hex(jewels[("sapphire", "ruby", "sapphire", "amethyst", "emerald")[rng.integers(5)]])
            )
    px_a, py_a = np.array(px, np.float32), np.array(py, np.float32)
    col = np.stack(cols) * (0.85 + 0.3 * rng.random((len(cols), 1), dtype=np.float32))

    x, y = _coords()
    near, _, edge = _voronoi(px_a, py_a, pad=160)
    # Tracery: a stone ring round the rose, lead rings and twelve spokes cut the panes into wedges.
    r = np.hypot(x - cx, y - cy)
    edge = np.minimum(edge, np.maximum(np.abs(r - rose - 6) - 4, 0))
    for ring_r in (93, 167):
        edge = np.minimum(edge, np.abs(r - ring_r))
    th = np.arctan2(y - cy, x - cx)
    spoke = np.abs((th / (np.pi / 6) + 0.5) % 1 - 0.5) * (np.pi / 6) * r
    edge = np.where((r > 93) & (r < rose), np.minimum(edge, spoke), edge)
    # Hand-made glass: cloudy mottling at two scales, streaks, and darker near the lead where it's thicker.
    mottle = 0.7 + 0.45 * _fbm(rng, 6, 5) + 0.15 * (_stroke_texture(rng, 30, 40, 4) - 0.5)
    depth = 0.6 + 0.55 * _smooth(0, 16, edge)
    glow = 1.1 - 0.25 * (np.hypot(x - cx, y - cy) / SIZE)
    glass = np.clip(col[near] * (mottle * depth * glow)[..., None], 0, 1)
    # Lead came is rounded: brightest along its middle.
    lead_w = 3.4
    lead = (0.07 + 0.13 * np.clip(1 - np.abs(edge - lead_w / 2) / (lead_w / 2), 0, 1))[..., None] * np.ones(3)
    a = _smooth(lead_w - 0.5, lead_w + 0.6, edge)[..., None]
    return glass * a + lead * (1 - a)


@style("pointillism", seed=1886)
def pointillism(rng: np.random.Generator) -> Array:
    """Seurat-like seaside at sunset: dense dots of pure colours that mix in the eye, with complements."""
    x, y = _coords()
    horizon = 300
    sky = _ramp(y / horizon, _palette("#6f7fc8", "#a79ad3", "#f0a6a0", "#fbd38a"))
    sun_d = np.hypot(x - 360, y - 245)
    sky = np.where((sun_d < 38)[..., None], _hex("#fff1b0"), sky + 0.25 * np.exp(-sun_d / 70)[..., None])
    sea = _ramp((y - horizon) / 120, _palette("#6f86c9", "#3b5aa8", "#2b3f86"))
    glitter = np.exp(-(((x - 360) / (28 + (y - horizon) * 0.6)) ** 2)) * (np.sin(y * 0.9) > -0.2)
    sea = sea + glitter[..., None] * (_hex("#ffd27a") - sea) * 0.85
    shore = 420 + 18 * np.sin(x / 60)
    land = _ramp(_fbm(rng, 4, 4), _palette("#2f6b3a", "#6b9a3d", "#c8a64a", "#d98b3a"))
    scene = np.where((y < horizon)[..., None], sky, np.where((y < shore)[..., None], sea, land))
    canopy = np.hypot((x - 105) / 1.1, y - 215) < 120 * (0.75 + 0.5 * _fbm(rng, 6, 4))
    scene = np.where(
        canopy[..., None], _ramp(_fbm(rng, 8, 3), _palette("#12361f", "#2d6a35", "#6f9f3a")), scene
    )
    trunk = (np.abs(x - 110 - (y - 300) * 0.1) < 9) & (y > 280) & (y < shore + 10)
    scene = np.where(trunk[..., None], _hex("#4a2e24"), scene)

    scene = np.clip(scene, 0, 1)
    # Divisionist palette: only pure pigments and white are painted; the eye does the mixing.
    # (The first nine are pure hues, the only ones used as complements.)
    pigments = _palette(
        "#1e3a96", "#3f7fd0", "#6a4c9c", "#c73e74", "#e4572e", "#f5a623", "#f7e47c", "#2e8b57", "#9bc53d",
        "#86c5e6", "#fdf8e8", "#17402a", "#7a3b2a",
    )  # fmt: skip
    hues = 9
    big = 2 * SIZE
    base = (scene * 0.55 + _hex("#efe6d2") * 0.45) * 255
    canvas = Image.fromarray(base.astype(np.uint8)).resize((big, big), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(canvas)
    n = 16000
    pts = rng.random((n, 2)) * big
    target = scene[(pts[:, 1] / 2).astype(int), (pts[:, 0] / 2).astype(int)]
    target = target + rng.normal(0, 0.05, target.shape)
    d = ((target[:, None, :] - pigments[None]) ** 2).sum(-1)
    order = np.argsort(d, axis=1)
    # Pick between the two nearest pigments in proportion to closeness...
    d1 = np.take_along_axis(d, order[:, :1], 1)[:, 0]
    d2 = np.take_along_axis(d, order[:, 1:2], 1)[:, 0]
    choice = np.where(rng.random(n) < d2 / (d1 + d2 + 1e-6), order[:, 0], order[:, 1])
    # ...and now and then the complementary hue (the colour mirrored through its own grey), which
    # makes neighbouring colours vibrate as in Seurat's and Signac's contrasts.
    mirrored = 2 * target.mean(1, keepdims=True) - target
    comp = ((mirrored[:, None, :] - pigments[None, :hues]) ** 2).sum(-1).argmin(1)
    choice = np.where(rng.random(n) < 0.12, comp, choice)
    radii = rng.uniform(4.2, 7.0, n)
    inks = _fills(pigments)
    for (px, py), c, r in zip(pts, choice, radii, strict=True):
        draw.ellipse((px - r, py - r, px + r, py + r), fill=inks[c])
    return _supersampled(canvas)


@style("woodcut_waves", seed=1831)
def woodcut_waves(rng: np.random.Generator) -> Array:
    """Hokusai-like woodblock print: banded trochoid waves with claw-like foam, few flat inks, wood grain."""
    big = 2 * SIZE
    paper, sky_top = _hex("#eee0c0"), _hex("#d8c6a0")
    prussian, indigo, mid, pale = _hex("#0f2a57"), _hex("#1b2140"), _hex("#3f6f9c"), _hex("#a9c3cc")
    foam = _hex("#f7f1e1")
    # Bokashi: the printer's graded wipe of blue ink along the top of the sky.
    ys = np.linspace(0, 1, big, dtype=np.float32)
    sky = _ramp(ys / 0.35, np.stack([_hex("#34476e"), _hex("#9aa3a5"), sky_top, paper]))[:, None, :]
    canvas = Image.fromarray((np.broadcast_to(sky, (big, big, 3)) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    # Mount Fuji on the horizon, snow cap with a jagged hem.
    draw.polygon([(560, 520), (740, 330), (920, 520)], fill=_rgb(_hex("#4a5f7e")))
    cap = [(680 + i * 15, 395 + (18 if i % 2 else 0)) for i in range(9)]
    draw.polygon([(740, 330), *cap], fill=_rgb(foam))
    # A few bands of cloud, the rounded bars of the print tradition.
    for cx_, cy_, w in ((230, 260, 300), (620, 300, 240), (860, 200, 200), (420, 380, 360), (120, 420, 180)):
        draw.rounded_rectangle(
            (cx_ - w / 2, cy_ - 14, cx_ + w / 2, cy_ + 14), radius=14, fill=_rgb(_hex("#e6d3ad"))
        )

    layers = [  # (base y, amplitude, wavelength, crest sharpness, body ink)
        (500, 28, 170, 0.7, mid),
        (580, 42, 230, 0.75, prussian),
        (670, 58, 300, 0.8, mid),
        (770, 78, 380, 0.85, prussian),
        (880, 100, 470, 0.9, indigo),
        (1010, 125, 560, 0.92, prussian),
    ]
    for base, amp, lam, sharp, ink in layers:
        t = np.linspace(-2 * np.pi, (big / lam + 2) * 2 * np.pi, 900)
        x0 = rng.random() * lam
        # Trochoids have the pointed crests and broad troughs of Hokusai's waves; the sea swells to the left.
        wx = x0 + (t - sharp * np.sin(t)) * lam / (2 * np.pi)
        swell = (1 + 0.3 * np.sin(t / 3.1 + rng.random() * 6)) * (1.5 - 0.7 * np.clip(wx / big, 0, 1))
        wy = base - amp * swell * np.cos(t)
        outline = np.stack([wx, wy], 1)
        draw.polygon([*map(tuple, outline), (big + 50, big + 50), (-50, big + 50)], fill=_rgb(ink))
        # Carved lines follow the wave shape into its body, fading in amplitude with depth.
        band_ink = pale if ink is not mid else _hex("#cfdde0")
        for k in range(1, 8):
            depth = k * (10 + amp * 0.18)
            ky = base + depth - amp * swell * np.cos(t) * max(0.0, 1 - k * 0.11)
            draw.line(np.stack([wx, ky], 1).ravel().tolist(), fill=_rgb(band_ink), width=5 if k % 2 else 3)
        draw.line(outline.ravel().tolist(), fill=_rgb(indigo), width=7)
        # Foam: a white lip along each crest and claw-tips and spray just above it.
        crest = np.cos(t) > 0.55
        for seg in np.split(np.arange(len(t)), np.flatnonzero(np.diff(crest.astype(int))) + 1):
            if crest[seg[0]] and len(seg) > 2:
                lip = outline[seg] + [0, 7]
                draw.line(lip.ravel().tolist(), fill=_rgb(foam), width=12)
                for j in seg[:: max(1, len(seg) // 7)]:
                    r = rng.uniform(4, 9) * amp / 60 + 3
                    fx, fy = outline[j] + [rng.normal(0, 6), -rng.uniform(4, 20)]
                    draw.ellipse(
                        (fx - r, fy - r, fx + r, fy + r), fill=_rgb(foam), outline=_rgb(indigo), width=3
                    )
    img = _supersampled(canvas)
    # Printing texture: wood grain streaks in the inks and paper showing through where ink ran thin.
    grain = _stroke_texture(rng, 2, 90, 2)
    specks = _fbm(rng, 64, 3) > 0.78
    img = img * (0.93 + 0.1 * grain)[..., None]
    dark = img.mean(-1, keepdims=True) < 0.45
    return np.where(dark & specks[..., None], img * 0.6 + paper * 0.4, img)


@style("cubist_facets", seed=1910)
def cubist_facets(rng: np.random.Generator) -> Array:
    """Analytic-cubist facets: tall angular planes shaded dark-to-light, ochres and greys, open contours."""
    n = 72
    x, y = _coords()
    # Voronoi in vertically squashed space gives tall, splintered facets rather than round cells.
    squash = 0.5
    px = (rng.random(n) * 1.2 - 0.1).astype(np.float32) * SIZE
    py = (rng.random(n) * 1.2 - 0.1).astype(np.float32) * SIZE * squash
    near, second, edge = _voronoi(px, py, x, y * squash, pad=SIZE)
    py = py / squash
    palette = _palette(
        "#d8b36a", "#c69a4e", "#9c7a45", "#6f5a3a", "#a39d8f", "#7d7a55", "#e3d3a8", "#3f3a33", "#6c7680"
    )
    # A lighter, warmer figure near the centre, darker and greyer at the margins (as Braque composed).
    centre = np.hypot(px - SIZE * 0.5, (py - SIZE * 0.45) * 0.7) / SIZE
    pick = np.clip((centre * 10 + rng.random(n) * 3).astype(int), 0, len(palette) - 1)
    pick = np.where(rng.random(n) < 0.25, rng.integers(0, len(palette), n), pick)
    base = palette[pick]
    # Each facet is lit across one direction and darkens into one of its borders (passage).
    theta = rng.random(n) * 2 * np.pi
    proj = ((x - px[near]) * np.cos(theta[near]) + (y - py[near]) * np.sin(theta[near])) / 30
    shade = (0.5 + 0.5 * np.tanh(proj)) * (0.5 + 0.5 * _smooth(0, 14, edge))
    # Straight cuts across the canvas, mostly steep, split facets further; side parity shifts the tone.
    parity = np.zeros_like(x)
    cuts = []
    for _ in range(11):
        a = rng.normal(0, 0.35) + (0 if rng.random() < 0.7 else np.pi / 2)
        c = rng.random() * SIZE
        side = (x - SIZE / 2) * np.cos(a) + (y - SIZE / 2) * np.sin(a) - (c - SIZE / 2)
        parity += side > 0
        cuts.append(np.abs(side))
    shift = np.where(parity % 2 == 1, 0.12, -0.08)
    lum = np.clip(0.4 + 0.85 * shade + shift, 0.2, 1.3)
    # Short slanted brush marks, at one of two angles per facet, like Braque's and Picasso's hatching.
    tex = np.where(near % 2 == 0, _stroke_texture(rng, 50, 12, 3), _stroke_texture(rng, -35, 12, 3))
    img = base[near] * (lum * (0.8 + 0.34 * tex))[..., None]
    # Contours are drawn only along some cell borders and cuts: planes open into each other.
    key = np.minimum(near, second) * 97 + np.maximum(near, second)
    keep = rng.random(n * 97 + n) < 0.6
    line = _smooth(2.0, 0.7, edge) * keep[key]
    for d in cuts[:6]:
        line = np.maximum(line, _smooth(1.4, 0.4, d) * (_noise(rng, 5) > 0.5))
    ink = _hex("#2a231c")
    img = img * (1 - line[..., None]) + ink * line[..., None]
    canvas = 0.96 + 0.08 * _fbm(rng, 64, 2)
    return np.clip(img * canvas[..., None], 0, 1)


@style("watercolour_wash", seed=1840)
def watercolour_wash(rng: np.random.Generator) -> Array:
    """Watercolour landscape: transparent glazes with dark dried edges, blooms, granulation, white paper."""
    x, y = _coords()
    grain = _fbm(rng, 48, 3)
    img = _hex("#fbf7ec") * (0.93 + 0.08 * grain)[..., None]
    # Pigments as transmittance: glazes multiply, so overlaps darken and mix as real washes do.
    # Uneven pigment load across the page, shared by all washes (it is the painter's hand, not the wash).
    puddles = 0.8 + 0.4 * _noise(rng, 7)
    cerulean, ultra, rose = _hex("#5fa9d8"), _hex("#4a5fc4"), _hex("#d9607a")
    sap, ochre, sienna, indigo = _hex("#6f9f3a"), _hex("#e2a73c"), _hex("#b5552a"), _hex("#2e3566")

    def ridge(base: float, amp: float, cells: int) -> Array:
        """A hand-drawn horizon: smooth 1-D noise across the page."""
        line = _noise(rng, (cells, 1), (SIZE, 1))[0] + 0.3 * _noise(rng, (cells * 5, 1), (SIZE, 1))[0]
        return base + amp * (line - 0.65)

    def wash(mask: Array, tint: Array, density: Array | float, rim: float = 1.6, blooms: int = 0) -> None:
        """Lay one glaze: pigment settles in the paper grain and collects along the wash's drying edge."""
        nonlocal img
        rim_d = np.clip(mask - _blur(mask, 4), 0, 1) * rim
        d = mask * density * (0.65 + 0.7 * grain) * puddles
        for _ in range(blooms):
            # A backrun: water crept back into the drying wash, pushing pigment to a cauliflower fringe.
            bx, by = x[mask > 0.5], y[mask > 0.5]
            if bx.size == 0:
                break
            j = int(rng.integers(bx.size))
            r = rng.uniform(14, 34)
            rn = np.hypot(x - bx[j], y - by[j]) / r + 0.8 * (_noise(rng, 24) - 0.5)
            bloom = _smooth(1.0, 0.9, rn) * mask
            d = d * (1 - 0.6 * bloom) + np.clip(bloom - _blur(bloom, 2), 0, 1) * 0.9
        img = img * tint ** (d + rim_d)[..., None]

    # Sky: graded wet-in-wet wash, cerulean into ultramarine above, a blush of rose near the hills,
    # with clouds lifted out as soft-edged white paper.
    clouds = _smooth(0.55, 0.68, _fbm(rng, 4, 5) + 0.25 * (y / 260))
    sky = _smooth(300, 0, y) * (1 - clouds)
    wash(sky, cerulean, 0.9 * _smooth(260, 20, y) + 0.2, rim=0.6)
    wash(sky * _smooth(0.5, 0.3, _fbm(rng, 3, 3)), ultra, 0.5 * _smooth(200, 0, y), rim=0.8, blooms=2)
    wash(_smooth(150, 240, y) * _smooth(300, 260, y) * (1 - clouds), rose, 0.35, rim=0.4)
    # Far mountains, middle hills, then the foreground: each a glaze over the last, hard-edged above.
    far = (y > ridge(215, 110, 7)) * 1.0 * _smooth(340, 300, y)
    wash(far, ultra, 0.55, blooms=2)
    wash(far, rose, 0.35)
    mid = (y > ridge(285, 60, 9)) * 1.0 * _smooth(380, 350, y)
    wash(mid, sap, 0.75, blooms=3)
    wash(mid * _smooth(0.45, 0.65, _fbm(rng, 4, 3)), ochre, 0.6)
    # The lake is left as paper, with broken horizontal dabs for ripples and reflections.
    dabs = np.zeros_like(x)
    for _ in range(40):
        cx, cy = rng.uniform(-20, SIZE + 20), rng.uniform(352, 408)
        rn = np.hypot((x - cx) / rng.uniform(15, 60), (y - cy) / rng.uniform(1.5, 3.5))
        dabs = np.maximum(dabs, _smooth(1.0, 0.8, rn + 0.4 * (grain - 0.5)))
    wash(dabs, cerulean, 0.9, rim=0.8)
    ground = (y > ridge(415, 40, 10)) * 1.0
    wash(ground, ochre, 0.8, blooms=2)
    wash(ground * _smooth(0.4, 0.6, _fbm(rng, 5, 4)), sap, 0.9, blooms=2)
    wash(ground * _smooth(0.6, 0.75, _fbm(rng, 6, 4)), sienna, 0.9)
    # Trees: a canopy of loose overlapping dabs, laid as one green glaze, then indigo on the shaded side.
    for tx, ty, tw, th, foot in (
        (70, 270, 44, 80, 352),
        (150, 305, 28, 45, 350),
        (450, 262, 44, 90, 354),
        (395, 312, 24, 40, 348),
        (300, 462, 36, 50, 512),
    ):
        trunk = _smooth(2.0, 0.8, np.abs(x - tx - (y - ty) * 0.04)) * (y > ty) * _smooth(foot, foot - 6, y)
        wash(trunk, sienna, 1.3, rim=0.3)
        canopy = np.zeros_like(x)
        for _ in range(9):
            cx, cy = tx + rng.normal(0, tw * 0.35), ty + rng.normal(0, th * 0.3)
            r = rng.uniform(0.35, 0.6) * tw
            rn = np.hypot(x - cx, (y - cy) / 1.4) / r + 0.5 * (_noise(rng, 30) - 0.5)
            canopy = np.maximum(canopy, _smooth(1.0, 0.95, rn))
        wash(canopy, sap, 0.9, rim=1.0)
        shade = _smooth(-0.2, 0.6, (x - tx) / tw + (y - ty) / th * 0.5 + 0.6 * (_noise(rng, 20) - 0.5))
        wash(canopy * shade, indigo, 0.4, rim=0.6)
    # Spatters flicked from the brush.
    for _ in range(70):
        cx, cy, r = rng.uniform(0, SIZE), rng.uniform(150, SIZE), rng.uniform(1.0, 4.0)
        tint = (sap, sienna, ultra, ochre)[int(rng.integers(4))]
        img = img * tint ** (0.9 * _smooth(r, r - 1, np.hypot(x - cx, y - cy)))[..., None]
    return np.clip(img, 0, 1)


@style("ink_hatching", seed=1514)
def ink_hatching(rng: np.random.Generator) -> Array:
    """Pen-and-ink still life: layers of broken cross-hatching build tone on cream paper, Dürer-like."""
    x, y = _coords()
    light = np.array([-0.55, -0.6, 0.58])
    light /= np.linalg.norm(light)
    tone = 0.84 - 0.22 * (y / SIZE) + 0.08 * (_fbm(rng, 3, 4) - 0.5)
    table = y > 310
    tone = np.where(table, 0.88 - 0.3 * ((y - 310) / 130), tone)
    tone = np.where(y > 440, 0.28 + 0.1 * _fbm(rng, 6, 3), tone)
    outline = np.zeros_like(x)

    def shadow(cx: float, cy: float, rx: float, ry: float) -> None:
        nonlocal tone
        d = np.hypot((x - cx) / rx, (y - cy) / ry)
        tone = tone * (1 - 0.55 * _smooth(1.0, 0.6, d))

    # Vase: a surface of revolution, shaded as a cylinder whose radius follows the profile.
    shadow(395, 392, 95, 22)
    top, bottom, vx = 120, 392, 300
    prof_t = np.clip((y - top) / (bottom - top), 0, 1)
    radius = 32 + 62 * np.clip(np.sin(np.pi * prof_t**0.8), 0, 1) ** 1.5
    nx = (x - vx) / radius
    inside = (np.abs(nx) < 1) & (y > top) & (y < bottom)
    nz = np.sqrt(np.clip(1 - nx**2, 0, 1))
    vase = 0.12 + 0.88 * np.clip(nx * light[0] + nz * light[2] - 0.1, 0, 1)
    tone = np.where(inside, vase, tone)
    objects = inside.copy()
    outline = np.maximum(outline, inside * _smooth(0.9, 1.0, np.abs(nx)))
    outline = np.maximum(outline, (np.abs(y - top) < 1.5) & (np.abs(nx) < 1))
    # Two spheres (fruit), lit from the upper left with a reflected-light rim.
    for cx, cy, r in ((160, 340, 72), (440, 380, 44)):
        shadow(cx + r * 0.7, cy + r * 0.9, r * 1.2, r * 0.3)
        dx, dy = (x - cx) / r, (y - cy) / r
        rr = dx**2 + dy**2
        inside = rr < 1
        nz = np.sqrt(np.clip(1 - rr, 0, 1))
        lam = np.clip(dx * light[0] + dy * light[1] + nz * light[2], 0, 1)
        tone = np.where(inside, 0.1 + 0.9 * lam + 0.12 * _smooth(0.8, 1.0, np.sqrt(rr)), tone)
        # Nearer objects hide the contours of those behind them.
        outline = np.where(inside, 0, outline)
        outline = np.maximum(outline, _smooth(0.95, 1.0, np.sqrt(rr)) * _smooth(1.03, 1.0, np.sqrt(rr)))
        objects |= rr < 1.06
    table_edges = np.maximum(_smooth(1.5, 0, np.abs(y - 310)), _smooth(1.8, 0, np.abs(y - 440)))
    outline = np.maximum(outline, table_edges * ~objects)

    hashes = rng.random(8192)
    ink = np.zeros_like(x)
    wobble = 3 * (_fbm(rng, 8, 3) - 0.5)
    # (angle, tone threshold, spacing): each darker tone adds another direction of hatching.
    for k, (deg, thr, spacing) in enumerate(
        ((45, 0.82, 6.0), (-45, 0.6, 6.0), (0, 0.42, 5.0), (72, 0.25, 4.5))
    ):
        a = np.deg2rad(deg)
        u = x * np.cos(a) + y * np.sin(a) + wobble * (k + 1)
        v = -x * np.sin(a) + y * np.cos(a)
        line_id = np.floor(u / spacing).astype(np.int64)
        dist = np.abs(u / spacing - line_id - 0.5) * spacing
        seg_len = 26 + 10 * k
        off = hashes[line_id % 8192] * seg_len
        seg = np.floor((v + off) / seg_len).astype(np.int64)
        along = (v + off) / seg_len - seg
        keep = hashes[(line_id * 7919 + seg * 104729 + k * 31) % 8192] > 0.15
        # Pen strokes taper at both ends and press harder in the shadows.
        width = (0.45 + 0.75 * (1 - tone)) * _smooth(0, 0.12, along) * _smooth(1, 0.85, along)
        stroke = _smooth(width + 0.6, width - 0.3, dist) * keep
        present = _smooth(thr + 0.04, thr - 0.04, tone + 0.08 * (_noise(rng, 20) - 0.5))
        ink = 1 - (1 - ink) * (1 - stroke * present)
    ink = 1 - (1 - ink) * (1 - outline)
    paper = np.broadcast_to(_hex("#f1e6cc"), x.shape + (3,))
    # Foxing: faint brown age spots.
    fox = _smooth(0.8, 0.9, _fbm(rng, 10, 4))[..., None] * 0.12
    paper = paper * (1 - fox) + _hex("#b98c55") * fox
    return paper * (1 - ink[..., None]) + _hex("#22190f") * ink[..., None]


@style("neon_glow", seed=1984)
def neon_glow(rng: np.random.Generator) -> Array:
    """Neon signs at night: thin bright tubes with layered bloom over a dark synthwave horizon."""
    x, y = _coords()
    big = 2 * SIZE
    horizon = 300
    img = _ramp(y / SIZE, _palette("#07051a", "#1a0833", "#2a0a3a", "#0a0418"))
    # A striped sunset disc behind everything, slightly glowing.
    sun_r = np.hypot(x - 256, y - 220)
    sun = (sun_r < 110) & ~((y > 215) & (np.sin((y - 215) * 0.28 * (1 + (y - 215) / 90)) > 0.35))
    sun_col = _ramp((y - 110) / 220, _palette("#ffe066", "#ff7b39", "#ff2e88"))
    img = np.where(sun[..., None], sun_col, img)
    img = img + _blur(sun.astype(np.float32), 14)[..., None] * _hex("#ff3d7f") * 0.6
    img = np.where((y > horizon)[..., None], _ramp((y - horizon) / 212, _palette("#160624", "#05020c")), img)

    def tubes(drawing: Callable[[ImageDraw.ImageDraw], None]) -> Array:
        layer = Image.new("L", (big, big), 0)
        drawing(ImageDraw.Draw(layer))
        return _supersampled(layer)

    def grid(d: ImageDraw.ImageDraw) -> None:
        vp = (512, 2 * horizon)
        for k in range(-14, 15):
            d.line([vp, (512 + k * 130, big)], fill=255, width=3)
        for k in range(1, 12):
            yy = 2 * horizon + 6 * k**2
            d.line([(0, yy), (big, yy)], fill=255, width=3)

    def waves(d: ImageDraw.ImageDraw) -> None:
        xs = np.arange(0, big + 8, 8)
        for k in range(4):
            ys = 110 + k * 22 + 26 * np.sin(xs / 70 + k * 0.9) + 10 * np.sin(xs / 23 + k)
            d.line(np.stack([xs, ys], 1).ravel().tolist(), fill=255, width=4)

    def mountains(d: ImageDraw.ImageDraw) -> None:
        xs = np.arange(0, big + 40, 40)
        ys = 2 * horizon - 30 - np.abs(rng.normal(0, 45, len(xs)))
        d.line(np.stack([xs, ys], 1).ravel().tolist(), fill=255, width=4)

    def loops(d: ImageDraw.ImageDraw) -> None:
        s = np.linspace(0, 2 * np.pi, 600)
        for cx, cy, sc in ((200, 380, 130), (840, 360, 110)):
            d.line(
                np.stack([cx + sc * np.sin(3 * s), cy + sc * 0.7 * np.sin(4 * s + 0.6)], 1).ravel().tolist(),
                fill=255,
                width=4,
            )

    def rings(d: ImageDraw.ImageDraw) -> None:
        for k in range(5):
            r = 240 + 26 * k
            d.arc((512 - r, 440 - r, 512 + r, 440 + r), 200, 340, fill=255, width=4)
        for k in range(9):
            r = 22 + 8 * k
            cx, cy = 900, 900 - 60
            d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=255, width=3)

    for draw_fn, colour in (
        (grid, "#ff2bd6"),
        (waves, "#2de2ff"),
        (mountains, "#ff9b2b"),
        (loops, "#9dff3a"),
        (rings, "#5b7bff"),
    ):
        core = tubes(draw_fn)
        bloom = 1.6 * core + 1.2 * _blur(core, 2) + 1.0 * _blur(core, 7) + 0.9 * _blur(core, 20)
        img = img + bloom[..., None] * _hex(colour) + (core**2)[..., None] * 0.7
    stars = (_noise(rng, 256) > 0.955) & (y < 200)
    img = img + _blur(stars.astype(np.float32), 1)[..., None] * 0.8
    return 1 - np.exp(-1.4 * np.clip(img, 0, None))


@style("geometric_abstraction", seed=1923)
def geometric_abstraction(rng: np.random.Generator) -> Array:
    """Kandinsky-like composition: haloed circles, concentric rings, triangles, crossing lines, checkers."""
    big = 2 * SIZE
    x, y = _coords(big)
    ground = _ramp(_fbm(rng, 3, 4, size=big), _palette("#efe4c8", "#e8dcc0", "#d6d6cc", "#c9cfd6"))
    canvas = Image.fromarray((ground * 255).astype(np.uint8))
    # The big black circle with its violet halo (as in Composition VIII).
    halo = _blur(np.hypot(x - 250, y - 260) < 190, 22)
    halo_img = np.asarray(canvas, np.float32) / 255
    halo_img = halo_img * (1 - 0.8 * halo[..., None]) + _hex("#7b4fa0") * 0.8 * halo[..., None]
    canvas = Image.fromarray((halo_img * 255).astype(np.uint8))
    d = ImageDraw.Draw(canvas, "RGBA")

    def disc(cx: float, cy: float, r: float, fill: str, alpha: int = 255, outline: str | None = None) -> None:
        c = _rgb(_hex(fill))
        o = _rgb(_hex(outline)) if outline else None
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*c, alpha), outline=o, width=6 if o else 0)

    disc(250, 260, 140, "#141418")
    disc(230, 240, 62, "#c8312a")
    disc(760, 290, 170, "#f3d23c")
    for k, c in enumerate(("#2a4fa6", "#e46b2a", "#1b1b1b", "#3c9f6a", "#c8312a", "#f5ecd4")):
        disc(760, 290, 150 - k * 24, c)
    # Translucent triangles overlapping the circles.
    d.polygon([(120, 900), (470, 420), (620, 950)], fill=(*_rgb(_hex("#f2c230")), 170))
    d.polygon([(520, 980), (880, 600), (990, 1000)], fill=(*_rgb(_hex("#2a4fa6")), 150))
    # A checkerboard of coloured squares, rotated.
    a = np.deg2rad(-18)
    colours = ("#141418", "#f5ecd4", "#c8312a", "#2a4fa6", "#f2c230")
    for i in range(6):
        for j in range(6):
            corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
            pts = [
                (620 + 26 * (u * np.cos(a) - v * np.sin(a)), 520 + 26 * (u * np.sin(a) + v * np.cos(a)))
                for u, v in corners
            ]
            c = colours[0] if (i + j) % 2 else colours[1 + (i * 7 + j * 3) % 4]
            d.polygon(pts, fill=_rgb(_hex(c)))
    # Crossing straight lines and sweeping arcs of many weights.
    for _ in range(14):
        x0, y0 = rng.uniform(0, big, 2)
        ang = rng.uniform(0, np.pi)
        ln = rng.uniform(200, 700)
        d.line(
            [(x0, y0), (x0 + ln * np.cos(ang), y0 + ln * np.sin(ang))],
            fill=(20, 20, 24, 255),
            width=int(rng.integers(3, 13)),
        )
    for _ in range(6):
        cx, cy, r = rng.uniform(100, 900), rng.uniform(100, 900), rng.uniform(80, 260)
        start = rng.uniform(0, 360)
        d.arc(
            (cx - r, cy - r, cx + r, cy + r),
            start,
            start + rng.uniform(60, 160),
            fill=(20, 20, 24, 255),
            width=6,
        )
    # A ladder and a fan of thin lines, small accents with many edges.
    for k in range(10):
        d.line([(70 + k * 16, 560), (90 + k * 16, 760)], fill=(20, 20, 24, 255), width=4)
    for k in range(9):
        ang = np.deg2rad(200 + k * 9)
        d.line(
            [(900, 780), (900 + 260 * np.cos(ang), 780 + 260 * np.sin(ang))], fill=(20, 20, 24, 255), width=3
        )
    # Scattered small discs and rings.
    for _ in range(22):
        cx, cy, r = rng.uniform(40, 980), rng.uniform(40, 980), rng.uniform(10, 38)
        c = ("#c8312a", "#2a4fa6", "#f2c230", "#141418", "#3c9f6a", "#e46b2a")[rng.integers(6)]
        disc(cx, cy, r, c, 230, outline="#141418" if rng.random() < 0.5 else None)
    disc(120, 120, 50, "#f5ecd4", 255, outline="#141418")
    disc(120, 120, 22, "#2a4fa6")
    img = _supersampled(canvas)
    # Paint texture: visible brush marks in every flat of colour.
    return np.clip(img * (0.9 + 0.14 * _stroke_texture(rng, 25, 20, 4))[..., None], 0, 1)


@style("craquelure", seed=1665)
def craquelure(rng: np.random.Generator) -> Array:
    """An aged old-master landscape under yellowed varnish, broken by a network of fine cracks."""
    x, y = _coords()
    # The painting underneath: warm sky, dark tree masses, a lit path; soft, as seen through varnish.
    sky = _ramp(y / 330, _palette("#b8c0a8", "#d8c58e", "#c99a55"))
    clouds = _fbm(rng, 4, 5)
    sky = sky * (0.85 + 0.3 * clouds)[..., None]
    trees = (_fbm(rng, 5, 5) * 0.6 + (y / SIZE) * 0.8 + np.abs(x - 300) / SIZE * 0.1) > 0.68
    ground = _ramp(_fbm(rng, 6, 4), _palette("#2b2414", "#5a4a22", "#8a6f34"))
    foliage = _ramp(_fbm(rng, 12, 4), _palette("#141a0e", "#2f3b1a", "#55602c"))
    img = np.where((y > 360 + 25 * np.sin(x / 90))[..., None], ground, sky)
    img = np.where((trees & (y <= 420))[..., None], foliage, img)
    path = np.abs(x - 300 - (y - 512) * 0.5) < (y - 340) * 0.25
    img = np.where((path & (y > 360))[..., None], _hex("#b59a5e") * (0.8 + 0.3 * clouds[..., None]), img)
    img = _blur(img, 2)
    # Varnish: yellowed, darker towards the edges, with grime.
    vign = 1.08 - 0.5 * (np.hypot(x - 256, y - 230) / 362) ** 2
    img = img * _hex("#ffe6a8") * vign[..., None] * (0.95 + 0.1 * _fbm(rng, 8, 3))[..., None]

    # Cracks: a Voronoi network seen through a warp, so borders wander like real drying cracks.
    warp_x = 10 * (_fbm(rng, 6, 3) - 0.5) + 2.5 * (_noise(rng, 90) - 0.5)
    warp_y = 10 * (_fbm(rng, 6, 3) - 0.5) + 2.5 * (_noise(rng, 90) - 0.5)
    wx, wy = x + warp_x, y + warp_y
    cracks = np.zeros_like(x)
    lift = None
    # (cell size, crack width, share of the surface reached, darkness): the primary network everywhere,
    # finer secondary cracks subdividing its islands in patches.
    for spacing, width, coverage, darkness in ((30.0, 0.9, 1.0, 0.9), (13.0, 0.45, 0.4, 0.6)):
        gx, gy = np.meshgrid(np.arange(-1, SIZE / spacing + 1), np.arange(-1, SIZE / spacing + 1))
        gx = ((gx.ravel() + rng.random(gx.size)) * spacing).astype(np.float32)
        gy = ((gy.ravel() + rng.random(gy.size)) * spacing).astype(np.float32)
        _, _, edge = _voronoi(gx, gy, wx, wy, pad=4 * spacing)
        w = width * (0.6 + 0.8 * _noise(rng, 12))
        present = np.ones_like(x, bool) if coverage >= 1 else _noise(rng, 16) < coverage
        cracks = np.maximum(cracks, _smooth(w + 0.7, w - 0.3, edge) * present * darkness)
        if lift is None:
            # Each island of paint cups upwards, so it is lighter in the middle than at its cracks.
            lift = _smooth(0, 7, edge)
    img = img * (0.88 + 0.12 * lift)[..., None]
    # Crack edges catch the light on one side.
    rim = np.clip(np.roll(cracks, (1, 1), (0, 1)) - cracks, 0, 1)
    img = img + rim[..., None] * 0.25
    return np.clip(img * (1 - cracks[..., None]) + _hex("#1a1208") * cracks[..., None], 0, 1)


@style("paper_collage", seed=1912)
def paper_collage(rng: np.random.Generator) -> Array:
    """Collage of torn paper: printed and plain pieces with white fibrous torn edges and soft shadows."""
    x, y = _coords()
    fibre = _stroke_texture(rng, 12, 40, 2)
    img = _hex("#c49a6c") * (0.88 + 0.16 * fibre + 0.06 * _fbm(rng, 8, 3))[..., None]
    hashes = rng.random(4096)
    colours = (
        "#d9432f",
        "#1f7a80",
        "#e8b72d",
        "#1f2f5c",
        "#e48aa2",
        "#262626",
        "#6c9a4a",
        "#e8742a",
        "#5aa6d6",
        "#8c3b6e",
    )

    def torn(poly: Array, amp: float) -> list[tuple[float, float]]:
        # Subdivide each edge and push it in and out with a pinned random walk: a torn, not cut, edge.
        out = []
        for a, b in zip(poly, np.roll(poly, -1, 0), strict=True):
            n = max(2, int(np.hypot(*(b - a)) / 3))
            walk = np.cumsum(rng.normal(0, 1, n))
            walk -= np.linspace(walk[0], walk[-1], n)
            walk *= amp / (np.abs(walk).max() + 1e-6)
            normal = np.array([-(b - a)[1], (b - a)[0]]) / (np.hypot(*(b - a)) + 1e-6)
            ts = np.linspace(0, 1, n, endpoint=False)[:, None]
            out.extend(map(tuple, (a + (b - a) * ts + walk[:, None] * normal) * 2))
        return out

    def pattern(kind: int, col: Array, u: Array, v: Array) -> Array:
        """The printed face of a piece in its own rotated coordinates (u, v)."""
        plain = col * (0.9 + 0.14 * fibre)[..., None]
        if kind == 1:  # stripes
            return np.where((np.sin(u / 6) > 0.2)[..., None], plain, _hex("#f0e7d2"))
        if kind == 2:  # halftone dots of the colour on a pale tint of it
            d = np.hypot(u % 10 - 5, v % 10 - 5)
            return np.where((d < 3.4)[..., None], col * 0.8, col * 0.25 + 0.75 * _hex("#f3ecd9"))
        if kind == 3:  # newsprint: rows of words
            row = np.floor(v / 7).astype(np.int64)
            word = np.floor((u + hashes[row % 4096] * 40) / 11).astype(np.int64)
            inked = (
                (np.abs((v / 7) % 1 - 0.5) < 0.22)
                & (hashes[(row * 131 + word) % 4096] > 0.22)
                & ((u / 2.3) % 1 < 0.7)
            )
            return np.where(inked[..., None], _hex("#3a3835"), _hex("#e4dfd1"))
        if kind == 4:  # a magazine gradient
            return _ramp(
                np.clip(v / 160 + 0.5, 0, 1), np.stack([col * 0.2 + 0.8 * _hex("#f6d28a"), col, col * 0.55])
            )
        if kind == 5:  # graph paper
            line = (np.abs(u % 12 - 6) > 5.3) | (np.abs(v % 12 - 6) > 5.3)
            return np.where(line[..., None], _hex("#7aa6c9"), _hex("#f2efe4"))
        return plain

    for i in range(32):
        cx, cy = rng.uniform(-20, SIZE + 20, 2)
        ang = rng.uniform(0, np.pi)
        if i % 6 == 5:
            w, h = rng.uniform(240, 400), rng.uniform(18, 34)
        else:
            w, h = rng.uniform(80, 230), rng.uniform(60, 190)
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        box = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
        if i % 4 == 3:
            box = np.array([[-w, h], [0, -h], [w, h]]) / 2
        poly = box @ rot.T + [cx, cy]
        masks = []
        for grow, amp in ((3.5, 2.5), (0.0, 3.0)):
            layer = Image.new("L", (2 * SIZE, 2 * SIZE), 0)
            scaled = poly + (poly - [cx, cy]) / (np.hypot(w, h) / 2) * grow
            ImageDraw.Draw(layer).polygon(torn(scaled, amp), fill=255)
            masks.append(_supersampled(layer))
        white, face = masks
        shadow = np.roll(_blur(white, 3), (4, 3), (0, 1))
        u = (x - cx) * np.cos(ang) + (y - cy) * np.sin(ang)
        v = -(x - cx) * np.sin(ang) + (y - cy) * np.cos(ang)
        kind = int(rng.choice(6, p=[0.4, 0.15, 0.15, 0.12, 0.1, 0.08]))
        col = _hex(colours[rng.integers(len(colours))])
        img = img * (1 - 0.45 * shadow[..., None])
        img = img * (1 - white[..., None]) + _hex("#f7f3ea") * white[..., None]
        img = img * (1 - face[..., None]) + pattern(kind, col, u, v) * face[..., None]
    return np.clip(img, 0, 1)


@style("marbled_paper", seed=1550)
def marbled_paper(rng: np.random.Generator) -> Array:
    """Ebru marbled paper: ink drops that push each other into veined stones, then combed (exact inverses)."""
    x, y = _coords()
    inks = _palette("#1d2b5a", "#c9a04a", "#a3262a", "#efe5cc", "#2a7f86", "#141414", "#d86f3d", "#6d8fbf")
    ops: list[tuple] = []
    # Ink drops on top of the striped float: each pushes the stripes around it into rings (stones).
    for _ in range(34):
        cx, cy = rng.uniform(-20, SIZE + 20, 2)
        for _ in range(int(rng.integers(1, 4))):
            ops.append(("drop", cx, cy, rng.uniform(10, 26), int(rng.integers(len(inks)))))
    ops.append(("comb", 0, 56.0, 40.0, 10.0))  # vertical tines drawn alternately up and down
    ops.append(("wave", 14.0, 1 / 90))
    ops.append(("comb", 1, 28.0, 10.0, 4.0))  # then a finer horizontal comb
    colour = np.full(x.size, -1, np.int32)
    qx, qy = x.ravel().copy(), y.ravel().copy()
    pending = np.arange(x.size)
    # Walk the operations backwards, pulling every pixel back to where its ink came from; a pixel is
    # done once it lands inside a drop. Combs move pixels along the tines, so their inverse is exact.
    for op in reversed(ops):
        px, py = qx[pending], qy[pending]
        if op[0] == "drop":
            _, cx, cy, r, ink = op
            d2 = (px - cx) ** 2 + (py - cy) ** 2
            inside = d2 < r * r
            colour[pending[inside]] = ink
            f = np.sqrt(np.clip(1 - r * r / np.maximum(d2, 1e-6), 0, 1))
            pending, px, py, f = pending[~inside], px[~inside], py[~inside], f[~inside]
            qx[pending], qy[pending] = cx + (px - cx) * f, cy + (py - cy) * f
        elif op[0] == "comb":
            _, axis, spacing, alpha, lam = op
            across = px if axis == 0 else py
            shift = np.zeros_like(across)
            for k in range(-1, int(SIZE / spacing) + 2):
                shift += (-1) ** k * alpha * lam / (np.abs(across - k * spacing) + lam)
            if axis == 0:
                qy[pending] = py - shift
            else:
                qx[pending] = px - shift
        else:
            _, amp, freq = op
            qx[pending] = px - amp * np.sin(py * 2 * np.pi * freq)
    # Pixels reached by no drop show the first float: horizontal stripes of uneven width.
    widths = rng.uniform(4, 16, 200)
    edges = np.cumsum(widths) - 600
    stripe = np.searchsorted(edges, qy)
    order = rng.integers(0, len(inks), 200)
    colour = np.where(colour >= 0, colour, order[np.clip(stripe, 0, 199)])
    img = inks[colour].reshape(SIZE, SIZE, 3)
    img = _blur(img, 1, passes=1)
    return np.clip(img * (0.97 + 0.05 * _fbm(rng, 16, 2))[..., None], 0, 1)


# --------------------------------------------------------------------------------------------------------
# Rendering, writing and checking.


def style_names() -> list[str]:
    """Names of every procedural style, in registration order."""
    return list(_STYLES)


def render(name: str) -> Image.Image:
    """Render one style to an RGB image (SIZE x SIZE), identically on every call."""
    seed, fn = _STYLES[name]
    img = fn(np.random.default_rng(seed))
    return Image.fromarray(np.clip(np.rint(img * 255), 0, 255).astype(np.uint8), "RGB")


def render_all(out_dir: Path | str = GALLERY_DIR, names: Iterable[str] | None = None) -> dict[str, Path]:
    """Render every style (or just `names`) into out_dir/<name>.png; returns the written paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in _STYLES if names is None else names:
        path = out / f"{name}.png"
        render(name).save(path, compress_level=9)
        paths[name] = path
    return paths


# How far a fresh render may stray from its committed PNG before --check (and the tests, which call the
# same function) report it. Transcendental functions are not correctly rounded and numpy chooses their
# kernel by CPU: with AVX-512 it takes float32 power and arctan2 from Intel's SVML, elsewhere from libm, and
# float32 sin, cos, exp, log and tanh from AVX2, AVX-512 or scalar code. Results then differ in the last bit,
# which moves a pixel by one level wherever a value sits on a rounding boundary. Moving every such function's
# results by 1 ulp (a libm interposed with LD_PRELOAD, numpy kept off its own SIMD kernels) changed 202-370
# pixels of watercolour_wash (0.08-0.14 %, `tint ** density`) and 7-14 of stained_glass (arctan2 of its
# spokes), all by 1/255; by up to 4 ulp, at most 1749 pixels (0.67 %), still by 1. Rarely one flips a hard
# decision (a threshold, an ink drop's edge): one pixel changes, blurred into at most 9 (by up to 14/255 in
# marbled_paper, 19/255 in swirling_impasto). A changed drawing differs in far more pixels, far further.
TOLERANCE = 2  # levels of 255 in any channel; a pixel off by more is an outlier
MAX_DIFFERING = 0.01  # share of the pixels that may differ at all (2621 of 512 x 512)
MAX_OUTLIERS = 1e-4  # share that may be outliers (26 of 512 x 512)


def difference(stored: Array, fresh: Array) -> str | None:
    """None if two 8-bit renders of a style agree within the tolerance above, else how they differ.

    This one comparison serves both `check` and the tests, so they cannot drift apart.
    """
    stored, fresh = np.asarray(stored), np.asarray(fresh)
    if stored.shape != fresh.shape:
        return f"size {stored.shape} instead of {fresh.shape}"
    off = np.abs(stored.astype(np.int16) - fresh.astype(np.int16))
    off = off.max(-1) if off.ndim == 3 else off  # per pixel, the worst channel
    differing, outliers = int(np.count_nonzero(off)), int(np.count_nonzero(off > TOLERANCE))
    if differing <= MAX_DIFFERING * off.size and outliers <= MAX_OUTLIERS * off.size:
        return None
    return (
        f"{differing} of {off.size} pixels differ ({differing / off.size:.2%}), {outliers} by more than "
        f"{TOLERANCE}/255 (at most {int(off.max())}/255)"
    )


def check(
    gallery_dir: Path | str = GALLERY_DIR,
    names: Iterable[str] | None = None,
    details: dict[str, str] | None = None,
) -> list[str]:
    """Names whose PNG in gallery_dir is missing or differs from a fresh render (beyond `difference`'s tolerance).

    When checking the whole gallery, a PNG that no style renders is reported too, as '<stem> (no such style)'.
    If `details` is given, it receives why each name was reported.
    """
    folder = Path(gallery_dir)
    why = {} if details is None else details
    bad = []
    if names is None:
        bad = [f"{p.stem} (no such style)" for p in sorted(folder.glob("*.png")) if p.stem not in _STYLES]
        why.update(dict.fromkeys(bad, "no style draws it"))
    for name in _STYLES if names is None else names:
        path = folder / f"{name}.png"
        if not path.exists():
            why[name] = "missing"
            bad.append(name)
            continue
        with Image.open(path) as im:
            stored = np.asarray(im.convert("RGB"))
        reason = difference(stored, np.asarray(render(name)))
        if reason:
            why[name] = reason
            bad.append(name)
    return bad


def main(argv: list[str] | None = None) -> int:
    """Command line: rewrite the gallery, or with --check only compare it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on a difference"
    )
    parser.add_argument(
        "--out", type=Path, default=GALLERY_DIR, help="gallery folder (default: styles/gallery)"
    )
    parser.add_argument("names", nargs="*", metavar="STYLE", help="only these styles (default: all)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in _STYLES]
    if unknown:
        parser.error(f"no such style: {', '.join(unknown)} (choose from {', '.join(_STYLES)})")
    names = args.names or None
    start = time.perf_counter()
    if args.check:
        details: dict[str, str] = {}
        bad = check(args.out, names, details)
        if bad:
            for name in bad:
                print(f"{name}: {details[name]}", file=sys.stderr)
            print(f"out of date: {', '.join(bad)} (run python styles/generate.py)", file=sys.stderr)
            return 1
        count = len(args.names or _STYLES)
        print(f"all {count} gallery images match ({time.perf_counter() - start:.1f} s)")
        return 0
    paths = render_all(args.out, names)
    print(f"wrote {len(paths)} images to {args.out} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
