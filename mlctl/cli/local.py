"""``mlctl local``: the embedded single-machine runtime (Nomad's API, real processes)."""

from __future__ import annotations

import sys

import click

from mlctl.cli.main import state
from mlctl.output import emit, note


@click.group()
def local() -> None:
    """Run mlctl's own single-node Nomad runtime on this machine (no cluster needed).

    `mlctl local up` starts it in the background, saves the context `local`
    (address, token file, raw_exec driver, a file:// artifact store) and makes it
    current, so deploy, status, scale, logs, predict and the monitor work against it
    exactly as against a Nomad cluster. Models run as processes of your user.

    \b
    Examples:
      mlctl local up && mlctl deploy examples/iris
      mlctl predict iris '{"features": [[5.1, 3.5, 1.4, 0.2]]}'
      mlctl local status
      mlctl local logs --follow
      mlctl local down
    """


@local.command("up")
@click.option("--port", type=int, help="Port on 127.0.0.1 for Nomad's API [default: 4646].")
@click.option(
    "--engine",
    type=click.Choice(["builtin", "nomad"]),
    default="builtin",
    show_default=True,
    help="builtin: mlctl's runtime; nomad: `nomad agent -dev` (needs nomad on PATH).",
)
@click.option("--no-use", is_flag=True, help="Save the context `local` but do not switch to it.")
@click.pass_context
def up(ctx: click.Context, port: int | None, engine: str, no_use: bool) -> None:
    """Start the local runtime in the background (nothing happens if it already runs).

    Waits until its API answers, then writes the context `local` and makes it the
    current one (unless --no-use). State (jobs, allocations, ACL tokens...) lives in
    the data directory (MLCTL_LOCAL_DIR) and survives down/up, reboots and crashes;
    models that should run are started again (or kept, if they kept running).

    \b
    Examples:
      mlctl local up
      mlctl local up --port 4747 --no-use
      mlctl local up --engine nomad        # a real `nomad agent -dev` with raw_exec
      mlctl -o json local up
    """
    from mlctl.local import control
    from mlctl.local.paths import LocalPaths

    settings = state(ctx).settings()
    paths = LocalPaths(settings.local_dir)
    running, started = control.up(
        paths, settings.config_file, port=port, engine=engine, use=not no_use
    )
    payload = {
        "started": started,
        "engine": running.engine,
        "pid": running.pid,
        "address": running.address,
        "context": control.CONTEXT,
        "current": not no_use,
        "state_dir": str(paths.root),
    }
    if settings.output == "json":
        emit(payload, "json")
        return
    _warn_without_serve_extra()
    verb = "started" if started else "already running"
    click.echo(
        f"mlctl local {verb} at {running.address} (pid {running.pid}, {running.engine} engine)"
    )
    if no_use:
        note(
            "context local saved; use it with: mlctl --context local ... or mlctl context use local"
        )
    else:
        note("context local is now current: try mlctl deploy examples/iris")


@local.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show whether the runtime runs: pid, address, engine, uptime, allocations, limits.

    Exits with status 8 when it is not running.

    \b
    Examples:
      mlctl local status
      mlctl -o json local status | jq .allocations_running
    """
    from mlctl.local import control
    from mlctl.local.paths import LocalPaths

    settings = state(ctx).settings()
    emit(control.status(LocalPaths(settings.local_dir)), settings.output)


@local.command("down")
@click.pass_context
def down(ctx: click.Context) -> None:
    """Stop the runtime: every model gets its kill signal, then the runtime exits.

    The state is kept: `mlctl local up` brings the same jobs back and starts the
    models that should run. Nothing happens when it is not running.

    \b
    Examples:
      mlctl local down
      mlctl local down && mlctl local up
    """
    from mlctl.local import control
    from mlctl.local.paths import LocalPaths

    settings = state(ctx).settings()
    stopped = control.down(LocalPaths(settings.local_dir))
    if settings.output == "json":
        emit({"stopped": stopped is not None, "pid": stopped.pid if stopped else None}, "json")
    elif stopped is None:
        click.echo("mlctl local is not running")
    else:
        click.echo(f"mlctl local stopped (pid {stopped.pid})")


@local.command("logs")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@click.option("--tail", type=click.IntRange(min=1), help="Only the last N lines.")
@click.pass_context
def logs(ctx: click.Context, follow: bool, tail: int | None) -> None:
    """Show the runtime's own log (models' logs: mlctl logs MODEL).

    \b
    Examples:
      mlctl local logs --tail 20
      mlctl local logs --follow
    """
    from mlctl.local import control
    from mlctl.local.paths import LocalPaths

    settings = state(ctx).settings()
    try:
        for line in control.follow_log(LocalPaths(settings.local_dir), follow, tail):
            sys.stdout.write(line)
            sys.stdout.flush()
    except KeyboardInterrupt:
        return


def _warn_without_serve_extra() -> None:
    """Models run `python -m mlctl serve` with this interpreter: it needs the serve extra."""
    import importlib.util

    from mlctl.extras import install_hint

    missing = [
        m for m in ("starlette", "uvicorn", "sklearn") if importlib.util.find_spec(m) is None
    ]
    if missing:
        note(
            f"warning: models deployed here run `{sys.executable} -m mlctl serve`, and this "
            f"Python lacks the model server ({', '.join(missing)}): {install_hint('serve')}"
        )
