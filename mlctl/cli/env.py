"""``mlctl env``: workspaces (Jupyter), batch runs and apps from templates.

The commands parse flags into a spec override, call :mod:`mlctl.envs` and print; heavy
modules are imported inside each command so ``mlctl --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlctl.cli.main import state
from mlctl.cli.namespaced import namespace_option as _namespace
from mlctl.cli.namespaced import namespaced_settings as _settings
from mlctl.cli.namespaced import nomad_client as _client
from mlctl.output import emit, emit_json, note

if TYPE_CHECKING:
    from mlctl.envs.load import LoadedSpec
    from mlctl.envs.ops import Prepared
    from mlctl.nomad.client import NomadClient
    from mlctl.settings import Settings

SPEC = click.Path(exists=True, dir_okay=False, path_type=Path)
ENV_COLUMNS = {
    "name": "NAME",
    "template": "TEMPLATE",
    "owner": "OWNER",
    "type": "TYPE",
    "status": "STATUS",
    "endpoints": "ENDPOINTS",
}


@click.group()
def env() -> None:
    """Environments: Jupyter workspaces, Python batch runs and apps, from templates.

    \b
    Examples:
      mlctl env templates
      mlctl env create nb --template jupyter-gpu --gpus 1 --memory 16384
      mlctl env create -f env.yaml
      mlctl env url nb
      mlctl env stop nb --yes
    """




# ------------------------------------------------------------------------ templates


@env.command("templates")
@click.argument("template", required=False)
@click.pass_context
def templates(ctx: click.Context, template: str | None) -> None:
    """List the environment templates, or one TEMPLATE's variables.

    \b
    Examples:
      mlctl env templates
      mlctl env templates jupyter-gpu
      mlctl -o json env templates python-service
    """
    from mlctl.envs.catalog import catalog, get_template

    output = state(ctx).settings().output
    if template is None:
        rows = [
            {"template": t.name, "kind": t.kind, "description": t.description}
            for t in catalog().values()
        ]
        emit(
            rows,
            output,
            columns={"template": "TEMPLATE", "kind": "KIND", "description": "DESCRIPTION"},
        )
        return
    chosen = get_template(template)
    rows = [
        {
            "variable": v.name,
            "type": v.type,
            "default": v.default,
            "description": v.description
            + (f" ({'|'.join(map(str, v.choices))})" if v.choices else ""),
        }
        for v in chosen.variables.values()
    ]
    if output == "json":
        emit_json(
            {
                "template": chosen.name,
                "kind": chosen.kind,
                "description": chosen.description,
                "resources": dict(chosen.resources),
                "variables": rows,
            }
        )
        return
    click.echo(f"{chosen.name} ({chosen.kind}): {chosen.description}")
    click.echo("default resources: " + ", ".join(f"{k}={v}" for k, v in chosen.resources.items()))
    emit(
        rows,
        "table",
        columns={
            "variable": "VARIABLE",
            "type": "TYPE",
            "default": "DEFAULT",
            "description": "DESCRIPTION",
        },
    )


# ------------------------------------------------------------------------ spec from flags


def _dataset(text: str) -> dict[str, Any]:
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise click.BadParameter(
            f"{text!r}: use NAME=URL,sha256:HEX or NAME=volume:VOLUME", param_hint="--dataset"
        )
    if rest.startswith("volume:"):
        return {"name": name, "volume": rest.removeprefix("volume:")}
    url, _, checksum = rest.partition(",")
    return {"name": name, "source": url, **({"checksum": checksum} if checksum else {})}


def _variables(pairs: tuple[str, ...], template: str | None) -> dict[str, Any]:
    from mlctl.envs.catalog import catalog

    known = catalog().get(template or "")
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: use NAME=VALUE", param_hint="--var")
        var = known.variables.get(key) if known else None
        out[key] = var.parse(value) if var else value
    return out


def _overrides(name: str | None, template: str | None, flags: dict[str, Any]) -> dict[str, Any]:
    over: dict[str, Any] = {}
    if name:
        over["name"] = name
    if template:
        over["template"] = template
    resources = {k: flags[k] for k in ("cpu", "memory", "disk") if flags[k] is not None}
    if flags["gpus"] is not None:
        resources["gpu"] = (
            {
                "count": flags["gpus"],
                **({"memory": flags["gpu_memory"]} if flags["gpu_memory"] else {}),
            }
            if flags["gpus"]
            else None
        )
    if resources:
        over["resources"] = resources
    for key, flag in (("image", "image"), ("app", "app")):
        if flags[flag] is not None:
            over[key] = str(flags[flag])
    if flags["packages"]:
        over["packages"] = list(flags["packages"])
    if flags["datasets"]:
        over["datasets"] = [_dataset(d) for d in flags["datasets"]]
    return over


def spec_options(func: Any) -> Any:
    options = [
        click.option(
            "-f",
            "--file",
            "spec_file",
            type=SPEC,
            help="Environment spec (YAML, or seed 001 JSON).",
        ),
        click.option("-t", "--template", help="Template name (mlctl env templates)."),
        click.option("--gpus", type=click.IntRange(0, 16), help="GPUs (0 = none)."),
        click.option(
            "--gpu-memory", type=click.IntRange(min=1), help="Minimum memory per GPU, MiB."
        ),
        click.option("--cpu", type=click.IntRange(min=10), help="CPU in MHz."),
        click.option("--memory", type=click.IntRange(min=32), help="Memory in MiB."),
        click.option("--disk", type=click.IntRange(min=10), help="Scratch disk in MiB."),
        click.option("--image", help="Docker image (overrides the template's)."),
        click.option(
            "--package", "packages", multiple=True, metavar="REQ", help="pip package (repeatable)."
        ),
        click.option(
            "--dataset",
            "datasets",
            multiple=True,
            metavar="NAME=URL,sha256:HEX|NAME=volume:VOL",
            help="Read-only dataset (repeatable).",
        ),
        click.option(
            "--app",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="App directory (python-service, python-batch).",
        ),
        click.option(
            "--var",
            "variables",
            multiple=True,
            metavar="NAME=VALUE",
            help="Template variable (repeatable).",
        ),
        click.option(
            "--driver",
            type=click.Choice(["docker", "raw_exec"]),
            help="Task driver [default: raw_exec on mlctl local, else docker].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _load(name: str | None, flags: dict[str, Any]) -> LoadedSpec:
    from mlctl.envs.load import load_spec

    spec_file: Path | None = flags["spec_file"]
    if spec_file is None and not (name and flags["template"]):
        raise click.UsageError("give NAME and --template, or a spec file with -f")
    template = flags["template"]
    if template is None and spec_file is not None:
        from mlctl.envs.files import read_file

        raw, _ = read_file(spec_file)
        template = raw.get("template") if isinstance(raw, dict) else None
    overrides = _overrides(name, flags["template"], flags)
    variables = _variables(flags["variables"], template)
    if variables:
        overrides["variables"] = variables
    if "app" in overrides and spec_file is not None:
        overrides["app"] = str(Path(overrides["app"]).resolve())
    from mlctl.envs.files import SpecInvalid

    try:
        return load_spec(spec_file, overrides)
    except SpecInvalid as invalid:
        if len(invalid.problems) > 1:  # the error line names the first; list every one
            for problem in invalid.problems:
                click.echo(str(problem), err=True)
        raise


def _prepare(
    settings: Settings,
    loaded: LoadedSpec,
    driver: str | None,
    app_url: str | None = None,
    app_sha256: str | None = None,
) -> Prepared:
    from mlctl.envs import ops

    options = ops.options_for(settings, ops.task_driver(settings, driver), app_url, app_sha256)
    return ops.prepare(loaded, options)


# ------------------------------------------------------------------------ validate / render


@env.command("validate")
@click.argument("spec_file", type=SPEC)
@click.pass_context
def validate(ctx: click.Context, spec_file: Path) -> None:
    """Check SPEC_FILE and list every problem (exit 4 when there is one).

    \b
    Examples:
      mlctl env validate env.yaml
      mlctl env validate dcloud-env.json        # seed 001's JSON contract
      mlctl -o json env validate env.yaml
    """
    from mlctl.envs.files import SpecInvalid
    from mlctl.envs.load import load_spec

    output = state(ctx).settings().output
    try:
        loaded = load_spec(spec_file)
    except SpecInvalid as invalid:
        if output == "json":
            emit_json({"valid": False, "problems": [p.to_dict() for p in invalid.problems]})
        else:
            for problem in invalid.problems:
                click.echo(str(problem), err=True)
        raise
    result = {"valid": True, "name": loaded.spec.name, "template": loaded.template.name}
    if output == "json":
        emit_json(result)
    else:
        click.echo(f"{spec_file}: valid ({loaded.spec.name}, template {loaded.template.name})")


@env.command("render")
@click.argument("name", required=False)
@spec_options
@_namespace
@click.pass_context
def render(ctx: click.Context, /, name: str | None, namespace: str | None, **flags: Any) -> None:
    """Print the Nomad job of an environment (nothing is submitted).

    \b
    Examples:
      mlctl env render nb --template jupyter-gpu --gpus 2
      mlctl env render -f env.yaml --driver raw_exec
    """
    settings = _settings(ctx, namespace)
    loaded = _load(name, flags)
    placeholder = "https://artifact-store.invalid/apps/app.tar.gz" if loaded.spec.app else None
    prepared = _prepare(
        settings, loaded, flags["driver"], placeholder, "0" * 64 if placeholder else None
    )
    if placeholder:
        note(
            "note: the app's artifact URL and checksum are placeholders until env create uploads it"
        )
    if settings.output == "json":
        emit_json({"job_id": prepared.job_id, "hcl": prepared.hcl})
    else:
        click.echo(prepared.hcl, nl=False)


# ------------------------------------------------------------------------ create


@env.command("create")
@click.argument("name", required=False)
@spec_options
@_namespace
@click.option(
    "--wait/--detach",
    default=True,
    show_default=True,
    help="Wait until a service is healthy, or return once Nomad accepted the job.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds to wait (status 13 when exceeded; Nomad keeps going).",
)
@click.pass_context
def create(
    ctx: click.Context,
    /,
    name: str | None,
    namespace: str | None,
    wait: bool,
    timeout: float,
    **flags: Any,
) -> None:
    """Create (or update) an environment from a template, in your namespace.

    Renders the template, has Nomad parse and plan it (exit 10 with the reasons in
    plain words when it cannot be placed), uploads the app if there is one, stores a
    Jupyter workspace's token in a Nomad Variable, registers the job and waits.

    \b
    Examples:
      mlctl env create nb --template jupyter-cpu
      mlctl env create nb --template jupyter-gpu --gpus 1 --gpu-memory 16384 --memory 16384
      mlctl env create etl --template python-batch --app ./etl --var 'command=[python, run.py]'
      mlctl env create shop --template python-service --app ./shop --dataset iris=volume:iris
      mlctl env create -f env.yaml --namespace team-a
    """
    from mlctl.envs import ops

    settings = _settings(ctx, namespace)
    loaded = _load(name, flags)
    client = _client(settings)
    if loaded.spec.app:
        prepared, written = _submit_with_app(settings, client, loaded, flags["driver"])
    else:
        prepared = _prepare(settings, loaded, flags["driver"])
        _, written = ops.submit(client, prepared)
    _after_register(settings, client, prepared, written, wait, timeout)


def _submit_with_app(
    settings: Settings, client: NomadClient, loaded: LoadedSpec, driver: str | None
) -> tuple[Prepared, dict[str, Any]]:
    """Package the app, render with its content address, upload only once placeable."""
    from mlctl.artifacts import store_from_settings
    from mlctl.envs import ops
    from mlctl.envs.app import packaged_app

    app_dir = loaded.base_dir / str(loaded.spec.app)
    name = f"{loaded.spec.name}{ops.APP_STORE_SUFFIX}"
    store = store_from_settings(settings)
    with packaged_app(app_dir, loaded.spec.name) as archive:
        url = store.read_url(name=name, sha256=archive.sha256)
        prepared = _prepare(settings, loaded, driver, url, archive.sha256)

        def upload() -> None:
            store.upload(archive.path, name=name, sha256=archive.sha256)

        _, written = ops.submit(client, prepared, upload)
    return prepared, written


def _after_register(
    settings: Settings,
    client: NomadClient,
    prepared: Prepared,
    written: dict[str, Any],
    wait: bool,
    timeout: float,
) -> None:
    from mlctl.deploy.outcome import Outcome
    from mlctl.deploy.watch import follow
    from mlctl.errors import DeploymentFailed, DeploymentReverted, Timeout

    name = prepared.loaded.spec.name
    version = int(client.jobs.read(prepared.job_id).get("Version", 0))
    note(
        f"registered {prepared.job_id} version {version} (evaluation {written.get('EvalID', '-')})"
    )
    result: dict[str, Any] = {
        "name": name,
        "job": prepared.job_id,
        "version": version,
        "eval_id": written.get("EvalID"),
        "outcome": "registered",
    }
    if wait and prepared.loaded.template.kind == "service":
        watched = follow(client, prepared.job_id, version, timeout)
        result["outcome"] = watched.outcome.value
        for failure in watched.failures:
            note(failure.text)
        errors = {
            Outcome.FAILED: DeploymentFailed(f"environment {name} failed to start"),
            Outcome.REVERTED: DeploymentReverted(f"environment {name} failed and was rolled back"),
            Outcome.TIMED_OUT: Timeout(
                f"environment {name} is still starting",
                hint=f"follow it with mlctl env show {name}",
            ),
        }
        if watched.outcome in errors:
            raise errors[watched.outcome]
    if settings.output == "json":
        emit_json(result)
    elif prepared.loaded.template.kind == "service":
        click.echo(f"{name}: running; open it with: mlctl env url {name}")
    else:
        click.echo(f"{name}: started; follow it with: mlctl env logs {name} --follow")


# ------------------------------------------------------------------------ list / show / stop


@env.command("list")
@_namespace
@click.pass_context
def list_(ctx: click.Context, namespace: str | None) -> None:
    """List the environments in the namespace.

    \b
    Examples:
      mlctl env list
      mlctl -o json env list --namespace team-a
    """
    from mlctl.envs import ops

    settings = _settings(ctx, namespace)
    client = _client(settings)
    emit(
        ops.list_envs(client),
        settings.output,
        columns=ENV_COLUMNS,
        empty=f"no environments in namespace {client.namespace}",
    )


@env.command("show")
@click.argument("name")
@_namespace
@click.pass_context
def show(ctx: click.Context, name: str, namespace: str | None) -> None:
    """Show one environment: template, owner, status, endpoints and allocations.

    \b
    Examples:
      mlctl env show nb
    """
    from mlctl.deploy.inventory import alloc_row
    from mlctl.envs import ops

    settings = _settings(ctx, namespace)
    client = _client(settings)
    job = ops.env_job(client, name)
    allocs, _ = client.jobs.allocations(job["ID"])
    detail = {**ops.env_row(client, job), "allocations": [alloc_row(a) for a in allocs]}
    if settings.output == "json":
        emit_json(detail)
        return
    emit({k: v for k, v in detail.items() if k != "allocations"}, "table")
    click.echo()
    emit(detail["allocations"], "table", empty="no allocations")


@env.command("stop")
@click.argument("name")
@_namespace
@click.option("--purge", is_flag=True, help="Also forget the job and delete its token.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def stop(ctx: click.Context, name: str, namespace: str | None, purge: bool, yes: bool) -> None:
    """Stop an environment (with --purge, forget it and its token).

    \b
    Examples:
      mlctl env stop nb --yes
      mlctl env stop nb --purge --yes
    """
    import sys

    from mlctl.envs import ops

    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(f"stopping {name} needs confirmation: add --yes")
        click.confirm(
            f"{'stop and purge' if purge else 'stop'} environment {name}?", abort=True, err=True
        )
    settings = _settings(ctx, namespace)
    result = ops.stop_env(_client(settings), name, purge)
    if settings.output == "json":
        emit_json(result)
    else:
        click.echo(f"{name}: stopped" + (" and purged" if purge else ""))


@env.command("logs")
@click.argument("name")
@_namespace
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new output until Ctrl-C.")
@click.option("--stderr", "use_stderr", is_flag=True, help="Show stderr instead of stdout.")
@click.pass_context
def logs(
    ctx: click.Context, name: str, namespace: str | None, follow: bool, use_stderr: bool
) -> None:
    """Show an environment's task output (the newest allocation).

    \b
    Examples:
      mlctl env logs etl
      mlctl env logs nb --stderr --follow
    """
    from mlctl.deploy import lifecycle
    from mlctl.envs import ops

    settings = _settings(ctx, namespace)
    client = _client(settings)
    job = ops.env_job(client, name)
    allocs, _ = client.jobs.allocations(job["ID"])
    alloc = lifecycle.choose_alloc(allocs, None)
    chunks = client.logs.read(
        alloc.get("ID", ""),
        lifecycle.log_task(job),
        "stderr" if use_stderr else "stdout",
        follow=follow,
    )
    try:
        for chunk in chunks:
            click.echo(chunk.decode("utf-8", "replace"), nl=False)
    except KeyboardInterrupt:
        return


@env.command("url")
@click.argument("name")
@_namespace
@click.pass_context
def url(ctx: click.Context, name: str, namespace: str | None) -> None:
    """Print how to reach an environment; a Jupyter URL carries the token for its owner.

    This is the only command that prints a workspace's token, and only to the user who
    created it. Others get the address without it.

    \b
    Examples:
      mlctl env url nb
      mlctl -o json env url nb | jq -r .url
    """
    from mlctl.deploy.pipeline import deployed_by
    from mlctl.envs import ops

    settings = _settings(ctx, namespace)
    result = ops.env_url(_client(settings), name, deployed_by(settings))
    # Printed directly, not through emit(): emit() scrubs registered secrets, and the
    # token is exactly what the owner asked for here.
    if settings.output == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(result["url"])
        if str(result.get("template")).startswith("jupyter") and "token" not in result:
            note(f"note: the token is shown only to its owner ({result['owner']})")
