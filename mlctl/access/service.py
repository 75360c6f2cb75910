"""Machine logins: an AppRole (the monitor's) gets a Nomad token, in either mode.

The service logs in to Vault with its role-id and secret-id, then takes the Nomad path
its policy opens, exactly like a person's login (:func:`mlctl.access.login.login_path`):
``nomad/creds/<role>`` under a lease, or the identity token of ``<role>`` exchanged at
Nomad's ``/v1/acl/login``. AppRole logins have identity entities, so the same token
roles serve applications (issue 15's model callers) as well as people.
"""

from __future__ import annotations

from mlctl.access.login import login_path
from mlctl.access.roles import AUTH_METHOD, MONITOR, NomadAuth
from mlctl.errors import MlctlError
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
