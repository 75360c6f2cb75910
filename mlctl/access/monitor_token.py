"""The monitor job's Nomad token where there is no Vault (``mlctl local``, a bare cluster).

With Vault, the deployed monitor logs in with its AppRole and mints short-lived Nomad
tokens (``mlctl vault monitor-credentials``). Without Vault nothing can mint for it, so
``mlctl monitor deploy`` creates one Nomad client token bound to the same least-privilege
policy (``mlctl-monitor``, from ``vault-policies/nomad-monitor.hcl``) with the
operator's management token, and writes it into the job's own Variable
``nomad/jobs/mlctl-monitor``, which only the job's tasks may read. A token still valid
there is kept, so deploying again neither restarts the monitor nor leaves tokens behind;
other tokens of its name (``mlctl-monitor@<namespace>``) are deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlctl.access.policy_files import description_of, nomad_role_policies
from mlctl.access.roles import MONITOR
from mlctl.errors import AuthError, InvalidInput, NotFound, PermissionDenied
from mlctl.nomad import acl
from mlctl.nomad.acl_auth import delete_token, tokens_named
from mlctl.nomad.client import NomadClient

#: The Variable key the job's template reads (see mlctl.monitor.deploy).
TOKEN_KEY = "nomad_token"  # noqa: S105 - the name of a key


def token_name(namespace: str) -> str:
    """One monitor token per namespace it is deployed in."""
    return f"{MONITOR}@{namespace}"


@dataclass(frozen=True)
class MonitorTokenResult:
    variable: str
    namespace: str
    policy: str | None
    """None when the cluster runs without ACLs (no token needed, an empty one is stored)."""
    created: bool
    deleted_stale: int


def _still_valid(connect: Callable[[str], NomadClient], secret: str) -> str | None:
    """The accessor of ``secret`` when Nomad still knows it with the monitor policy."""
    try:
        record = acl.token_self(connect(secret))
    except (AuthError, PermissionDenied, NotFound):
        return None
    if MONITOR not in (record.get("Policies") or []):
        return None
    return str(record["AccessorID"])


def ensure_monitor_token(
    nomad: NomadClient,
    connect: Callable[[str], NomadClient],
    variable: str,
    namespace: str,
) -> MonitorTokenResult:
    """Make sure Variable ``variable`` holds a valid monitor token; needs a management token."""
    rules = nomad_role_policies()[MONITOR]
    try:
        acl.ensure_policy(nomad, MONITOR, description_of(rules), rules)
    except InvalidInput as error:
        if "ACL support disabled" not in str(error):
            raise
        # `nomad agent -dev` and other clusters without ACLs: any request may do anything.
        nomad.variables.write(variable, {TOKEN_KEY: ""}, namespace=namespace)
        return MonitorTokenResult(variable, namespace, None, False, 0)
    current = nomad.variables.read(variable, namespace=namespace)
    secret = ((current or {}).get("Items") or {}).get(TOKEN_KEY)
    accessor = _still_valid(connect, secret) if secret else None
    created = accessor is None
    if accessor is None:
        accessor, secret = acl.create_client_token(nomad, token_name(namespace), [MONITOR])
        nomad.variables.write(variable, {TOKEN_KEY: secret}, namespace=namespace)
    stale = [a for a in tokens_named(nomad, token_name(namespace)) if a != accessor]
    for old in stale:
        delete_token(nomad, old)
    return MonitorTokenResult(variable, namespace, MONITOR, created, len(stale))
