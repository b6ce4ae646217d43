"""The files the studio serves: streamed frames and download PNGs, in Gradio's cache folder, aged out here.

Gradio's delete_cache only removes files it tracks per component, and every gr.skip() gives the session a
fresh, untracked copy of the output components, so it never removed a result or a frame: the studio writes
them under two folders of its own and deletes what is older than their age limits as new ones are written.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from PIL import Image

from nst_core.images import save_png

OUTPUT_MAX_AGE = 30 * 60  # download PNGs: for downloading now, not for storage
FRAME_MAX_AGE = 10 * 60  # streamed previews
PRUNE_INTERVAL = 30.0  # seconds between sweeps of the frames while they stream


def prune(folder: Path, max_age: float) -> None:
    """Remove the subfolders of `folder` whose newest file is older than `max_age` seconds."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in list(folder.iterdir()):
            with contextlib.suppress(OSError):
                newest = max((f.stat().st_mtime for f in entry.iterdir()), default=entry.stat().st_mtime)
                if now - newest > max_age:
                    shutil.rmtree(entry, ignore_errors=True)


class ServedFiles:
    """Frames and PNGs under `root` (Gradio's cache folder, which is served as it is)."""

    def __init__(self, root: Path) -> None:
        self.outputs = root / "nst-studio-outputs"  # download PNGs, one random folder each
        self.frames = root / "nst-studio-frames"  # streamed previews, one folder per distinct image
        self._last_prune = 0.0

    def frame(self, image: Image.Image, fmt: str) -> str:
        """The path of a frame holding `image`, written once, under a temporary name then renamed.

        gr.Image names a frame's file by its content hash and rewrites (truncates, then writes) that file every
        time. The engine is deterministic, so two sessions with the same photo, painting and settings stream
        byte-identical frames, and one session's rewrite cut off the other's download of the same file.
        """
        if time.monotonic() - self._last_prune > PRUNE_INTERVAL:
            self._last_prune = time.monotonic()
            prune(self.frames, FRAME_MAX_AGE)
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        data = buffer.getvalue()
        folder = self.frames / hashlib.sha256(data).hexdigest()
        path = folder / f"image.{fmt}"
        try:
            os.utime(path)  # prune() ages frames by mtime: this one is handed out again
            return str(path)
        except FileNotFoundError:
            pass
        folder.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(dir=folder, prefix=".image.")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(staging, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(staging)
            raise
        return str(path)

    def png(self, image: Image.Image, recipe: dict[str, Any], stem: str = "stylized") -> str:
        """A download PNG carrying `recipe`, in a folder of its own with an unguessable name."""
        path = self.download_path(stem, ".png")
        save_png(image, path, recipe)
        return str(path)

    def download(self, data: bytes, name: str) -> str:
        """Any other download (a trained model) named like `name`, in a folder of its own."""
        stem, suffix = os.path.splitext(name)
        path = self.download_path(stem, suffix)
        path.write_bytes(data)
        return str(path)

    def download_path(self, stem: str, suffix: str) -> Path:
        """Where to write a new download (a PNG, a time-lapse): a fresh folder with an unguessable name."""
        prune(self.outputs, OUTPUT_MAX_AGE)
        prune(self.frames, FRAME_MAX_AGE)
        folder = self.outputs / uuid.uuid4().hex  # the cache folder is served: the path must not be guessable
        folder.mkdir(parents=True)
        return folder / f"{stem}-{uuid.uuid4().hex[:8]}{suffix}"
