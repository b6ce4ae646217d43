"""Training photos: a folder of photos decoded once, and random crops, flips and scales of them as batches.

Photos are decoded with the engine's strict decoder; a file it refuses (not an image, damaged, too large)
is skipped and counted, never a crash. Each photo is kept as uint8 pixels, shrunk so its short side is at
most `keep_side`, so a folder of wallpapers stays small in memory. With distillation targets (the slow
engine's results for the same photos) every crop, flip and scale is applied to the photo and its target alike.

`fetch_coco` downloads COCO val2017 (5000 photos, 788 MB) from its canonical address into a folder for
machines with internet; nothing else here touches the network. This module knows nothing about the losses.
"""

from __future__ import annotations

import logging
import shutil
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from ..errors import ImageError, NSTError
from ..images import decode_image, fitted_size, resize_to

log = logging.getLogger(__name__)

COCO_VAL2017_URL = "http://images.cocodataset.org/zips/val2017.zip"  # the address cocodataset.org gives
MAX_SCALE = 2.0  # a crop shows between all of a photo's short side and half of it


def to_pixels(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> (3, H, W) uint8."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def shrink(image: Image.Image, keep_side: int) -> Image.Image:
    """The image with its short side at most `keep_side`."""
    if min(image.size) <= keep_side:
        return image
    return resize_to(image, fitted_size(image.size, round(keep_side * max(image.size) / min(image.size))))


@dataclass
class PhotoSet:
    """Decoded photos (and, for distillation, their targets), ready to be cut into training batches."""

    names: list[str]
    pixels: list[torch.Tensor]  # (3, H, W) uint8 each
    skipped: list[str] = field(default_factory=list)  # files that were not usable photos
    targets: list[torch.Tensor] | None = None  # (3, H, W) uint8, aligned with `pixels`

    @classmethod
    def of(cls, named: Sequence[tuple[str, Image.Image]], keep_side: int) -> PhotoSet:
        """Photos already decoded (the studio's: the visitor's own), each shrunk to `keep_side`."""
        return cls([name for name, _ in named], [to_pixels(shrink(image.convert("RGB"), keep_side))
                                                 for _, image in named])

    def __len__(self) -> int:
        return len(self.pixels)

    def with_targets(self, targets: Sequence[Image.Image]) -> PhotoSet:
        """The same photos paired with a target each (resized to their photo's size)."""
        pairs = [to_pixels(resize_to(t.convert("RGB"), (p.shape[2], p.shape[1]))) for t, p in zip(targets, self.pixels)]
        return PhotoSet(self.names, self.pixels, self.skipped, pairs)

    def hold_out(self) -> tuple[Image.Image, PhotoSet]:
        """The first photo (its name in `.info["name"]`) and the set without it; with a single photo, the
        photo and the whole set (there is nothing else to train on)."""
        photo = Image.fromarray(self.pixels[0].permute(1, 2, 0).numpy(), "RGB")
        photo.info["name"] = self.names[0]
        if len(self) == 1:
            return photo, self
        rest = PhotoSet(self.names[1:], self.pixels[1:], self.skipped,
                        self.targets[1:] if self.targets is not None else None)
        return photo, rest

    def batch(self, generator: torch.Generator, size: int, crop: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`size` random crops, (size, 3, crop, crop) floats in [0, 1], and the matching target crops if any.

        Each crop: a random photo, scaled so its short side is between `crop` and MAX_SCALE times that, a random
        square of `crop` px from it, mirrored left-right half the time. A photo and its target are stacked into
        one tensor first, so one draw of the transforms cuts both alike.
        """
        cut = v2.Compose([v2.RandomResize(crop, round(crop * MAX_SCALE) + 1, antialias=True), v2.RandomCrop(crop),
                          v2.RandomHorizontalFlip()])
        photos, targets = [], []
        # torchvision's transforms draw from the global generator: seed it from ours, inside a fork, so batches
        # depend on `generator` alone (a resumed run repeats them) and nobody else's random numbers move.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
            for _ in range(size):
                index = int(torch.randint(len(self.pixels), (1,), generator=generator))
                stack = self.pixels[index]
                if self.targets is not None:
                    stack = torch.cat([stack, self.targets[index]])
                piece = cut(stack.float())
                photos.append(piece[:3])
                targets.append(piece[3:])
        as_batch = lambda parts: torch.stack(parts).div_(255.0).clamp_(0, 1)  # noqa: E731
        return as_batch(photos), as_batch(targets) if self.targets is not None else None


def load_photos(folder: str | Path, *, keep_side: int = 512, min_side: int = 32) -> PhotoSet:
    """Every usable photo in `folder` (not its subfolders, not hidden files), in name order.

    A file that does not decode, or whose short side is under `min_side`, is skipped and counted. Raises
    NSTError when the folder is missing or holds no usable photo.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NSTError(f"There is no folder of photos at {root.name or str(root)!r}.")
    usable, skipped = [], []
    for path in sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            image = decode_image(path)
            if min(image.size) < min_side:
                raise ImageError(f"smaller than {min_side} px")
        except ImageError as error:
            log.warning("skipped %s: %s", path.name, error)
            skipped.append(path.name)
            continue
        usable.append((path.name, image))
    if not usable:
        raise NSTError(f"The folder {root.name!r} holds no usable photo ({len(skipped)} files skipped).")
    photos = PhotoSet.of(usable, keep_side)
    photos.skipped = skipped
    return photos


Opener = Callable[..., Any]


def fetch_coco(folder: str | Path, *, url: str = COCO_VAL2017_URL, opener: Opener | None = None,
               timeout: float = 60) -> Path:
    """COCO val2017's photos in `folder`/val2017, downloading and unpacking the zip first if they are not there.

    The zip is written beside its final name and renamed only when complete; a failed download leaves nothing
    behind. Returns the folder of photos. Raises NSTError when offline or when the download is not a zip.
    """
    root = Path(folder)
    photos = root / "val2017"
    if photos.is_dir() and any(photos.iterdir()):
        return photos
    root.mkdir(parents=True, exist_ok=True)
    archive, partial = root / "val2017.zip", root / "val2017.zip.part"
    if not archive.is_file():
        try:
            with (opener or urllib.request.urlopen)(url, timeout=timeout) as response, open(partial, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise NSTError(f"COCO val2017 could not be downloaded ({getattr(error, 'reason', error)}); "
                           "use --photos with a folder of your own photos instead.") from None
        partial.replace(archive)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.namelist() if m.startswith("val2017/") and not m.endswith("/")
                       and ".." not in m]
            for member in members:
                zipped.extract(member, root)
    except zipfile.BadZipFile:
        archive.unlink(missing_ok=True)
        raise NSTError("The COCO download is not a zip file; it was removed, try again later.") from None
    return photos
