"""Model lifecycle commands: job render, plan, deploy, status, scale, stop, restart,
rollback, promote, history, logs.

The commands parse flags, call :mod:`mlctl.deploy` and print; the Nomad client and
the deploy machinery are imported inside each command so ``mlctl --help`` stays fast.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mlctl.cli.main import report, state
from mlctl.cli.prompts import confirm
from mlctl.errors import InvalidInput, MlctlError
from mlctl.output import emit, emit_json, note

if TYPE_CHECKING:
    from mlctl.bundle.schema import BundleConfig
    from mlctl.deploy.pipeline import Overrides, Planned
    from mlctl.deploy.replicas import ReplicaChoice
    from mlctl.deploy.watch import WatchResult
    from mlctl.nomad.client import NomadClient
    from mlctl.settings import Settings

#: Nomad's wildcard namespace: list requests then cover every namespace the token may read.
ALL_NAMESPACES = "*"
BUNDLE = click.Path(exists=True, file_okay=False, path_type=Path)


def _override_options(func: Any) -> Any:
    func = click.option(
        "--public",
        is_flag=True,
        help="Let anyone who reaches the model call it, even where Vault could check callers "
        "(serving.auth; a warning says so).",
    )(func)
    func = click.option(
        "--canary",
        type=click.IntRange(0, 100),
        metavar="N",
        help="Canary allocations for this rollout (overrides update.canary; 0 = none).",
    )(func)
    func = click.option(
        "--gpus",
        type=click.IntRange(0, 16),
        help="GPUs per replica (overrides resources.gpu.count; 0 = CPU only).",
    )(func)
    func = click.option(
        "--replicas", type=click.IntRange(0, 1000), help="Replica count (overrides mlctl.yaml)."
    )(func)
    return func


def _reset_option(func: Any) -> Any:
    return click.option(
        "--reset-replicas",
        is_flag=True,
        help="Use mlctl.yaml's replicas even if the running job was scaled to another count.",
    )(func)


def _settings(ctx: click.Context, *, every_namespace: bool = False) -> Settings:
    """The settings in force; ``-n '*'`` only where a command can act on every namespace."""
    settings: Settings = state(ctx).settings()
    if settings.nomad_namespace == ALL_NAMESPACES and not every_namespace:
        name = ctx.command_path
        raise InvalidInput(
            f"{name}: namespace '*' (every namespace) works only for listing with mlctl status",
            hint="name one namespace with -n NS",
        )
    return settings


def _client(settings: Settings) -> NomadClient:
    from mlctl.session import nomad_client

    return nomad_client(settings)


def _overrides(
    replicas: int | None, gpus: int | None, canary: int | None, public: bool = False
) -> Overrides:
    from mlctl.deploy.pipeline import Overrides

    return Overrides(replicas=replicas, gpus=gpus, canary=canary, public=public)


def _decide_replicas(
    client: NomadClient, config: BundleConfig, overrides: Overrides, reset: bool
) -> tuple[Overrides, ReplicaChoice]:
    """Keep a live count a deploy would otherwise undo, or register the count the model's
    schedule wants now, and say so in one line."""
    from mlctl.deploy.pipeline import replicas_for
    from mlctl.schedule.cli_hooks import for_deploy

    scheduled = for_deploy(client, config, overrides.replicas)
    decided, choice = replicas_for(client, config, overrides, reset=reset, scheduled=scheduled)
    if choice.note:
        note(f"{config.name}: {choice.note}")
    return decided, choice


def _fail_after_json(error: MlctlError, payload: dict[str, Any]) -> NoReturn:
    """With ``-o json``: print the result object, the error line, and exit with its status."""
    emit_json(payload)
    report(error, as_json=False)
    raise click.exceptions.Exit(int(error.status))


# --------------------------------------------------------------------------- job render


@click.group()
def job() -> None:
    """Work with a bundle's Nomad job without deploying it.

    \b
    Examples:
      mlctl job render examples/iris
      mlctl job render examples/iris --replicas 3 --gpus 1 > iris.nomad.hcl
    """


@job.command("render")
@click.argument("bundle", type=BUNDLE)
@_override_options
@click.pass_context
def render_job(
    ctx: click.Context,
    bundle: Path,
    replicas: int | None,
    gpus: int | None,
    canary: int | None,
    public: bool,
) -> None:
    """Print the HCL of BUNDLE's Nomad job (nothing is uploaded or submitted).

    The bundle is validated and packaged to compute its sha256. Without an artifact
    store (MLCTL_ARTIFACT_STORE) the artifact URL is a placeholder, and a note says so.

    \b
    Examples:
      mlctl job render examples/iris
      mlctl job render examples/iris --namespace team-a --replicas 2
      MLCTL_ARTIFACT_STORE=file:///srv/models mlctl job render examples/iris
    """
    from mlctl.deploy.pipeline import packaged, render

    settings = _settings(ctx)
    with packaged(bundle) as archive:
        rendered = render(settings, archive, _overrides(replicas, gpus, canary, public))
    if rendered.auth.notice:
        note(rendered.auth.notice)
    if rendered.artifact_is_placeholder:
        note("note: no artifact store configured; the artifact URL is a placeholder")
    if settings.output == "json":
        emit_json({"hcl": rendered.hcl, "artifact_url": rendered.artifact_url})
    else:
        click.echo(rendered.hcl, nl=not rendered.hcl.endswith("\n"))


# --------------------------------------------------------------------------- plan


def _print_plan(planned: Planned, verbose: bool, stream_err: bool = False) -> None:
    from mlctl.deploy.diff import diff_lines

    for line in diff_lines(planned.plan, verbose=verbose):
        if stream_err:
            note(line)
        else:
            click.echo(line)
    warnings = (planned.plan.get("Warnings") or "").strip()
    if warnings:
        note(f"warnings from Nomad: {warnings}")


def _plan_payload(planned: Planned) -> dict[str, Any]:
    from mlctl.deploy.diff import plan_summary

    return {
        **plan_summary(planned.plan),
        "placement_failures": [
            {
                "group": f.group,
                "unplaced": f.unplaced,
                "wanted": f.wanted,
                "summary": f.summary,
                "reasons": f.reasons,
                "hint": f.hint,
            }
            for f in planned.failures
        ],
    }


def _refuse(planned: Planned, as_json: bool, payload: dict[str, Any]) -> None:
    from mlctl.deploy.pipeline import refuse_unplaceable

    try:
        refuse_unplaceable(planned)
    except MlctlError as error:
        if as_json:
            _fail_after_json(error, payload)
        # The error line carries the first group; name any others on their own lines.
        for failure in planned.failures[1:]:
            click.echo(f"cannot place {failure.text}", err=True)
        raise


@click.command()
@click.argument("bundle", type=BUNDLE)
@_override_options
@_reset_option
@click.option("-v", "--verbose", is_flag=True, help="Show every field of a new job.")
@click.pass_context
def plan(
    ctx: click.Context,
    bundle: Path,
    replicas: int | None,
    gpus: int | None,
    canary: int | None,
    public: bool,
    reset_replicas: bool,
    verbose: bool,
) -> None:
    """Show what deploying BUNDLE would change, and whether Nomad can place it.

    Renders the job, has Nomad parse it and dry-run its scheduler. Prints the diff
    against the running version (+ added, ~ edited, - deleted) and per group what
    the scheduler would do. When a group cannot be placed it says why in plain words
    and exits with status 10.

    \b
    Examples:
      mlctl plan examples/iris
      mlctl plan examples/iris --replicas 4 --gpus 1
      mlctl -o json plan examples/iris | jq .placement_failures
    """
    from mlctl.deploy import pipeline

    settings = _settings(ctx)
    client = _client(settings)
    with pipeline.packaged(bundle) as archive:
        overrides, choice = _decide_replicas(
            client, archive.config, _overrides(replicas, gpus, canary, public), reset_replicas
        )
        rendered = pipeline.render(settings, archive, overrides)
    if rendered.auth.notice:
        note(rendered.auth.notice)
    planned = pipeline.plan(client, rendered.hcl)
    as_json = settings.output == "json"
    payload = {**_plan_payload(planned), "replicas": choice.count, "replicas_from": choice.source}
    if not as_json:
        _print_plan(planned, verbose)  # the diff first, then why it cannot be placed
    _refuse(planned, as_json, payload)
    if as_json:
        emit_json(payload)


# --------------------------------------------------------------------------- deploy


def _upload_progress(enabled: bool) -> Any:
    """A Rich progress bar on stderr for uploads, as a context manager yielding a callback."""
    from contextlib import contextmanager

    @contextmanager
    def bar() -> Any:
        if not enabled or not sys.stderr.isatty():
            yield None
            return
        from rich.console import Console
        from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

        with Progress(
            *Progress.get_default_columns(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as progress:
            task = progress.add_task("uploading bundle", total=None)

            def update(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            yield update

    return bar()


def _report_result(result: WatchResult, model: str, release: str, as_json: bool) -> None:
    """Print the outcome; failures raise the error whose status tells scripts what happened."""
    from mlctl.deploy.outcome import Outcome
    from mlctl.errors import DeploymentFailed, DeploymentReverted, Timeout

    payload = result.to_dict()
    description = payload.get("status_description") or ""
    what = f"{model} {release} (job version {result.job_version})"
    explained = bool(result.failures or result.unplaced)
    error: MlctlError | None = None
    if result.outcome is Outcome.REVERTED:
        error = DeploymentReverted(
            f"{what} failed and Nomad rolled back to version {result.reverted_to}: {description}",
            hint=("see why above; " if explained else "")
            + f"mlctl logs {model} --stderr shows the task's output",
        )
    elif result.outcome is Outcome.FAILED:
        error = DeploymentFailed(
            f"{what} failed and was not rolled back: {description}",
            hint=f"no earlier stable version; fix the bundle or mlctl stop {model}",
        )
    elif result.outcome is Outcome.TIMED_OUT:
        error = Timeout(
            f"{what} is still rolling out: {description or 'waiting'}",
            hint=f"Nomad keeps going; follow it with mlctl status {model}",
        )
    if as_json:
        if error is not None:
            _fail_after_json(error, payload)
        emit_json(payload)
        return
    for failure in result.failures:
        click.echo(failure.text, err=True)
    for unplaced in result.unplaced:
        click.echo(f"cannot place {unplaced.text}", err=True)
    if error is not None:
        raise error
    messages = {
        Outcome.SUCCESSFUL: f"{what} is deployed and healthy",
        Outcome.AWAITING_PROMOTION: (
            f"{model} canaries are healthy; promote them with: mlctl promote {model}"
        ),
        Outcome.UNCHANGED: f"{model}: nothing changed, nothing to roll out",
    }
    click.echo(messages.get(result.outcome, str(result.outcome)))


@click.command()
@click.argument("bundle", type=BUNDLE)
@_override_options
@_reset_option
@click.option(
    "--wait/--detach",
    default=True,
    show_default=True,
    help="Watch the rollout until it ends, or return once Nomad accepted the job.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=900,
    show_default=True,
    help="Seconds to watch before giving up (status 13); Nomad keeps going.",
)
@click.option("--force", is_flag=True, help="Register even if the plan cannot place every group.")
@click.pass_context
def deploy(
    ctx: click.Context,
    bundle: Path,
    replicas: int | None,
    gpus: int | None,
    canary: int | None,
    public: bool,
    reset_replicas: bool,
    wait: bool,
    timeout: float,
    force: bool,
) -> None:
    """Deploy BUNDLE to Nomad and watch the rollout.

    Validates and packages the bundle, renders its job, has Nomad parse and plan it
    (stopping with status 10 and the reason when it cannot be placed), uploads the
    bundle to the artifact store, registers the job and follows the deployment until
    it is healthy, fails, or the timeout passes. On failure it prints the failing
    allocations' task events, why Nomad could not place allocations, and whether
    Nomad rolled back.

    A running model keeps its current replica count (set by mlctl scale, say) unless
    --replicas or --reset-replicas says otherwise; a note says so. With canaries
    (--canary N or update.canary in mlctl.yaml) an update stops once N new
    allocations are healthy, and `mlctl promote MODEL` rolls it out to the rest.

    Who may call it: with a Vault address in the context the model requires a token
    granting it (mlctl access grant; serving.auth in mlctl.yaml), else anyone may call
    it and a note says so. --public lets anyone call it anyway, with a warning.

    \b
    Exit statuses: 0 deployed (or canaries waiting for mlctl promote), 10 cannot be
    placed, 11 failed, 12 failed and rolled back by Nomad, 13 timed out, 15
    serving.auth.mode none where Vault could check callers (without --public).

    \b
    Examples:
      mlctl deploy examples/iris
      mlctl deploy ./bert --namespace team-a --replicas 2 --gpus 1
      mlctl deploy examples/iris --canary 1 && mlctl promote iris
      mlctl deploy examples/iris --reset-replicas     # back to mlctl.yaml's replicas
      mlctl deploy examples/iris --detach
      mlctl deploy examples/iris -o json --timeout 300
      mlctl deploy examples/iris --public               # no token needed to call it
    """
    from mlctl.deploy import pipeline

    settings = _settings(ctx)
    as_json = settings.output == "json"
    client = _client(settings)
    with pipeline.packaged(bundle) as archive:
        config = archive.config
        note(f"packaged {config.name} {config.version}: {archive.size} bytes")
        overrides, choice = _decide_replicas(
            client, config, _overrides(replicas, gpus, canary), reset_replicas
        )
        rendered = pipeline.render(
            settings, archive, replace(overrides, public=public), require_store=True
        )
        if rendered.auth.notice:
            note(rendered.auth.notice)
        # Plan before uploading: planning needs the same Nomad rights as registering,
        # so a user who may not deploy here, or a job that cannot be placed, is
        # refused before anything is written to the artifact store.
        planned = _plan_for_deploy(client, rendered.hcl, as_json, force)
        if choice.scheduled is not None:
            from mlctl.schedule.cli_hooks import store_for_deploy

            store_for_deploy(client, choice.scheduled, by=_who(settings))
        with _upload_progress(not as_json) as progress:
            pipeline.upload(settings, archive, progress)
    note(f"bundle at {rendered.artifact_url}")
    _register_and_follow(client, planned, config, wait=wait, timeout=timeout, as_json=as_json)


def _plan_for_deploy(client: NomadClient, hcl: str, as_json: bool, force: bool) -> Planned:
    """Plan, show the diff, and refuse an unplaceable job unless --force."""
    from mlctl.deploy import pipeline

    planned = pipeline.plan(client, hcl)
    if not as_json:
        _print_plan(planned, verbose=False, stream_err=True)
    if not force:
        _refuse(planned, as_json, {"outcome": "unplaceable", **_plan_payload(planned)})
    for failure in planned.failures:
        note(f"warning: --force: cannot place {failure.text}")
    return planned


def _register_and_follow(
    client: NomadClient,
    planned: Planned,
    config: BundleConfig,
    *,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Register the planned job, then watch its deployment (or return at once)."""
    from mlctl.deploy import pipeline
    from mlctl.deploy.display import RolloutDisplay
    from mlctl.deploy.outcome import Outcome
    from mlctl.deploy.watch import WatchResult, follow

    written = pipeline.register(client, planned)
    version = int(client.jobs.read(planned.job_id).get("Version", 0))
    note(f"registered {planned.job_id} version {version} (evaluation {written.get('EvalID', '-')})")
    unchanged = (planned.plan.get("Diff") or {}).get("Type") == "None"
    if not sum(int(g.get("Count") or 0) for g in planned.job.get("TaskGroups") or []):
        wait = False  # nothing starts, so there is no rollout to watch (a schedule starts it)
    if not wait or unchanged:
        outcome = Outcome.UNCHANGED if unchanged else Outcome.DETACHED
        result = WatchResult(outcome, planned.job_id, version)
        if as_json:
            emit_json({**result.to_dict(), "eval_id": written.get("EvalID")})
        elif outcome is Outcome.DETACHED:
            click.echo(f"{config.name}: registered; follow it with: mlctl status {config.name}")
        else:
            _report_result(result, config.name, config.version, as_json)
        return
    with RolloutDisplay(f"{config.name} {config.version}", live=False if as_json else None) as view:
        result = follow(client, planned.job_id, version, timeout, None if as_json else view.update)
    _report_result(result, config.name, config.version, as_json)


