"""The engine's error types.

Every failure a user can cause or fix (a bad setting, an unreadable image, missing weights) raises a
subclass of `NSTError` whose message is one plain sentence, so front ends can show `str(error)` as is.
"""


class NSTError(Exception):
    """A problem the user can understand and fix; its message is one sentence meant for them."""


class SettingsError(NSTError, ValueError):
    """A setting is out of range or of the wrong kind."""


class ImageError(NSTError, ValueError):
    """An input is not an image we accept (wrong format, broken, too large)."""


class WeightsUnavailable(NSTError):
    """The backbone's weights are missing and cannot be fetched."""
