"""SHA-256 of a file, read in blocks: how weights files and downloaded paintings are recognised and verified."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 20


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(BLOCK), b""):
            digest.update(chunk)
    return digest.hexdigest()