# --------------------------------------------------------------------------- status


STATUS_COLUMNS = {
    "model": "MODEL",
    "version": "VERSION",
    "job_version": "JOB VER",
    "status": "STATUS",
    "desired": "DESIRED",
    "running": "RUNNING",
    "healthy": "HEALTHY",
    "gpus": "GPUS",
    "endpoints": "ENDPOINTS",
}
ALLOC_COLUMNS = {
    "alloc": "ALLOC",
    "node": "NODE",
    "job_version": "JOB VER",
    "desired": "DESIRED",
    "status": "STATUS",
    "healthy": "HEALTHY",
    "gpus": "GPUS",
}


@click.command()
@click.argument("model", required=False)
@click.pass_context
def status(ctx: click.Context, model: str | None) -> None:
    """Show deployed models, or one MODEL in detail with its allocations.

    For each model: its version, desired/running/healthy replicas, GPUs in use and
    the endpoints (address:port) where it answers.

    \b
    Examples:
      mlctl status
      mlctl status iris
      mlctl status -n team-a -o json
      mlctl status -n '*'          # every namespace your token may read
    """
    from mlctl.deploy import lifecycle

    settings = _settings(ctx, every_namespace=model is None)
    client = _client(settings)
    if model is None:
        _list_models(settings, client)
        return
    detail = lifecycle.model_detail(client, model)
    if settings.output == "json":
        emit_json(detail)
        return
    deployment = detail["deployment"] or {}
    emit(
        {
            **detail["model"],
            "deployment": f"{deployment.get('status')} ({deployment.get('description')})"
            if deployment
            else None,
        },
        "table",
    )
    click.echo()
    emit(detail["allocations"], "table", columns=ALLOC_COLUMNS, empty="no allocations")
    for text in detail["placement_failures"]:
        note(f"waiting for capacity: cannot place {text}")


