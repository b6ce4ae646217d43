"""The engine's error types, all of them.

Every failure a user can cause or fix (a bad setting, an unreadable image, missing weights, a size the
device cannot hold) raises a subclass of `NSTError` whose message is one plain sentence with no path or
traceback, so front ends can show `str(error)` as is.
"""


class NSTError(Exception):
    """A problem the user can understand and fix; its message is one sentence meant for them."""


class SettingsError(NSTError, ValueError):
    """A setting is out of range or of the wrong kind."""


class ImageError(NSTError, ValueError):
    """An input is not an image we accept (wrong format, broken, too large, too thin)."""


class WeightsUnavailable(NSTError):
    """The backbone's weights are missing, broken, or cannot be fetched."""


class NotDownloaded(WeightsUnavailable):
    """A named weight source is not in the cache and could not be fetched. The message names no path or
    flag: each front end adds what its user can do instead (a CLI flag, another choice in a menu), or words its
    own sentence from `source`, the source's name."""

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source

    def __reduce__(self) -> tuple:  # the source survives pickling (a ZeroGPU worker's error reaches the server)
        return type(self), (str(self), self.source)


class StyleUnavailable(NSTError):
    """A gallery image cannot be used: it is not downloaded and cannot be fetched, or failed its checksum."""


class OutOfMemory(NSTError):
    """The device ran out of memory for this size."""
