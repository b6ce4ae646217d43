"""Time-lapses: a film keeps its first and latest frames and an even spread between, and becomes a GIF and an
MP4 whose frames carry the step counter."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nst_core.errors import NSTError
from nst_core.timelapse import FILM_FRAMES, Film, film_every, frames, with_counter, write_gif, write_mp4

from .conftest import missing


def frame(step: int, size: tuple[int, int] = (80, 60)) -> Image.Image:
    return Image.new("RGB", size, (step * 2 % 256, 120, 255 - step % 256))


def test_a_long_run_keeps_its_first_and_last_frames_evenly_spread_within_capacity():
    film = Film(capacity=8)
    for step in range(1, 201):
        film.add(frame(step), step, 200)
    steps = [shot.step for shot in film.shots]
    assert steps[0] == 1 and steps[-1] == 200 and len(steps) <= 9
    gaps = {b - a for a, b in zip(steps[:-2], steps[1:-1])}
    assert len(gaps) == 1, f"uneven spread: {steps}"


def test_a_run_with_no_length_counts_its_steps_only():
    """A training runs until its time is up: "step 40 of 0" would be nonsense, "step 40 of 40" a lie."""

    def lettering(total: int) -> int:
        band = np.asarray(with_counter(Image.new("RGB", (320, 240), (90, 90, 90)), 40, total))[-24:]
        return int((band.min(axis=2) > 200).sum())  # white pixels of the counter's text

    assert 0 < lettering(0) < lettering(400) * 0.7


def test_gif_and_mp4_show_every_frame_at_the_final_size_with_the_counter(tmp_path):
    try:
        import imageio_ffmpeg
    except ImportError:
        missing("imageio-ffmpeg is not installed (pip install -r requirements.txt)")
    film = Film()
    for step in range(1, 11):  # a coarse-to-fine run: the first half is smaller
        film.add(frame(step, (40, 30) if step <= 5 else (80, 60)), step, 10)
    shown = list(frames(film))
    assert len(shown) == 10 and {p.size for p in shown} == {(320, 240)}  # 80x60 times 4: at least 256 px
    band = np.asarray(shown[0])[-8:, :, :].mean()
    assert band < np.asarray(shown[0])[:100].mean(), "no dark counter band along the bottom"
    assert np.asarray(shown[0]).tobytes() != np.asarray(shown[1]).tobytes()

    gif = write_gif(film, tmp_path / "run.gif")
    with Image.open(gif) as img:
        assert img.n_frames == 10 and img.size == (320, 240) and img.info.get("loop") == 0
    mp4 = write_mp4(film, tmp_path / "run.mp4")
    reader = imageio_ffmpeg.read_frames(str(mp4))
    meta = next(reader)
    decoded = sum(1 for _ in reader)
    assert meta["size"] == (320, 240) and meta["codec"].startswith("h264")
    assert decoded >= 10  # every frame, then the last one held


def test_an_empty_film_is_refused_with_a_sentence(tmp_path):
    with pytest.raises(NSTError, match="run something first"):
        write_gif(Film(), tmp_path / "x.gif")


def test_a_short_run_films_more_often_than_it_previews():
    """A 40-step run previewed every 10 steps had a 5-frame time-lapse."""
    assert film_every(40, 10) == 1 and film_every(100, 10) == 4 and film_every(1000, 10) == 10
    assert film_every(40, 1) == 1 and film_every(5, 10) == 1
    for iterations in (24, 40, 100, 239, 240, 500):
        assert iterations // film_every(iterations, 10) >= min(iterations, FILM_FRAMES)