def _list_models(settings: Settings, client: NomadClient) -> None:
    """The status table of one namespace, or of every namespace with ``-n '*'``."""
    from mlctl.deploy import lifecycle

    if client.namespace != ALL_NAMESPACES:
        rows = lifecycle.list_models(client)
        if not rows:
            lifecycle.require_namespace(client)
        empty = f"no models deployed in namespace {client.namespace}"
        emit(rows, settings.output, columns=STATUS_COLUMNS, empty=empty)
        return
    rows = []
    for namespace in lifecycle.model_namespaces(client):
        scoped = _client(settings.with_overrides(nomad_namespace=namespace))
        rows += [{"namespace": namespace, **row} for row in lifecycle.list_models(scoped)]
    columns = {"namespace": "NAMESPACE", **STATUS_COLUMNS}
    emit(rows, settings.output, columns=columns, empty="no models deployed in any namespace")


# --------------------------------------------------------------------------- scale / stop


def _who(settings: Settings) -> str:
    from mlctl.deploy.pipeline import deployed_by

    return deployed_by(settings)


@click.command()
@click.argument("model")
@click.argument("replicas", type=click.IntRange(0, 1000))
@click.pass_context
def scale(ctx: click.Context, model: str, replicas: int) -> None:
    """Set MODEL's replica count to REPLICAS (0 keeps the job but runs nothing).

    Nomad refuses to scale while a deployment is rolling out (status 9): wait for it,
    promote it, or roll back first.

    \b
    Examples:
      mlctl scale iris 3
      mlctl scale iris 0 --namespace team-a
    """
    from mlctl.deploy import lifecycle

    settings = _settings(ctx)
    client = _client(settings)
    response = lifecycle.scale(client, model, replicas, by=_who(settings))
    result = {"model": model, "replicas": replicas, "eval_id": response.get("EvalID")}
    from mlctl.schedule.cli_hooks import after_manual_scale

    result.update(after_manual_scale(client, model, replicas, by=_who(settings)))
    if settings.output == "json":
        emit_json(result)
    else:
        click.echo(f"{model}: scaling to {replicas} replicas (follow with: mlctl status {model})")


