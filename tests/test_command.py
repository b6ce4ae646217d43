"""Every command line ends the same way: one line on stderr and an exit code (nst_core.command), for the
failures the CLI tests cannot provoke cheaply (a disk that refuses the write, Ctrl-C) and the ones they can."""

from __future__ import annotations

import errno

import pytest

from nst_core.command import OFFLINE_HINT, run_command
from nst_core.errors import ImageError, NotDownloaded


def raising(error: BaseException):
    def body() -> int:
        raise error
    return body


@pytest.mark.parametrize("error, code, line", [
    (NotDownloaded("The vgg19 weights are not downloaded."), 2,
     f"error: The vgg19 weights are not downloaded. {OFFLINE_HINT}"),
    (ImageError("That file is not an image we accept."), 2, "error: That file is not an image we accept."),
    (OSError(errno.ENOSPC, "No space left on device"), 2, "error: could not write out.png: No space left on device"),
    (KeyboardInterrupt(), 130, "interrupted; nothing written"),
])
def test_each_failure_is_one_line_and_its_exit_code(error, code, line, capsys):
    assert run_command(raising(error), "out.png", interrupted="; nothing written") == code
    err = capsys.readouterr().err
    assert err.strip() == line and "Traceback" not in err


def test_a_command_that_succeeds_keeps_its_code_and_prints_nothing(capsys):
    assert run_command(lambda: 0, "out.png") == 0
    assert capsys.readouterr().err == ""


def test_each_front_end_adds_its_own_offline_hint(capsys):
    run_command(raising(NotDownloaded("Not downloaded.")), "x", offline_hint="Connect once.")
    assert capsys.readouterr().err.strip() == "error: Not downloaded. Connect once."
