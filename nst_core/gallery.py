"""The style gallery: ready-made style images listed in `styles/manifest.json`.

Two kinds of entry:

* "procedural": a PNG drawn by `styles/generate.py` and committed under `styles/gallery/`;
* "download": a public-domain painting fetched once from its URL, checked against the manifest's SHA-256
  and cached in `$NST_STYLE_CACHE` (default `~/.cache/nst-studio/styles`).

Front ends list the gallery with `list_styles()` and turn whatever the user typed or picked into a file
with `resolve_style_source()`. Failures a user can act on (an unknown name, no network, a corrupt
download) raise `NSTError` subclasses with a one-sentence message.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from .checksum import sha256_of
from .errors import SettingsError, StyleUnavailable

STYLES_DIR = Path(__file__).resolve().parent.parent / "styles"
MANIFEST_PATH = STYLES_DIR / "manifest.json"
CACHE_ENV = "NST_STYLE_CACHE"
KINDS = ("procedural", "download")
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024  # the paintings are well under 1 MB; refuse anything absurd
_CHUNK = 1 << 16

Opener = Callable[..., Any]  # urlopen-like: opener(url, timeout=...) -> a readable context manager


def cache_dir() -> Path:
    """Where downloaded paintings live: `$NST_STYLE_CACHE` if set, else `~/.cache/nst-studio/styles`."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nst-studio" / "styles"


@dataclass(frozen=True)
class GalleryStyle:
    """One manifest entry. `file` is relative to `styles/` (procedural) or the cache folder (download)."""

    name: str
    title: str
    kind: str
    author: str
    year: int
    licence: str
    file: str
    url: str | None = None
    sha256: str | None = None

    def local_path(self, cache: Path | str | None = None) -> Path:
        """The file this style is read from; downloads resolve inside `cache` (default: `cache_dir()`)."""
        if self.kind == "procedural":
            return STYLES_DIR / self.file
        return Path(cache) / self.file if cache is not None else cache_dir() / self.file

    @property
    def path(self) -> Path:
        """The local file for this style (it may not exist yet for a download; see `available`)."""
        return self.local_path()

    @property
    def available(self) -> bool:
        """True when the file is present and, for a download, matches its SHA-256."""
        return _is_valid(self, self.path)


def _normalise(name: str) -> str:
    """Case, spaces, dashes and dots do not matter in a style name: 'Starry-Night' == 'starry_night'."""
    return re.sub(r"[\s\-_.]+", "_", name.strip().lower()).strip("_")


def _is_valid(style: GalleryStyle, path: Path) -> bool:
    if not path.is_file():
        return False
    return style.kind != "download" or sha256_of(path) == style.sha256


def _parse_entry(raw: dict[str, Any], where: Path) -> GalleryStyle:
    """A manifest entry -> GalleryStyle, rejecting malformed ones (a developer error, so ValueError)."""
    fields = set(GalleryStyle.__dataclass_fields__)
    unknown = set(raw) - fields
    if unknown:
        raise ValueError(f"{where}: entry {raw.get('name')!r} has unknown keys {sorted(unknown)}")
    style = GalleryStyle(**raw)
    if style.kind not in KINDS:
        raise ValueError(f"{where}: entry {style.name!r} has kind {style.kind!r}, expected one of {KINDS}")
    if style.kind == "download" and not (style.url and re.fullmatch(r"[0-9a-f]{64}", style.sha256 or "")):
        raise ValueError(f"{where}: download entry {style.name!r} needs a url and a lowercase hex sha256")
    if Path(style.file).is_absolute() or ".." in Path(style.file).parts:
        raise ValueError(f"{where}: entry {style.name!r} must name a file inside its folder")
    return style


@lru_cache(maxsize=4)
def _load(manifest: Path) -> tuple[GalleryStyle, ...]:
    with open(manifest, encoding="utf-8") as fh:
        styles = tuple(_parse_entry(raw, manifest) for raw in json.load(fh))
    names = [_normalise(s.name) for s in styles]
    if len(set(names)) != len(names):
        raise ValueError(f"{manifest}: style names are not unique")
    return styles


def list_styles(manifest: Path | str = MANIFEST_PATH) -> list[GalleryStyle]:
    """Every gallery style, in manifest order."""
    return list(_load(Path(manifest)))


def get_style(name: str, manifest: Path | str = MANIFEST_PATH) -> GalleryStyle:
    """The gallery style called (or titled) `name`, ignoring case, spaces and dashes. Raises SettingsError."""
    key = _normalise(name)
    for style in _load(Path(manifest)):
        if key in (_normalise(style.name), _normalise(style.title)):
            return style
    names = ", ".join(s.name for s in _load(Path(manifest)))
    raise SettingsError(f"There is no gallery style called '{name}'; choose one of: {names}.")


