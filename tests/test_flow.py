"""Optical flow for clips (nst_core/flow.py) on a photo moved by a known amount."""

import numpy as np
import pytest
from PIL import Image

from nst_core.flow import Motion, blend, motion, temporal_error, warp


@pytest.fixture
def moved_photo(shared_images):
    """A crop of a photo and the same crop 3 px further left in the photo: the scene moved 3 px right."""
    photo = np.asarray(Image.open(shared_images / "tubingen.jpg").convert("RGB").resize((240, 180)))
    return photo[40:140, 40:180].copy(), photo[40:140, 37:177].copy()


def test_the_motion_of_a_known_shift(moved_photo):
    previous, current = moved_photo
    moved = motion(previous, current)
    inside = moved.back[10:-10, 10:-10]
    assert np.median(inside[..., 0]) == pytest.approx(-3, abs=0.3)  # current(x) = previous(x - 3)
    assert np.median(np.abs(inside[..., 1])) < 0.3
    assert moved.reliable[10:-10, 10:-10].mean() > 0.9
    assert moved.reliable[:, :2].mean() < 0.1  # what came into view on the left has no past
    # The previous frame moved along it is the current frame, but for the resampling.
    difference = np.abs(moved.warp(previous).astype(float) - current.astype(float))[10:-10, 10:-10].mean()
    assert difference < 6


def test_blending_keeps_the_past_only_where_it_is_reliable():
    painted = np.full((4, 6, 3), 200, np.uint8)
    last = np.full((4, 6, 3), 100, np.uint8)
    reliable = np.zeros((4, 6), np.float32)
    reliable[:, :3] = 1
    moved = Motion(np.zeros((4, 6, 2), np.float32), reliable)
    mixed = blend(painted, last, moved, keep=0.7)
    assert (mixed[:, :3] == 130).all() and (mixed[:, 3:] == 200).all()


def test_the_temporal_error_is_the_change_along_the_motion(moved_photo):
    previous, current = moved_photo
    moved = motion(previous, current)
    assert temporal_error(warp(previous, moved.back), previous, moved) == 0
    assert temporal_error(current, previous, moved) < 6 < temporal_error(previous, previous, moved)
