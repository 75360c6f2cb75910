"""``mlctl tui``: the command that opens the terminal UI.

It lives here, in the TUI's package, and ``mlctl``'s command registry names it by string
(``mlctl_tui.cli:tui``), so the ``mlctl`` package never imports the TUI (or Textual):
the dependency runs one way, ``tui -> mlctl``. Textual itself is imported only when the
command runs; without the ``tui`` extra the CLI names the extra to install.
"""

from __future__ import annotations

import sys

import click

from mlctl.cli.main import state
from mlctl.errors import ExitStatus, MlctlError


class NoTerminal(MlctlError):
    """``mlctl tui`` was started without a terminal to draw on (a pipe, a cron job)."""

    status = ExitStatus.USAGE
    title = "no terminal"


@click.command()
@click.option(
    "--readonly",
    is_flag=True,
    help="Show everything, change nothing: every action is hidden and refused.",
)
@click.option(
    "--judge-reachability",
    is_flag=True,
    help="Also raise ModelEndpointUnreachable from this machine (only where it reaches "
    "the cluster's network, e.g. a bastion inside it).",
)
@click.pass_context
def tui(ctx: click.Context, readonly: bool, judge_reachability: bool) -> None:
    """Open the terminal UI: models, nodes, schedules, alerts and events, logs.

    It runs the monitor in-process in its watch-only mode (event stream, resync,
    probes, health rules; no notifications, actions or saved state) in every namespace
    your token can read; -n NS starts with that namespace shown. Press ? inside for the
    keys of each screen, q to quit.

    \b
    Examples:
      mlctl tui
      mlctl tui --readonly
      mlctl -n team-a tui
      mlctl --context lab tui --judge-reachability
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise NoTerminal(
            "mlctl tui needs an interactive terminal (stdin and stdout)",
            hint="run it in a terminal; for scripts use mlctl status, alerts or events",
        )
    from mlctl_tui.runtime import run

    run(state(ctx).settings(), readonly=readonly, judge_reachability=judge_reachability)
