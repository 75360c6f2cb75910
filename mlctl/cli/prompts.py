"""Questions to the person at the terminal, and what happens when there is none.

A command that would prompt never blocks or warns when stdin is not a terminal (a
script, CI, a pipe): it stops at once with one line naming the flag that answers
instead (``--yes``, ``--password-stdin``), exit status 2 (usage).
"""

from __future__ import annotations

import sys

import click

from mlctl import redact
from mlctl.errors import InvalidInput, UsageError


def _interactive() -> bool:
    isatty = getattr(sys.stdin, "isatty", None)
    return bool(isatty and isatty())


def _command() -> str:
    ctx = click.get_current_context(silent=True)
    return ctx.command_path if ctx is not None else "mlctl"


def confirm(question: str, yes: bool) -> None:
    """Go on when ``yes`` or the person agrees; otherwise stop (Ctrl-C / "no": 130)."""
    if yes:
        return
    if not _interactive():
        raise UsageError(
            f"{_command()}: {question.rstrip('?')} needs confirmation and there is no terminal",
            hint="add --yes",
        )
    click.confirm(question, abort=True, err=True)


def read_stdin_secret(what: str, flag: str) -> str:
    """One line of stdin (without its newline), registered as a secret."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInput(
            f"{flag}: no {what} on stdin (an empty line or none)",
            hint=f"pipe one line in, e.g. printf '%s\\n' \"$SECRET\" | {_command()} ... {flag}",
        )
    redact.register(line)
    return line


def read_password(from_stdin: bool, *, confirm: bool, prompt: str = "Password") -> str:
    """A password from stdin (``--password-stdin``) or a hidden prompt (twice when ``confirm``)."""
    if from_stdin:
        return read_stdin_secret("password", "--password-stdin")
    if not _interactive():
        raise UsageError(
            f"{_command()}: no terminal to ask for the password",
            hint="pipe it in with --password-stdin",
        )
    password = str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True))
    redact.register(password)
    return password
