"""``mlctl access``: who may call which model (grants kept in Vault), and applications."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mlctl.cli.main import state
from mlctl.cli.vault import report, reporting_partial
from mlctl.output import emit, emit_json, note

if TYPE_CHECKING:
    from mlctl.access.callers import CallerKind, Grants
    from mlctl.settings import Settings
    from mlctl.vault.client import Vault

CALLER_COLUMNS = {
    "caller": "CALLER",
    "models": "MODELS",
    "namespaces": "EVERY MODEL OF",
    "metrics": "METRICS OF",
}


@click.group()
def access() -> None:
    """Who may call which model: grants, applications and model tokens.

    A deployed model answers only callers whose token (signed by Vault, 15 minutes)
    grants it: people after `mlctl login`, applications through their AppRole. Grants
    live in Vault, as the claims of each caller's identity token role; granting or
    revoking changes every token issued from then on, and tokens already issued keep
    what they say until they expire (at most 15 minutes). Models are named in the
    namespace of -n/--namespace; '*' means every model there. Grants, revokes and
    applications need an admin login (or VAULT_TOKEN).

    \b
    Examples:
      mlctl access grant iris --user alice -n team-a
      mlctl access grant '*' --user bob -n team-b
      mlctl access revoke iris --user alice -n team-a
      mlctl access list iris -n team-a
      mlctl access app add billing --model iris -n team-a
      curl -H @<(mlctl access token --header) http://10.0.0.7:25831/predict \\
          -d '{"features": [[5.1, 3.5, 1.4, 0.2]]}'
    """


def _admin(ctx: click.Context) -> tuple[Settings, Vault]:
    from mlctl.session import vault_client

    settings = state(ctx).settings()
    return settings, vault_client(settings)


def _caller(user: str | None, app: str | None) -> tuple[CallerKind, str]:
    from mlctl.access.callers import CallerKind
    from mlctl.errors import UsageError

    if (user is None) == (app is None):
        raise UsageError("name exactly one caller: --user NAME or --app NAME")
    return (CallerKind.USER, user) if user is not None else (CallerKind.APP, str(app))


def _row(grants: Grants, why: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "caller": grants.caller,
        "models": list(grants.models),
        "namespaces": list(grants.namespaces),
        "metrics": list(grants.metrics),
    }
    if why is not None:
        row["why"] = why
    return row


def _caller_options(func: Any) -> Any:
    func = click.option("--app", metavar="NAME", help="The application (mlctl access app).")(func)
    return click.option("--user", metavar="NAME", help="The person (mlctl user).")(func)


@access.command()
@click.argument("model")
@_caller_options
@click.pass_context
def grant(ctx: click.Context, model: str, user: str | None, app: str | None) -> None:
    """Let a person or an application call MODEL (in -n NAMESPACE; '*': all of them).

    Tokens issued from now on carry the grant; `mlctl predict` fetches a new one
    when a model says no. A person added before model access existed gets their
    caller role (from their mlctl role) on the first grant.

    \b
    Examples:
      mlctl access grant iris --user alice -n team-a
      mlctl access grant churn --app billing -n team-a
      mlctl access grant '*' --app dashboards -n team-b     # every model of team-b
    """
    from mlctl.access.grants import grant as run

    kind, name = _caller(user, app)
    settings, vault = _admin(ctx)
    namespace = settings.nomad_namespace
    with reporting_partial(settings.output):
        result = run(vault, kind, name, namespace, model)
    report(result.changes, settings.output)
    what = f"every model of {namespace}" if model == "*" else f"{namespace}/{model}"
    note(f"{kind.value} {name} may now call {what}; new tokens carry it")


@access.command()
@click.argument("model")
@_caller_options
@click.pass_context
def revoke(ctx: click.Context, model: str, user: str | None, app: str | None) -> None:
    """Stop a person or an application from calling MODEL (in -n NAMESPACE).

    Vault stops issuing tokens that carry MODEL at once; a token issued before keeps
    working until it expires (15 minutes at most). If the caller may still call MODEL
    another way (a data scientist of its namespace, an admin, a '*' grant), a note
    says so.

    \b
    Examples:
      mlctl access revoke iris --user alice -n team-a
      mlctl access revoke '*' --app dashboards -n team-b
    """
    from mlctl.access.callers import MODEL_TOKEN_TTL
    from mlctl.access.grants import revoke as run

    kind, name = _caller(user, app)
    settings, vault = _admin(ctx)
    namespace = settings.nomad_namespace
    with reporting_partial(settings.output):
        result = run(vault, kind, name, namespace, model)
    report(result.changes, settings.output)
    what = f"every model of {namespace}" if model == "*" else f"{namespace}/{model}"
    note(
        f"new tokens of {kind.value} {name} no longer carry {what}; "
        f"tokens issued before keep working until they expire (at most {MODEL_TOKEN_TTL})"
    )
    if result.still_allowed is not None:
        note(f"note: {kind.value} {name} may still call {what}: {result.still_allowed}")


@access.command("list")
@click.argument("model", required=False)
@click.pass_context
def list_(ctx: click.Context, model: str | None) -> None:
    """List every caller and what it may call, or who may call MODEL (in -n NS) and why.

    \b
    Examples:
      mlctl access list
      mlctl access list iris -n team-a
      mlctl -o json access list | jq -r '.[] | select(.models | index("team-a/iris")) | .caller'
    """
    from mlctl.access.grants import callers_of, list_callers

    settings, vault = _admin(ctx)
    if model is None:
        rows = [_row(g) for g in list_callers(vault)]
        emit(rows, settings.output, columns=CALLER_COLUMNS, empty="no callers of models yet")
        return
    namespace = settings.nomad_namespace
    rows = [_row(g, why) for g, why in callers_of(vault, namespace, model)]
    emit(
        rows,
        settings.output,
        columns={"caller": "CALLER", "why": "WHY"},
        empty=f"nobody may call {namespace}/{model}",
    )


@access.command()
@click.option("--fresh", is_flag=True, help="Ask Vault for a new token, not the cached one.")
@click.option(
    "--header", "as_header", is_flag=True, help="Print it as an `Authorization: Bearer` line."
)
@click.pass_context
def token(ctx: click.Context, fresh: bool, as_header: bool) -> None:
    """Print your bearer token for calling models (after mlctl login).

    The token is a JWT Vault signs for you, valid 15 minutes, naming the models you
    may call; it is cached (0600) and reused until a minute before it expires. It is a
    secret: send it only to model servers, as `Authorization: Bearer <token>`, and keep
    it off command lines (curl reads headers from a file with -H @FILE).

    \b
    Examples:
      mlctl access token
      mlctl access token --fresh       # after a new grant
      curl -H @<(mlctl access token --header) http://10.0.0.7:25831/predict \\
          -d '{"features": [[5.1, 3.5, 1.4, 0.2]]}'
    """
    from mlctl.errors import AuthError
    from mlctl.session import model_token

    settings = state(ctx).settings()
    bearer = model_token(settings, fresh=fresh)
    if bearer is None:
        raise AuthError("not logged in", hint="run mlctl login (or set MLCTL_MODEL_TOKEN)")
    # Printed on purpose (this command's whole job), so not through the scrubbing emitters.
    click.echo(f"Authorization: Bearer {bearer}" if as_header else bearer)


# --------------------------------------------------------------------------- applications


@access.group()
def app() -> None:
    """Applications that call models: each is an AppRole whose token names its models.

    `app add` prints the application's role-id and a response-wrapped secret-id once:
    a single-use wrapping token only the application should unwrap. mlctl stores
    neither. The README ("Applications") shows the three HTTP calls an application
    makes, with a Python example.

    \b
    Examples:
      mlctl access app add billing --model iris --model churn -n team-a
      mlctl access app list
      mlctl access app secret billing
      mlctl access app remove billing
    """


def _print_credentials(credentials: Any, changes: list[Any], output: str) -> None:
    if output == "json":
        emit_json({**credentials.to_dict(), "changes": [c.row() for c in changes]})
        return
    report(changes, output)
    click.echo(f"role-id:            {credentials.role_id}")
    click.echo(f"wrapped secret-id:  {credentials.wrapped_secret_id}")
    note(
        f"the wrapped secret-id is shown once: a single-use token that expires in "
        f"{credentials.wrap_ttl} s; hand it to the application, which unwraps it "
        "(POST /v1/sys/wrapping/unwrap) to get its secret-id"
    )


@app.command("add")
@click.argument("name")
@click.option(
    "--model",
    "models",
    multiple=True,
    required=True,
    metavar="MODEL",
    help="A model it may call, in -n NAMESPACE (repeatable; '*' = every model).",
)
@click.option("--metrics", is_flag=True, help="Also let it read the servers' /metrics there.")
@click.option(
    "--wrap-ttl",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="How long the wrapped secret-id can be unwrapped (e.g. 10m, 1h).",
)
@click.pass_context
def app_add(
    ctx: click.Context, name: str, models: tuple[str, ...], metrics: bool, wrap_ttl: str
) -> None:
    """Create application NAME that may call --model MODEL (in -n NAMESPACE).

    \b
    Examples:
      mlctl access app add billing --model iris -n team-a
      mlctl access app add scraper --model '*' --metrics -n team-a
      mlctl -o json access app add billing --model iris | jq -r .wrapped_secret_id
    """
    from mlctl.access.apps import add_app

    settings, vault = _admin(ctx)
    _check_duration(wrap_ttl)
    with reporting_partial(settings.output):
        credentials, changes = add_app(
            vault, name, settings.nomad_namespace, models, metrics=metrics, wrap_ttl=wrap_ttl
        )
    _print_credentials(credentials, changes, settings.output)


def _check_duration(text: str) -> None:
    import re

    from mlctl.errors import InvalidInput

    if not re.fullmatch(r"\d{1,6}[smh]", text):
        raise InvalidInput(f"--wrap-ttl {text!r} is not a duration", hint="e.g. 10m or 1h")


@app.command("secret")
@click.argument("name")
@click.option("--wrap-ttl", default="1h", show_default=True, metavar="DURATION")
@click.pass_context
def app_secret(ctx: click.Context, name: str, wrap_ttl: str) -> None:
    """Print NAME's role-id and a new response-wrapped secret-id (older ones still work).

    \b
    Examples:
      mlctl access app secret billing
    """
    from mlctl.access.apps import new_secret

    settings, vault = _admin(ctx)
    _check_duration(wrap_ttl)
    _print_credentials(new_secret(vault, name, wrap_ttl), [], settings.output)


@app.command("list")
@click.pass_context
def app_list(ctx: click.Context) -> None:
    """List applications and the models they may call.

    \b
    Examples:
      mlctl access app list
      mlctl -o json access app list
    """
    from mlctl.access.apps import list_apps

    settings, vault = _admin(ctx)
    rows = [_row(g) for g in list_apps(vault)]
    emit(rows, settings.output, columns=CALLER_COLUMNS, empty="no applications yet")


@app.command("remove")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def app_remove(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete application NAME: no new logins, no new model tokens.

    Its secret-ids stop working at once and its Vault tokens lose their policy; a
    model token issued before keeps working until it expires (15 minutes at most).

    \b
    Examples:
      mlctl access app remove billing --yes
    """
    from mlctl.access.apps import remove_app
    from mlctl.cli.prompts import confirm

    confirm(f"remove application {name}?", yes)
    settings, vault = _admin(ctx)
    with reporting_partial(settings.output):
        changes = remove_app(vault, name)
    report(changes, settings.output)
    note(f"application {name} removed")
