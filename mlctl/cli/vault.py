"""``mlctl vault``: set up Vault (and the Nomad side of it) for mlctl."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlctl.cli.main import state
from mlctl.output import emit, note

if TYPE_CHECKING:
    from mlctl.nomad.client import NomadClient

CHANGE_COLUMNS = {"system": "SYSTEM", "kind": "KIND", "name": "NAME", "action": "ACTION"}


@click.group()
def vault() -> None:
    """Set up Vault for mlctl.

    \b
    Examples:
      export VAULT_TOKEN=...   # a root or mlctl-admin token
      printf '%s\\n' "$MGMT" | mlctl vault bootstrap --nomad-token-stdin --namespace team-a
    """


@vault.command()
@click.option(
    "--nomad-token-stdin",
    is_flag=True,
    help="Read the Nomad management token from stdin (else NOMAD_TOKEN).",
)
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="Create this Nomad namespace and its data-scientist policy (repeatable).",
)
@click.option(
    "--nomad-addr-for-vault",
    metavar="URL",
    help="Nomad address as Vault sees it [default: the Nomad address mlctl uses].",
)
@click.option(
    "--rotate-nomad-token",
    is_flag=True,
    help="Rewrite the management token Vault uses even if Nomad access is configured.",
)
@click.pass_context
def bootstrap(
    ctx: click.Context,
    nomad_token_stdin: bool,
    namespaces: tuple[str, ...],
    nomad_addr_for_vault: str | None,
    rotate_nomad_token: bool,
) -> None:
    """Enable userpass and AppRole, mount and configure the Nomad secrets engine, write
    every policy (Vault and Nomad), namespaces, roles and the monitor's AppRole.

    Safe to re-run: it prints what it changed and what was already in place. Acts with
    VAULT_TOKEN (root or mlctl-admin) or your cached admin login. The Nomad management
    token is given once, on stdin or in NOMAD_TOKEN, never as an argument.

    \b
    Examples:
      printf '%s\\n' "$MGMT" | mlctl vault bootstrap --nomad-token-stdin
      NOMAD_TOKEN=$MGMT mlctl vault bootstrap --namespace team-a --namespace team-b
      mlctl vault bootstrap --nomad-token-stdin --nomad-addr-for-vault http://nomad.service:4646
    """
    from mlctl.cli.prompts import read_stdin_secret
    from mlctl.errors import ConfigError
    from mlctl.session import nomad_client_with_token, vault_client
    from mlctl.vault.bootstrap import NomadAccess
    from mlctl.vault.bootstrap import bootstrap as run
    from mlctl.vault.changes import summary
    from mlctl.vault.roles import check_namespace

    settings = state(ctx).settings()
    for namespace in namespaces:
        check_namespace(namespace)
    if nomad_token_stdin:
        management = read_stdin_secret("Nomad management token", "--nomad-token-stdin")
    elif settings.nomad_token:
        management = settings.nomad_token
    else:
        raise ConfigError(
            "bootstrap needs a Nomad management token",
            hint="pipe it in with --nomad-token-stdin, or set NOMAD_TOKEN",
        )
    ca_pem = Path(settings.nomad_cacert).read_text() if settings.nomad_cacert else None
    client = vault_client(settings)
    nomad = nomad_client_with_token(settings, management)
    _check_management_token(nomad)
    access = NomadAccess(nomad_addr_for_vault or settings.nomad_addr, management, ca_pem)
    changes = run(client, nomad, access, namespaces, rotate_token=rotate_nomad_token)
    emit([c.row() for c in changes], settings.output, columns=CHANGE_COLUMNS)
    note(summary(changes))


def _check_management_token(nomad: NomadClient) -> None:
    """Refuse a wrong or under-privileged token before Vault is changed, saying which."""
    from mlctl.errors import AuthError, MlctlError, PermissionDenied
    from mlctl.vault.nomad_acl import token_self

    where = f"Nomad at {nomad.address}"
    hint = "give the SecretID that `nomad acl bootstrap` printed, on stdin: --nomad-token-stdin"
    try:
        record = token_self(nomad)
    except (AuthError, PermissionDenied) as error:
        raise AuthError(f"{where} does not accept the management token given", hint=hint) from error
    except MlctlError:
        raise
    if record.get("Type") != "management":
        raise PermissionDenied(
            f"the token given is a {record.get('Type') or 'client'} token of {where}; "
            "bootstrap needs a management token",
            hint=hint,
        )
