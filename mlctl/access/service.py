"""Machine logins: an AppRole (the monitor's) gets a Nomad token, in either mode.

The service logs in to Vault with its role-id and secret-id, then takes the Nomad path
its policy opens, exactly like a person's login (:func:`mlctl.access.login.login_path`):
``nomad/creds/<role>`` under a lease, or the identity token of ``<role>`` exchanged at
Nomad's ``/v1/acl/login``. AppRole logins have identity entities, so the same token
roles serve applications (issue 15's model callers) as well as people.

The monitor also has a model token of its own (:func:`service_model_token`): the
identity token of ``mlctl-call-service-mlctl-monitor``, which lets it read every model
server's ``/metrics`` and call no model.
"""

from __future__ import annotations

from mlctl.access.callers import monitor_grants
from mlctl.access.login import login_path
from mlctl.access.roles import AUTH_METHOD, MONITOR, NomadAuth
from mlctl.errors import InvalidInput, MlctlError, PermissionDenied
from mlctl.nomad import acl_auth
from mlctl.nomad.client import connect as nomad_connect
from mlctl.settings import Settings
from mlctl.vault import approle, identity, nomad_engine, tokens
from mlctl.vault.client import connect


def service_nomad_token(
    settings: Settings, role_id: str, secret_id: str, role: str = MONITOR
) -> str:
    """A fresh Nomad token for the AppRole ``role`` (the monitor's by default)."""
    auth = approle.login(connect(settings), role_id, secret_id)
    vault = connect(settings, str(auth["client_token"]))
    try:
        mode = login_path(vault, role, token_role=role)
        if mode is NomadAuth.SECRETS_ENGINE:
            # The token lives under a lease of this Vault token: keep the Vault token.
            return nomad_engine.mint(vault, role).secret_id
        issued = identity.issue_token(vault, role)
        got = acl_auth.login(nomad_connect(settings, token=None), AUTH_METHOD, issued.token)
    except MlctlError:
        tokens.revoke_self(vault)
        raise
    tokens.revoke_self(vault)  # a JWT login's Nomad token does not depend on Vault's
    return got.secret_id


def service_model_token(settings: Settings, role_id: str, secret_id: str) -> str:
    """A fresh model token of the monitor (its AppRole): may read every ``/metrics``.

    The Vault login exists only to read it: it is revoked at once (the JWT does not
    depend on it), so nothing lingers between two refreshes.
    """
    auth = approle.login(connect(settings), role_id, secret_id)
    vault = connect(settings, str(auth["client_token"]))
    role = monitor_grants().role
    try:
        return identity.issue_token(vault, role).token
    except (InvalidInput, PermissionDenied) as exc:
        # A cluster bootstrapped before the monitor had a metrics identity.
        raise PermissionDenied(
            f"Vault gives the monitor no model token ({role}: {exc.message})",
            hint="run mlctl vault bootstrap again: it adds the monitor's metrics grant",
        ) from None
    finally:
        tokens.revoke_self(vault)
