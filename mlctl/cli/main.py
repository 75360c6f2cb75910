"""Entry point: ``main()`` handles errors, ``program()`` is the command line without it.

Known failures print one line ``mlctl: error: …`` and exit with their documented
status (see :class:`mlctl.errors.ExitStatus`); ``--debug`` re-raises with the traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from mlctl import __version__
from mlctl.cli.lazy import LazyCommand, LazyGroup
from mlctl.cli.options import CliState, apply_global_options, state
from mlctl.errors import ExitStatus, MlctlError

COMMANDS: dict[str, LazyCommand] = {
    "context": LazyCommand("mlctl.cli.context:context", "List, choose and edit contexts."),
    "model": LazyCommand("mlctl.cli.model:model", "Scaffold, validate and package bundles."),
    "serve": LazyCommand("mlctl.cli.serve:serve", "Serve a model bundle over HTTP locally."),
    "job": LazyCommand("mlctl.cli.jobs:job", "Render a bundle's Nomad job."),
    "plan": LazyCommand("mlctl.cli.jobs:plan", "Show what deploying a bundle would change."),
    "deploy": LazyCommand("mlctl.cli.jobs:deploy", "Deploy a bundle to Nomad and watch it."),
    "status": LazyCommand("mlctl.cli.jobs:status", "Show deployed models and their health."),
    "scale": LazyCommand("mlctl.cli.jobs:scale", "Set a model's replica count."),
    "stop": LazyCommand("mlctl.cli.jobs:stop", "Stop a model (optionally purge it)."),
    "restart": LazyCommand("mlctl.cli.jobs:restart", "Restart a model's allocations."),
    "rollback": LazyCommand("mlctl.cli.jobs:rollback", "Roll a model back to a version."),
    "promote": LazyCommand("mlctl.cli.jobs:promote", "Promote a model's canaries."),
    "history": LazyCommand("mlctl.cli.jobs:history", "List a model's deployed versions."),
    "logs": LazyCommand("mlctl.cli.jobs:logs", "Show or follow a model's logs."),
    "nodes": LazyCommand("mlctl.cli.nodes:nodes", "List client nodes and their GPUs."),
    "vault": LazyCommand("mlctl.cli.vault:vault", "Set up Vault for mlctl (bootstrap)."),
    "user": LazyCommand("mlctl.cli.user:user", "Add, list, show and remove users."),
    "login": LazyCommand("mlctl.cli.auth:login", "Log in and cache Vault/Nomad tokens."),
    "logout": LazyCommand("mlctl.cli.auth:logout", "Revoke and forget cached tokens."),
    "whoami": LazyCommand("mlctl.cli.auth:whoami", "Show who you are and what you may do."),
    "access": LazyCommand("mlctl.cli.access:access", "Grant models to users and applications."),
    "cluster": LazyCommand("mlctl.cli.cluster:cluster", "Provision and run the cluster."),
    "tui": LazyCommand("mlctl_tui.cli:tui", "Open the operator's terminal UI."),
    "env": LazyCommand("mlctl.cli.env:env", "Jupyter workspaces, batch runs and apps."),
    "train": LazyCommand("mlctl.cli.train:train", "Train candidates as Nomad jobs; keep the best."),
    "local": LazyCommand("mlctl.cli.local:local", "Run a single-node runtime on this machine."),
    "predict": LazyCommand("mlctl.cli.predict:predict", "Ask a deployed model for a prediction."),
    "monitor": LazyCommand("mlctl.cli.monitor:monitor", "Run or deploy the monitor loop."),
    "alerts": LazyCommand("mlctl.cli.alerts:alerts", "List the monitor's alerts."),
    "events": LazyCommand("mlctl.cli.alerts:events", "Show or follow the monitor's events."),
    "schedule": LazyCommand("mlctl.cli.schedule:schedule", "Start and stop models on a timetable."),
}

EPILOG = """\b
Examples:
  mlctl model init iris && mlctl serve iris
  mlctl deploy examples/iris --namespace team-a
  mlctl status -o json

Global options work before or after the command; the one nearest the end wins.
Exit statuses are listed in the README ("Exit statuses").
"""


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="mlctl")
@click.pass_context
def cli(ctx: click.Context, /) -> None:
    """mlctl: take a trained model to a scheduled, monitored service on a Nomad GPU cluster."""
    state(ctx)  # the global options' callbacks have already recorded their values


apply_global_options(cli)


def program(argv: Sequence[str] | None = None) -> int:
    """Run the command line; exceptions propagate (``main`` handles them)."""
    args = list(argv) if argv is not None else None
    result = cli.main(args=args, prog_name="mlctl", standalone_mode=False)
    return int(result) if isinstance(result, int) else 0


def _wants_debug(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("MLCTL_DEBUG", "").lower() in {"1", "true", "yes"}


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether errors should also go to stdout as JSON: the last -o/--output wins."""
    chosen = os.environ.get("MLCTL_OUTPUT")
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg in {"-o", "--output"} and index + 1 < len(argv):
            chosen = argv[index + 1]
        elif arg.startswith("--output="):
            chosen = arg.partition("=")[2]
        elif arg.startswith("-o") and len(arg) > 2 and not arg.startswith("--"):
            chosen = arg[2:]
    return chosen == "json"


def report(error: MlctlError, as_json: bool) -> None:
    """Print a known failure: one line on stderr, and a JSON object on stdout for scripts."""
    from mlctl.output import emit_json
    from mlctl.redact import scrub

    sys.stderr.write(scrub(f"mlctl: error: {error.one_line()}") + "\n")
    if as_json:
        emit_json(error.to_dict())


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _wants_debug(args)
    try:
        status = program(args)
    except MlctlError as error:
        if debug:
            raise
        report(error, _wants_json(args))
        status = int(error.status)
    except click.exceptions.Exit as done:
        status = done.exit_code
    except click.ClickException as error:
        error.show()
        status = error.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        sys.stderr.write("mlctl: interrupted\n")
        status = int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:
        status = int(ExitStatus.OK)
    except Exception as error:
        if debug:
            raise
        from mlctl.extras import missing_extra
        from mlctl.redact import scrub

        mapped = missing_extra(error, "mlctl") if isinstance(error, ImportError) else None
        if mapped is not None:
            report(mapped, _wants_json(args))
            status = int(mapped.status)
        else:
            sys.stderr.write(
                scrub(f"mlctl: error: internal error: {type(error).__name__}: {error}")
                + " (a bug: rerun with --debug and report the traceback)\n"
            )
            status = int(ExitStatus.INTERNAL)
    sys.exit(status)


__all__ = ["COMMANDS", "CliState", "cli", "main", "program", "report", "state"]

if __name__ == "__main__":
    main()
