"""How each of the project's command lines ends: one line on stderr and an exit code, never a traceback.

Shared by `python -m nst_core`, `python -m nst_core.explain` and `python -m nst_core.fast`. It knows the
project's error types and the exit-code conventions (2 for a mistake the user can fix, 130 for Ctrl-C),
nothing of what the commands do.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .errors import NotDownloaded, NSTError

OFFLINE_HINT = "Point --weights (or NST_WEIGHTS) at a local VGG file."


def run_command(body: Callable[[], int], output: object, *, offline_hint: str = OFFLINE_HINT,
                interrupted: str = "") -> int:
    """`body()`'s exit code, or the one line and code for a failure: offline weights (with `offline_hint`),
    any NSTError, a file that could not be written to `output`, or Ctrl-C (followed by `interrupted`)."""
    try:
        return body()
    except NotDownloaded as error:
        print(f"error: {error} {offline_hint}", file=sys.stderr)
    except NSTError as error:
        print(f"error: {error}", file=sys.stderr)
    except OSError as error:
        print(f"error: could not write {output}: {error.strerror or error}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"\ninterrupted{interrupted}", file=sys.stderr)
        return 130
    return 2
