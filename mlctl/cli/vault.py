"""``mlctl vault``: set up Vault (and the Nomad side of it) for mlctl."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlctl.cli.main import state
from mlctl.output import emit, note

if TYPE_CHECKING:
    from mlctl.access.bootstrap import JwtTrust
    from mlctl.nomad.client import NomadClient
    from mlctl.settings import Settings
    from mlctl.vault.client import Vault

CHANGE_COLUMNS = {"system": "SYSTEM", "kind": "KIND", "name": "NAME", "action": "ACTION"}


@click.group()
def vault() -> None:
    """Set up Vault (or OpenBao) for mlctl; hand the monitor its credentials.

    \b
    Examples:
      export VAULT_TOKEN=...   # a root or mlctl-admin token
      printf '%s\\n' "$MGMT" | mlctl vault bootstrap --nomad-token-stdin --namespace team-a
      printf '%s\\n' "$MGMT" | mlctl vault bootstrap --nomad-token-stdin --nomad-auth jwt
      mlctl vault monitor-credentials      # then: mlctl monitor deploy
    """


def report(changes: list[Any], output: str) -> None:
    """The table of what a setup did (also what it did before failing)."""
    emit([c.row() for c in changes], output, columns=CHANGE_COLUMNS)


@contextmanager
def reporting_partial(output: str) -> Iterator[None]:
    """If a setup stops part-way, show what it had already changed, then fail.

    With ``-o json`` the error object itself carries the ``changes``, so stdout stays one
    JSON document.
    """
    from mlctl.access.bootstrap import SetupFailed

    try:
        yield
    except SetupFailed as failed:
        if output != "json":
            report(failed.changes, output)
        raise


@vault.command()
@click.option(
    "--nomad-auth",
    type=click.Choice(["auto", "jwt", "secrets-engine"]),
    default="auto",
    show_default=True,
    help="How users get Nomad tokens: Vault identity tokens exchanged at Nomad's JWT auth "
    "method (Vault and OpenBao), or Vault's Nomad secrets engine (HashiCorp Vault). "
    "auto keeps what is set up, else uses the secrets engine when the server has one.",
)
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
    help="secrets-engine: Nomad address as Vault sees it [default: the Nomad address mlctl uses].",
)
@click.option(
    "--vault-addr-for-nomad",
    metavar="URL",
    help="jwt: Vault address as Nomad sees it, for the identity token keys "
    "[default: the Vault address mlctl uses].",
)
@click.option(
    "--rotate-nomad-token",
    is_flag=True,
    help="secrets-engine: rewrite the management token Vault uses even if already set.",
)
@click.pass_context
def bootstrap(
    ctx: click.Context,
    nomad_auth: str,
    nomad_token_stdin: bool,
    namespaces: tuple[str, ...],
    nomad_addr_for_vault: str | None,
    vault_addr_for_nomad: str | None,
    rotate_nomad_token: bool,
) -> None:
    """Set up Vault (or OpenBao) and Nomad for mlctl: userpass and AppRole, every policy
    (Vault and Nomad), namespaces, the monitor's AppRole, the way users get Nomad
    tokens (--nomad-auth), and the key identity/oidc/key/mlctl-models that signs the
    tokens callers of models present (mlctl access).

    jwt: Vault signs identity tokens (key identity/oidc/key/mlctl, one token role per
    user whose claims carry role, namespaces and username); Nomad's JWT auth method
    mlctl-vault checks them against Vault's /v1/identity/oidc/.well-known/keys and its
    binding rules map the claims to Nomad policies and roles. Vault holds no Nomad
    token. secrets-engine: Vault's Nomad secrets engine keeps the management token and
    mints per-user tokens under leases.

    Safe to re-run: it prints what it changed and what was already in place; if it
    stops part-way it lists what it had changed, and running it again completes it.
    Acts with VAULT_TOKEN (root or mlctl-admin) or your cached admin login. The Nomad
    management token is given once, on stdin or in NOMAD_TOKEN, never as an argument.

    \b
    Examples:
      printf '%s\\n' "$MGMT" | mlctl vault bootstrap --nomad-token-stdin
      NOMAD_TOKEN=$MGMT mlctl vault bootstrap --namespace team-a --namespace team-b
      NOMAD_TOKEN=$MGMT mlctl vault bootstrap --nomad-auth jwt \\
          --vault-addr-for-nomad https://vault.service:8200
      mlctl vault bootstrap --nomad-token-stdin --nomad-addr-for-vault http://nomad.service:4646
    """
    from mlctl.access.bootstrap import NomadAccess, choose_mode
    from mlctl.access.bootstrap import bootstrap as run
    from mlctl.access.changes import summary
    from mlctl.access.roles import NomadAuth, check_namespace
    from mlctl.session import nomad_client_with_token, vault_client

    settings = state(ctx).settings()
    for namespace in namespaces:
        check_namespace(namespace)
    management = _management_token(settings, nomad_token_stdin)
    client = vault_client(settings)
    requested = None if nomad_auth == "auto" else NomadAuth(nomad_auth)
    mode, why = choose_mode(client, requested)
    note(f"Nomad logins: {mode.value} ({why})")
    nomad = nomad_client_with_token(settings, management)
    _check_management_token(nomad)
    access = trust = None
    if mode is NomadAuth.SECRETS_ENGINE:
        ca_pem = Path(settings.nomad_cacert).read_text() if settings.nomad_cacert else None
        access = NomadAccess(nomad_addr_for_vault or settings.nomad_addr, management, ca_pem)
    else:
        trust = _jwt_trust(client, vault_addr_for_nomad or settings.vault_addr, settings)
    with reporting_partial(settings.output):
        changes = run(
            client,
            nomad,
            namespaces,
            mode=mode,
            access=access,
            trust=trust,
            rotate_token=rotate_nomad_token,
        )
    report(changes, settings.output)
    note(summary(changes))


def _management_token(settings: Settings, from_stdin: bool) -> str:
    from mlctl.cli.prompts import read_stdin_secret
    from mlctl.errors import ConfigError

    if from_stdin:
        return read_stdin_secret("Nomad management token", "--nomad-token-stdin")
    if settings.nomad_token:
        return settings.nomad_token
    raise ConfigError(
        "bootstrap needs a Nomad management token",
        hint="pipe it in with --nomad-token-stdin, or set NOMAD_TOKEN",
    )


def _check_management_token(nomad: NomadClient) -> None:
    """Refuse a wrong or under-privileged token before Vault is changed, saying which."""
    from mlctl.errors import AuthError, PermissionDenied
    from mlctl.nomad.acl import token_self

    where = f"Nomad at {nomad.address}"
    hint = "give the SecretID that `nomad acl bootstrap` printed, on stdin: --nomad-token-stdin"
    try:
        record = token_self(nomad)
    except (AuthError, PermissionDenied) as error:
        raise AuthError(f"{where} does not accept the management token given", hint=hint) from error
    if record.get("Type") != "management":
        raise PermissionDenied(
            f"the token given is a {record.get('Type') or 'client'} token of {where}; "
            "bootstrap needs a management token",
            hint=hint,
        )


def _jwt_trust(client: Vault, vault_addr: str, settings: Settings) -> JwtTrust:
    """Where Nomad fetches Vault's keys, and the issuer Vault writes into tokens."""
    from mlctl.access.bootstrap import JwtTrust
    from mlctl.vault.client import normalise_address
    from mlctl.vault.identity import JWKS_PATH, discovery

    issuer = str(discovery(client).get("issuer") or "")
    ca_pem = Path(settings.vault_cacert).read_text() if settings.vault_cacert else None
    return JwtTrust(normalise_address(vault_addr) + JWKS_PATH, issuer, ca_pem)


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
    from mlctl.access.roles import MONITOR
    from mlctl.monitor.deploy import JOB_ID, approle_variable_path
    from mlctl.monitor.varstore import Variables
    from mlctl.session import nomad_client, vault_client
    from mlctl.vault import approle

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
