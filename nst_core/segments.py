"""A clip cut into segments that are painted apart (in any order, on other machines) and joined without a jump.

A clip's temporal step carries each painting on to the next frame (video.py), so a segment that starts cold
would begin with a frame painted on its own: a visible jump where it meets the segment before, which was
painted at the same time somewhere else. So each segment starts `overlap` frames before its own first frame,
painting them only to warm its state up, and over those frames the clip cross-fades linearly from the segment
before's paintings (which own them) to this one's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SettingsError
from .video import Clip, FastPainter, SlowPainter, painted_frames, painted_size


@dataclass(frozen=True)
class Segment:
    """Frames `first` to `stop` (None: the clip's end) of a clip, painted from `overlap` frames earlier on."""

    clip: Path
    first: int
    stop: int | None
    overlap: int

    @property
    def start(self) -> int:
        """The first frame painted: its own first frame less the warm-up."""
        return max(0, self.first - self.overlap)

    @property
    def name(self) -> str:
        last = "end" if self.stop is None else self.stop - 1
        return f"{self.clip.name} frames {self.first}-{last}"

    @property
    def file_name(self) -> str:
        """Where its paintings are kept: the range painted is in the name, so a rerun cut another way finds none."""
        return f"{self.clip.stem}.{self.start:06d}-{'end' if self.stop is None else f'{self.stop:06d}'}.npy"


def check_plan(frames: int, overlap: int) -> None:
    """Refuse a cut that cannot be made: a warm-up longer than a segment would fade over two segments before."""
    if frames < 1:
        raise SettingsError(f"--segment-frames must be at least 1, not {frames}.")
    if not 0 <= overlap <= frames:
        raise SettingsError(f"--overlap must be between 0 and --segment-frames ({frames}), not {overlap}.")


def plan_segments(clip: Clip, frames: int, overlap: int) -> list[Segment]:
    """`clip` cut into segments of `frames` frames, each warmed up over `overlap` frames before it (check_plan).
    The last one runs to the clip's end, since the container's frame count is a guess for some files."""
    check_plan(frames, overlap)
    firsts = list(range(0, max(clip.count, 1), frames))
    return [Segment(clip.path, first, None if first == firsts[-1] else first + frames, overlap) for first in firsts]


def paint_segment(segment: Segment, clip: Clip, painter: FastPainter | SlowPainter, size: int) -> np.ndarray:
    """The segment's paintings, warm-up included: (frames, height, width, 3) uint8."""
    paintings = [painted.painting for painted in painted_frames(clip, painter, size, start=segment.start,
                                                                stop=segment.stop)]
    if not paintings:  # past the clip's real end (the container promised more frames than it has)
        width, height = painted_size(clip, size)
        return np.zeros((0, height, width, 3), np.uint8)
    return np.stack(paintings)


def joined_frames(segments: Iterable[tuple[Segment, np.ndarray]]) -> Iterator[np.ndarray]:
    """The clip's painted frames in order, from its segments (in order) and their paintings: each segment's own
    frames, the ones its successor warmed up over cross-faded into the successor's paintings of them."""
    held = None  # the last segment's own frames, not yet sent: the next one's warm-up may overlap their end
    for segment, paintings in segments:
        warm_up, own = paintings[:segment.first - segment.start], paintings[segment.first - segment.start:]
        if held is not None:
            # Both end at this segment's first frame (or both at the clip's real end, if it came sooner).
            shared = min(len(held), len(warm_up))
            yield from held[:len(held) - shared]
            yield from cross_fade(held[len(held) - shared:], warm_up[len(warm_up) - shared:])
        held = own
    if held is not None:
        yield from held


def cross_fade(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """`old` frames turning into `new` ones linearly: frame j of n is (j + 1) / (n + 1) new, so neither end of the
    fade repeats a whole frame of either side."""
    count = len(old)
    share = (np.arange(1, count + 1, dtype=np.float32) / (count + 1))[:, None, None, None]
    mixed = (1 - share) * old.astype(np.float32) + share * new.astype(np.float32)
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
