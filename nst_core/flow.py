"""Optical flow between video frames, for painting a clip that does not flicker (Ruder, Dosovitskiy & Brox 2016).

A frame painted on its own puts its strokes somewhere new, so a clip painted frame by frame flickers. Where the
scene's motion is known, the last painted frame, moved along it, says what this one should look like. The
motion comes from OpenCV's DIS flow (made for the CPU), computed both ways between the photos' frames; where the
two disagree (a pixel that was hidden, or the flow is wrong) the previous picture says nothing, so that part is
painted afresh. Pictures here are (H, W, 3) uint8 arrays; flows (H, W, 2) float32 in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Motion:
    """How frame t came from frame t-1: `back` maps each pixel of t to where it was in t-1; `reliable` is where
    the forward flow takes it back again (1) or not (0: hidden in t-1, or the flow is unsure)."""

    back: np.ndarray
    reliable: np.ndarray

    def warp(self, picture: np.ndarray) -> np.ndarray:
        """The picture of frame t-1, moved to where its pixels are in frame t."""
        return warp(picture, self.back)


def motion(previous: np.ndarray, current: np.ndarray) -> Motion:
    """The motion from `previous` to `current` (two photos' frames of one size)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    a, b = (cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in (previous, current))
    forward = dis.calc(a, b, None)  # previous(x) ~ current(x + forward(x))
    back = dis.calc(b, a, None)  # current(x) ~ previous(x + back(x))
    return Motion(back, consistent(forward, back))


def consistent(forward: np.ndarray, back: np.ndarray) -> np.ndarray:
    """1 where going back and then forward again returns to the same pixel, within the tolerance Sundaram et
    al. (2010) use and Ruder et al. keep: |f + b|^2 <= 0.01 (|f|^2 + |b|^2) + 0.5, f read where b points; 0 too
    where b points outside the frame (what comes into view has no past)."""
    there = warp(forward, back)
    error = np.square(there + back).sum(-1)
    scale = np.square(there).sum(-1) + np.square(back).sum(-1)
    height, width = back.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width), np.arange(height))
    source_x, source_y = grid_x + back[..., 0], grid_y + back[..., 1]
    inside = (source_x >= 0) & (source_x <= width - 1) & (source_y >= 0) & (source_y <= height - 1)
    return ((error <= 0.01 * scale + 0.5) & inside).astype(np.float32)


def warp(picture: np.ndarray, back: np.ndarray) -> np.ndarray:
    """`picture` sampled at x + back(x) (bilinear; the border's pixels repeated past the edge)."""
    height, width = back.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(picture, grid_x + back[..., 0], grid_y + back[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def blend(painted: np.ndarray, previous: np.ndarray, moved: Motion, keep: float) -> np.ndarray:
    """This frame's painting with the last one moved onto it, `keep` of it where the motion is reliable."""
    weight = (keep * moved.reliable)[..., None]
    mixed = weight * moved.warp(previous).astype(np.float32) + (1 - weight) * painted.astype(np.float32)
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def temporal_error(current: np.ndarray, previous: np.ndarray, moved: Motion) -> float:
    """How much a painted frame differs from the last one moved along the scene's motion, where the motion is
    reliable: the flicker a viewer sees (mean absolute difference, in levels of 255)."""
    difference = np.abs(current.astype(np.float32) - moved.warp(previous).astype(np.float32)).mean(-1)
    weight = moved.reliable
    return float((difference * weight).sum() / max(weight.sum(), 1.0))
