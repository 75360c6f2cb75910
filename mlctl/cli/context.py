"""``mlctl context``: named sets of addresses and defaults kept in the config file."""

from __future__ import annotations

import click

from mlctl.cli.main import state
from mlctl.cli.options import Group
from mlctl.errors import ConfigError, InvalidInput, NotFound
from mlctl.output import emit, emit_json, note
from mlctl.settings import (
    CONTEXT_KEYS,
    ContextFile,
    Settings,
    _coerce,
    check_context_name,
    config_path,
    output_format,
)


def _file(ctx: click.Context) -> ContextFile:
    """The context file, read without resolving settings, so a bad value can be fixed."""
    return ContextFile.read(config_path(state(ctx).flags))


def _result(ctx: click.Context, data: dict[str, object]) -> None:
    """With -o json, a result object for scripts (people get the note on stderr)."""
    if output_format(state(ctx).flags) == "json":
        emit_json(data)


@click.group(cls=Group)
def context() -> None:
    """List, choose and edit contexts (~/.config/mlctl/config.yaml, or MLCTL_CONFIG).

    \b
    Examples:
      mlctl context set lab nomad_addr=https://10.0.0.10:4646 vault_addr=https://10.0.0.10:8200
      mlctl context use lab
      mlctl context list
      mlctl context show
    """


@context.command("list")
@click.pass_context
def list_contexts(ctx: click.Context) -> None:
    """List contexts; the current one is marked.

    \b
    Examples:
      mlctl context list
      mlctl context list -o json | jq -r '.[] | select(.current) | .name'
    """
    file = _file(ctx)
    rows = [
        {
            "current": name == file.current,
            "name": name,
            "nomad_addr": values.get("nomad_addr"),
            "vault_addr": values.get("vault_addr"),
            "namespace": values.get("nomad_namespace"),
        }
        for name, values in sorted(file.contexts.items())
    ]
    emit(rows, output_format(state(ctx).flags), empty=f"no contexts in {file.path}")


@context.command("use")
@click.argument("name")
@click.pass_context
def use_context(ctx: click.Context, name: str) -> None:
    """Make NAME the current context (MLCTL_CONTEXT or --context still win for one run).

    \b
    Examples:
      mlctl context use lab
      mlctl --context prod status     # one command in another context, nothing saved
    """
    file = _file(ctx)
    if name not in file.contexts:
        raise NotFound(
            f"context {name!r} does not exist", hint="list them with: mlctl context list"
        )
    file.current = name
    file.write()
    _result(ctx, {"context": name, "current": True, "path": str(file.path)})
    note(f"now using context {name}")


@context.command("set")
@click.argument("name")
@click.argument("assignments", nargs=-1, metavar="KEY=VALUE...")
@click.option("--use", "make_current", is_flag=True, help="Also make it the current context.")
@click.pass_context
def set_context(
    ctx: click.Context, name: str, assignments: tuple[str, ...], make_current: bool
) -> None:
    """Create or update context NAME with KEY=VALUE settings (KEY= removes one).

    NAME is 1-63 lowercase letters, digits and '-'. Keys: nomad_addr,
    nomad_namespace, nomad_region, nomad_cacert, vault_addr, vault_cacert,
    artifact_store, datacenters, node_pool, runtime_image, ... Every value is checked
    before anything is written. Secrets (tokens, passwords) are refused: they belong
    to `mlctl login` or the environment.

    \b
    Examples:
      mlctl context set lab nomad_addr=https://10.0.0.10:4646 --use
      mlctl context set lab vault_addr=https://10.0.0.10:8200 nomad_namespace=team-a
      mlctl context set lab artifact_store=https://10.0.0.10/models
      mlctl context set lab nomad_cacert=      # remove a setting
    """
    check_context_name(name)
    file = _file(ctx)
    values = dict(file.contexts.get(name, {}))
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep:
            raise InvalidInput(f"{assignment!r}: expected KEY=VALUE")
        if key not in CONTEXT_KEYS:
            hint = "known keys: " + ", ".join(sorted(CONTEXT_KEYS))
            raise InvalidInput(f"context {name}: {key}: unknown or secret setting", hint=hint)
        if raw == "":
            values.pop(key, None)
            continue
        try:
            _coerce(key, raw, f"context {name}: {key}")  # check before anything is written
        except ConfigError as error:
            raise InvalidInput(error.message, hint=error.hint) from None
        values[key] = raw
    file.contexts[name] = values
    if make_current or file.current is None:
        file.current = name
    file.write()
    _result(
        ctx,
        {"context": name, "current": file.current == name, "path": str(file.path), **values},
    )
    note(f"context {name} saved to {file.path}")


@context.command("delete")
@click.argument("name")
@click.pass_context
def delete_context(ctx: click.Context, name: str) -> None:
    """Delete context NAME (if it was current, no context is current afterwards).

    \b
    Examples:
      mlctl context delete lab
    """
    file = _file(ctx)
    if file.contexts.pop(name, None) is None:
        raise NotFound(f"context {name!r} does not exist")
    if file.current == name:
        file.current = None
    file.write()
    _result(ctx, {"context": name, "deleted": True, "path": str(file.path)})
    note(f"context {name} deleted")


@context.command("show")
@click.pass_context
def show_context(ctx: click.Context) -> None:
    """Show the settings in force after flags, environment and context (secrets hidden).

    The `context` line names the context in use (from --context, MLCTL_CONTEXT or the
    file's current context).

    \b
    Examples:
      mlctl context show
      mlctl --context prod context show -o json
    """
    settings: Settings = state(ctx).settings()
    emit(settings.to_public_dict(), settings.output)
