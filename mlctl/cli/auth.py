"""``mlctl login``, ``mlctl logout``, ``mlctl whoami``; and how secrets are read.

Secrets (passwords, tokens) come from a hidden prompt or from stdin, never from argv,
where ``ps`` and shell history would show them.
"""

from __future__ import annotations

import click

from mlctl.cli.main import state
from mlctl.cli.prompts import read_password
from mlctl.errors import InvalidInput
from mlctl.output import emit, emit_json, note


@click.command()
@click.argument("name", required=False)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def login(ctx: click.Context, name: str | None, password_stdin: bool) -> None:
    """Log in to Vault and cache your Vault and Nomad tokens (0600, in MLCTL_STATE_DIR).

    NAME defaults to your login name ($USER). Tokens last a working day and are renewed
    automatically while you use mlctl; every command then acts as you.

    \b
    Examples:
      mlctl login alice
      cat pw.txt | mlctl login alice --password-stdin
      mlctl --vault-addr https://vault:8200 --ca-cert ca.pem login alice
    """
    from mlctl.access.login import login as do_login

    settings = state(ctx).settings()
    user = name or _default_user()
    password = read_password(password_stdin, confirm=False)
    cached = do_login(settings, user, password)
    emit(
        {
            "user": cached.username,
            "role": cached.role,
            "namespaces": list(cached.namespaces),
            "vault_token_expires": _iso(cached.vault_expires_at),
            "nomad_token_expires": _iso(cached.nomad_expires_at),
        },
        settings.output,
    )
    note(f"logged in as {cached.username}")


def _default_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError) as exc:
        raise InvalidInput("no user name given", hint="run: mlctl login NAME") from exc


def _iso(stamp: float | None) -> str | None:
    from mlctl.access.login import _iso as iso

    return iso(stamp)


@click.command()
@click.option(
    "--forget", is_flag=True, help="Only delete the cached tokens (when Vault is unreachable)."
)
@click.pass_context
def logout(ctx: click.Context, forget: bool) -> None:
    """Revoke your Vault token (and with it your Nomad token) and forget both.

    \b
    Examples:
      mlctl logout
      mlctl logout --forget     # Vault is down: drop the cache; tokens expire on their own
    """
    from mlctl.access.login import logout as do_logout

    settings = state(ctx).settings()
    who = do_logout(settings, forget_only=forget)
    if settings.output == "json":
        emit_json({"user": who, "revoked": who is not None and not forget})
    if who is None:
        note("not logged in; nothing to do")
    elif forget:
        note(f"forgot the tokens of {who} (not revoked: they expire on their own)")
    else:
        note(f"logged out {who}: Vault and Nomad tokens revoked")


@click.command()
@click.pass_context
def whoami(ctx: click.Context) -> None:
    """Show who you are, your role, policies, token expiry and the services you may use.

    \b
    Examples:
      mlctl whoami
      mlctl whoami -o json
    """
    from mlctl.access.login import whoami as do_whoami

    settings = state(ctx).settings()
    emit(do_whoami(settings), settings.output)


__all__ = ["login", "logout", "whoami"]
