"""``mlctl user``: add, list, show, change the password of, and remove users (admins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mlctl.cli.main import state
from mlctl.cli.prompts import confirm, read_password
from mlctl.cli.vault import report, reporting_partial
from mlctl.output import emit, emit_json, note

if TYPE_CHECKING:
    from mlctl.nomad.client import NomadClient
    from mlctl.settings import Settings
    from mlctl.vault.client import Vault

ROLES = ["admin", "operator", "data-scientist", "viewer"]


@click.group()
def user() -> None:
    """Add, list, show and remove mlctl users (needs an admin login or VAULT_TOKEN).

    Roles: admin (Vault setup, users, Nomad management), operator (write everywhere
    in Nomad), data-scientist (its own namespaces only), viewer (read-only).

    \b
    Examples:
      mlctl user add alice --role data-scientist --namespace team-a
      mlctl user add victor --role viewer
      mlctl user list
      mlctl user show alice
      mlctl user passwd alice
      mlctl user remove alice
    """


def _vault(ctx: click.Context) -> tuple[Settings, Vault]:
    from mlctl.session import vault_client

    settings = state(ctx).settings()
    return settings, vault_client(settings)


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="Namespace of a data scientist (repeatable); created in Nomad if missing.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def add(
    ctx: click.Context, name: str, role: str, namespaces: tuple[str, ...], password_stdin: bool
) -> None:
    """Create user NAME with a role; the password is prompted twice (or read from stdin).

    \b
    Examples:
      mlctl user add alice --role data-scientist --namespace team-a --namespace team-b
      printf '%s\\n' "$PW" | mlctl user add ops1 --role operator --password-stdin
    """
    from mlctl.access.roles import Role, check_grant, check_username
    from mlctl.access.users import add_user, check_password

    settings, vault = _vault(ctx)
    check_username(name)
    check_grant(Role(role), namespaces)
    password = check_password(read_password(password_stdin, confirm=True))
    grant = Role(role)
    with reporting_partial(settings.output):
        changes = add_user(vault, lambda: _nomad_admin(settings), name, grant, namespaces, password)
    report(changes, settings.output)
    note(f"user {name} added as {role}; they can now run: mlctl login {name}")


def _nomad_admin(settings: Settings) -> NomadClient:
    """A Nomad client that may create namespaces and policies, or a clear AuthError.

    Right after `mlctl vault bootstrap` the operator holds Vault's root token but no
    Nomad token: they add the first admin, log in as that admin (whose login brings a
    Nomad management token), and add everyone else from there (README, "Users").
    """
    from mlctl.errors import AuthError
    from mlctl.session import nomad_client, resolve_nomad_token

    if resolve_nomad_token(settings) is None:
        raise AuthError(
            "adding a data scientist creates Nomad namespaces and policies, "
            "which needs a Nomad management token",
            hint="log in as an admin user (mlctl login ADMIN) or set NOMAD_TOKEN",
        )
    return nomad_client(settings)


@user.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List users with their role and namespaces.

    \b
    Examples:
      mlctl user list
      mlctl user list -o json | jq -r '.[] | select(.role == "admin") | .name'
    """
    from dataclasses import asdict

    from mlctl.access.users import list_users

    settings, vault = _vault(ctx)
    rows = [asdict(v) for v in list_users(vault)]
    emit(rows, settings.output, columns=["name", "role", "namespaces"], empty="no users yet")


@user.command("show")
@click.argument("name")
@click.pass_context
def show(ctx: click.Context, name: str) -> None:
    """Show a user's role, namespaces, Vault policies and Nomad policies.

    \b
    Examples:
      mlctl user show alice
      mlctl user show alice -o json
    """
    from dataclasses import asdict

    from mlctl.access.users import show_user

    settings, vault = _vault(ctx)
    emit(asdict(show_user(vault, name)), settings.output)


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@click.pass_context
def passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (prompted twice, or read from stdin).

    \b
    Examples:
      mlctl user passwd alice
      printf '%s\\n' "$NEW_PW" | mlctl user passwd alice --password-stdin
    """
    from mlctl.access.users import change_password

    settings, vault = _vault(ctx)
    change_password(vault, name, read_password(password_stdin, confirm=True, prompt="New password"))
    if settings.output == "json":
        emit_json({"user": name, "password_changed": True})
    note(f"password of {name} changed")


@user.command("remove")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def remove(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete NAME and revoke every Vault and Nomad token it holds.

    No new logins from the moment the user is deleted. Vault tokens are revoked; Nomad
    tokens too (secrets engine: with their leases; jwt: the tokens its logins created
    are deleted in Nomad, which needs your admin login or a management NOMAD_TOKEN).
    Asks for confirmation on a terminal; scripts pass --yes.

    \b
    Examples:
      mlctl user remove alice
      mlctl user remove alice --yes
      mlctl -o json user remove alice --yes
    """
    from mlctl.access.users import remove_user
    from mlctl.session import nomad_client

    confirm(f"remove user {name} and revoke every token they hold?", yes)
    settings, vault = _vault(ctx)
    with reporting_partial(settings.output):
        changes = remove_user(vault, lambda: nomad_client(settings), name)
    report(changes, settings.output)
    note(f"user {name} removed; their tokens are revoked")