@click.command()
@click.argument("model")
@click.option("--purge", is_flag=True, help="Also remove the job and its history from Nomad.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def stop(ctx: click.Context, model: str, purge: bool, yes: bool) -> None:
    """Stop every replica of MODEL (with --purge, forget its versions too).

    \b
    Examples:
      mlctl stop iris --yes
      mlctl stop iris --purge --yes
    """
    from mlctl.deploy import lifecycle

    settings = _settings(ctx)
    confirm(f"{'stop and purge' if purge else 'stop'} model {model}?", yes)
    response = lifecycle.stop(_client(settings), model, purge)
    result = {"model": model, "purged": purge, "eval_id": response.get("EvalID")}
    if settings.output == "json":
        emit_json(result)
    else:
        click.echo(f"{model}: stopped" + (" and purged" if purge else ""))


@click.command()
@click.argument("model")
@click.pass_context
def restart(ctx: click.Context, model: str) -> None:
    """Restart MODEL's running allocations in place (same nodes, same version).

    \b
    Examples:
      mlctl restart iris
    """
    from mlctl.deploy import lifecycle

    settings = _settings(ctx)
    restarted = lifecycle.restart(_client(settings), model)
    if settings.output == "json":
        emit_json({"model": model, "restarted": restarted})
    else:
        click.echo(f"{model}: restarted {len(restarted)} allocation(s)")


@click.command()
@click.argument("model")
@click.option(
    "--version",
    "to_version",
    type=click.IntRange(min=0),
    help="Job version to return to [default: the previous stable one].",
)
@click.pass_context
def rollback(ctx: click.Context, model: str, to_version: int | None) -> None:
    """Roll MODEL back to an earlier job version (Nomad registers it as a new version).

    \b
    Examples:
      mlctl rollback iris
      mlctl rollback iris --version 2
      mlctl history iris        # lists the versions
    """
    from mlctl.deploy import lifecycle

    settings = _settings(ctx)
    result = lifecycle.rollback(_client(settings), model, to_version)
    if settings.output == "json":
        emit_json(result)
    else:
        click.echo(
            f"{model}: rolling back from version {result['from_version']} to "
            f"{result['to_version']} (follow with: mlctl status {model})"
        )


@click.command()
@click.argument("model")
@click.pass_context
def promote(ctx: click.Context, model: str) -> None:
    """Promote MODEL's healthy canaries so the rollout continues.

    \b
    Examples:
      mlctl promote iris
    """
    from mlctl.deploy import lifecycle

    settings = _settings(ctx)
    result = lifecycle.promote(_client(settings), model)
    if settings.output == "json":
        emit_json(result)
    else:
        click.echo(f"{model}: promoted deployment {str(result['deployment_id'])[:8]}")


HISTORY_COLUMNS = {
    "version": "VERSION",
    "current": "CURRENT",
    "submitted": "SUBMITTED",
    "model_version": "MODEL VER",
    "bundle_sha256": "BUNDLE SHA256",
    "deployed_by": "DEPLOYED BY",
    "stable": "STABLE",
    "replicas": "REPLICAS",
}


@click.command()
@click.argument("model")
@click.pass_context
def history(ctx: click.Context, model: str) -> None:
    """List MODEL's job versions: when, which bundle, who deployed, and stability.

    \b
    Examples:
      mlctl history iris
      mlctl -o json history iris | jq '.[] | select(.stable)'
    """
    from mlctl.deploy import lifecycle

    settings = _settings(ctx)
    rows = lifecycle.history(_client(settings), model)
    if settings.output != "json":
        rows = [{**r, "bundle_sha256": (r["bundle_sha256"] or "")[:8] or None} for r in rows]
    emit(rows, settings.output, columns=HISTORY_COLUMNS)


# --------------------------------------------------------------------------- logs

#: Bytes fetched per requested line for --tail (Nomad's own CLI assumes ~120).
BYTES_PER_LINE = 200


@click.command()
@click.argument("model")
@click.option("--alloc", "alloc_prefix", metavar="ID", help="Allocation ID (or a prefix of it).")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new output until Ctrl-C.")
@click.option("--stderr", "use_stderr", is_flag=True, help="Show stderr instead of stdout.")
@click.option("--tail", type=click.IntRange(min=1), metavar="N", help="Only the last N lines.")
@click.pass_context
def logs(
    ctx: click.Context,
    model: str,
    alloc_prefix: str | None,
    follow: bool,
    use_stderr: bool,
    tail: int | None,
) -> None:
    """Show MODEL's server logs (the newest running allocation unless --alloc).

    \b
    Examples:
      mlctl logs iris
      mlctl logs iris --stderr --tail 50
      mlctl logs iris --alloc 3f2a --follow
    """
    from mlctl.deploy import lifecycle

    settings = _settings(ctx)
    client = _client(settings)
    job_spec = lifecycle.read_model(client, model)
    allocs, _ = client.jobs.allocations(job_spec["ID"])
    alloc = lifecycle.choose_alloc(allocs, alloc_prefix)
    note(f"logs of alloc {alloc.get('ID', '')[:8]} on {alloc.get('NodeName') or '?'}")
    chunks = client.logs.read(
        alloc.get("ID", ""),
        lifecycle.log_task(job_spec),
        "stderr" if use_stderr else "stdout",
        follow=follow,
        tail_bytes=tail * BYTES_PER_LINE if tail else None,
    )
    shown = 0
    try:
        if tail and not follow:
            text = b"".join(chunks).decode("utf-8", "replace")
            lines = text.splitlines(keepends=True)[-tail:]
            shown = len(lines)
            click.echo("".join(lines), nl=False)
        else:
            for chunk in chunks:
                shown += len(chunk)
                click.echo(chunk.decode("utf-8", "replace"), nl=False)
    except KeyboardInterrupt:
        return  # Ctrl-C is how --follow ends
    if not shown and not use_stderr:
        # mlctl serve writes its access log and messages to stderr: an empty stdout is normal.
        note(f"stdout is empty; the model server logs to stderr: mlctl logs {model} --stderr")
