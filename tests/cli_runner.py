"""Run the real ``mlctl`` entry point in-process and capture what a user would see."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

from mlctl.cli.main import main


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str


def run_cli(args: Sequence[str], stdin: str = "") -> Result:
    """Call ``mlctl.cli.main.main`` like the console script, returning status and output."""
    import sys

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    status = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as done:
                status = int(done.code or 0)
    finally:
        sys.stdin = old_stdin
    return Result(status, out.getvalue(), err.getvalue())
