"""``mlctl vault``: set up Vault (and the Nomad side of it) for mlctl."""

from __future__ import annotations

from pathlib import Path

import click

from mlctl.cli.main import state
from mlctl.output import emit, note

CHANGE_COLUMNS = {"system": "SYSTEM", "kind": "KIND", "name": "NAME", "action": "ACTION"}


@click.group()
def vault() -> None:
    """Set up Vault for mlctl; hand the monitor its credentials.

    \b
    Examples:
      export VAULT_TOKEN=...   # a root or mlctl-admin token
      printf '%s\\n' "$MGMT" | mlctl vault bootstrap --nomad-token-stdin --namespace team-a
      mlctl vault monitor-credentials      # then: mlctl monitor deploy
    """


@vault.command()
@click.option(
    "--nomad-token-stdin",
    is_flag=True,
    help="Read the Nomad management token from stdin (else NOMAD_TOKEN).",
)
@click.option(
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
    from mlctl.cli.auth import read_stdin_secret
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
        management = read_stdin_secret("Nomad management token")
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
    access = NomadAccess(nomad_addr_for_vault or settings.nomad_addr, management, ca_pem)
    changes = run(client, nomad, access, namespaces, rotate_token=rotate_nomad_token)
    emit([c.row() for c in changes], settings.output, columns=CHANGE_COLUMNS)
    note(summary(changes))


@vault.command("monitor-credentials")
@click.option(
    "--namespace",
    metavar="NS",
    help="Namespace the monitor job runs in [default: -n / NOMAD_NAMESPACE].",
)
@click.pass_context
def monitor_credentials(ctx: click.Context, namespace: str | None) -> None:
    """Hand the monitor job its AppRole credentials without showing them to anyone.

    Reads the role-id of AppRole mlctl-monitor, creates a fresh secret-id, and writes
    both into the Nomad Variable nomad/jobs/mlctl-monitor, which only the monitor job's
    own tasks may read (Nomad's workload identity). The job's template turns them into
    environment variables and restarts the task when they change. Neither value is
    printed, logged or passed as an argument. Needs a Vault token that may create
    secret-ids (root or mlctl-admin) and a Nomad token that may write that Variable.

    \b
    Examples:
      mlctl vault monitor-credentials
      mlctl vault monitor-credentials --namespace ops && mlctl monitor deploy -n ops
    """
    from mlctl.monitor.deploy import JOB_ID, approle_variable_path
    from mlctl.monitor.varstore import Variables
    from mlctl.session import nomad_client, vault_client
    from mlctl.vault import approle
    from mlctl.vault.roles import MONITOR

    settings = state(ctx).settings(**({"nomad_namespace": namespace} if namespace else {}))
    client = vault_client(settings)
    role_id = approle.role_id(client, MONITOR)
    secret_id = approle.new_secret_id(client, MONITOR)
    nomad = nomad_client(settings)
    path = approle_variable_path(JOB_ID)
    variables = Variables(lambda: nomad, settings.nomad_namespace)
    variables.update(path, lambda _old: {"role_id": role_id, "secret_id": secret_id})
    result = {"variable": path, "namespace": settings.nomad_namespace, "approle": MONITOR}
    emit(result, settings.output)
    note(
        f"wrote a fresh secret-id of AppRole {MONITOR} to Nomad Variable {path} in namespace "
        f"{settings.nomad_namespace}; the monitor job reads it at its next start"
    )