def fetch(
    style: GalleryStyle,
    *,
    cache_dir: Path | str | None = None,
    timeout: float = 20,
    opener: Opener | None = None,
) -> Path:
    """The local file for `style`, downloading and verifying it first if it is a download not yet cached.

    The download goes to a temporary file beside the target and is renamed into place only after its
    SHA-256 matches, so the cache never holds a partial or wrong file. `opener` defaults to
    `urllib.request.urlopen` (which also reads file:// URLs); tests pass their own.
    Raises StyleUnavailable when offline, on a wrong checksum, or when a procedural PNG is missing.
    """
    target = style.local_path(cache_dir)
    if style.kind == "procedural":
        if not target.is_file():
            raise StyleUnavailable(
                f"The gallery image '{style.name}' is missing; run python styles/generate.py to recreate it."
            )
        return target
    if _is_valid(style, target):
        return target
    if not style.url or not style.sha256:
        raise StyleUnavailable(f"The gallery style '{style.name}' has no download address in the manifest.")
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as error:
        raise StyleUnavailable(
            f"The style '{style.title}' cannot be saved in {folder} ({error.strerror or error}); "
            f"set {CACHE_ENV} to a writable folder."
        ) from error
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _download(style, out, opener or urllib.request.urlopen, timeout, folder)
        if digest != style.sha256:
            raise StyleUnavailable(
                f"The download of '{style.title}' does not match its expected checksum, so it was refused; "
                f"try again later or place the verified file {style.file} in {folder}."
            )
        os.replace(tmp, target)  # atomic on one file system: readers see no file or the whole file
    except OSError as error:  # the disk, not the network (network errors are handled in _download)
        raise StyleUnavailable(
            f"The style '{style.title}' cannot be saved in {folder} ({error.strerror or error}); "
            f"set {CACHE_ENV} to a writable folder."
        ) from error
    finally:
        tmp.unlink(missing_ok=True)  # after a successful rename there is nothing left to remove
    return target


def _download(style: GalleryStyle, out: BinaryIO, opener: Opener, timeout: float, folder: Path) -> str:
    """Stream style.url into `out` and return its SHA-256 hex digest.

    Only the network side is guarded here (any OSError while opening or reading, which includes
    URLError, timeouts and TLS failures, means "offline"); errors writing `out` propagate unchanged.
    """
    manual = f"copy {style.file} (sha256 {(style.sha256 or '')[:12]}…) into {folder}"

    def offline(error: Exception) -> StyleUnavailable:
        if isinstance(error, urllib.error.HTTPError):
            return StyleUnavailable(
                f"The style '{style.title}' could not be downloaded (the server answered HTTP {error.code}); "
                f"try again later, or {manual}."
            )
        reason = getattr(error, "reason", None) or error
        return StyleUnavailable(
            f"The style '{style.title}' is not downloaded yet and is unavailable offline ({reason}); "
            f"connect to the internet once, or {manual}."
        )

    network_errors = (OSError, http.client.HTTPException, ValueError)
    digest = hashlib.sha256()
    size = 0
    try:
        response_cm = opener(style.url, timeout=timeout)
    except network_errors as error:
        raise offline(error) from error
    with response_cm as response:
        while True:
            try:
                block = response.read(_CHUNK)
            except network_errors as error:
                raise offline(error) from error
            if not block:
                break
            size += len(block)
            if size > MAX_DOWNLOAD_BYTES:
                raise StyleUnavailable(
                    f"The download of '{style.title}' is far larger than expected, so it was refused."
                )
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def resolve_style_source(
    name_or_path: str | os.PathLike[str], *, cache_dir: Path | str | None = None
) -> Path:
    """A gallery name (fetched if needed) or an existing image path -> a local file.

    Gallery names win over same-named files in the working folder. Raises SettingsError, listing the
    gallery's names, for anything else, and StyleUnavailable when a painting cannot be fetched.
    """
    text = os.fspath(name_or_path)
    if not isinstance(text, str):
        raise SettingsError("A style must be given as a gallery name or a file path.")
    key = _normalise(text)
    for style in list_styles():
        if key and key in (_normalise(style.name), _normalise(style.title)):
            return fetch(style, cache_dir=cache_dir)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    names = ", ".join(s.name for s in list_styles())
    raise SettingsError(
        f"'{text}' is neither a gallery style nor an existing image file; gallery styles are: {names}."
    )
