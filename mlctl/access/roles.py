"""mlctl's roles and the names they map to in Vault and Nomad (pure, no I/O).

Every user gets:
- Vault token policies ``mlctl-<role>`` (shared, shipped in vault-policies/) and
  ``mlctl-user-<name>`` (written at ``user add``: may read only its own credentials);
- a Nomad secrets-engine role ``mlctl-user-<name>`` whose tokens carry the Nomad ACL
  policies of the role: admin -> a management token; operator -> ``mlctl-operator``;
  viewer -> ``mlctl-viewer``; data scientist -> ``mlctl-ds-<ns>`` per namespace.
One role per user keeps ``user remove`` exact: revoking ``nomad/creds/mlctl-user-<name>``
touches nobody else's tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from mlctl.errors import InvalidInput


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    DATA_SCIENTIST = "data-scientist"
    VIEWER = "viewer"


#: The monitor loop's AppRole, Vault policy, Nomad secrets role and Nomad policy.
MONITOR = "mlctl-monitor"

#: Vault token lifetimes of people: a working day, renewable up to a day.
USER_TOKEN_TTL = "8h"  # noqa: S105 - a lifetime, not a secret
USER_TOKEN_MAX_TTL = "24h"  # noqa: S105 - a lifetime, not a secret
#: Nomad token leases: the same window, in seconds (what config/lease takes).
NOMAD_LEASE_TTL = 8 * 3600
NOMAD_LEASE_MAX_TTL = 24 * 3600
#: The monitor runs unattended and renews often; short tokens limit a leak.
MONITOR_TOKEN_TTL = "1h"  # noqa: S105 - a lifetime, not a secret
MONITOR_TOKEN_MAX_TTL = "24h"  # noqa: S105 - a lifetime, not a secret

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_DS_PREFIX = "mlctl-ds-"

#: Nomad ACL policies shipped as files: policy name -> file in vault-policies/.
NOMAD_POLICY_FILES = {
    "mlctl-operator": "nomad-operator.hcl",
    "mlctl-viewer": "nomad-viewer.hcl",
    "mlctl-monitor": "nomad-monitor.hcl",
}


def check_username(name: str) -> str:
    if not _USERNAME.match(name):
        raise InvalidInput(
            f"user name {name!r} is not valid",
            hint="use 1-63 lowercase letters, digits, '-' or '_', starting with a letter/digit",
        )
    return name


def check_namespace(namespace: str) -> str:
    if not _NAMESPACE.match(namespace):
        raise InvalidInput(
            f"namespace {namespace!r} is not valid",
            hint="use 1-63 lowercase letters, digits or '-', starting with a letter/digit",
        )
    return namespace


def check_grant(role: Role, namespaces: Iterable[str]) -> tuple[str, ...]:
    """Validated, de-duplicated namespaces for ``role`` (only data scientists have some)."""
    unique = tuple(dict.fromkeys(check_namespace(ns) for ns in namespaces))
    if role is Role.DATA_SCIENTIST and not unique:
        raise InvalidInput(
            "a data scientist needs at least one namespace", hint="add --namespace NS"
        )
    if role is not Role.DATA_SCIENTIST and unique:
        raise InvalidInput(
            f"--namespace applies to data scientists only; a {role} works in every namespace"
        )
    return unique


def role_policy(role: Role) -> str:
    return f"mlctl-{role.value}"


def user_policy(name: str) -> str:
    return f"mlctl-user-{name}"


def nomad_role(name: str) -> str:
    return f"mlctl-user-{name}"


def ds_policy(namespace: str) -> str:
    return f"{_DS_PREFIX}{namespace}"


def vault_policies(role: Role, name: str) -> list[str]:
    return [role_policy(role), user_policy(name)]


def nomad_grant(role: Role, namespaces: Iterable[str]) -> tuple[str, list[str]]:
    """(token type, Nomad ACL policies) of the user's Nomad secrets-engine role."""
    if role is Role.ADMIN:
        return "management", []
    if role is Role.OPERATOR:
        return "client", ["mlctl-operator"]
    if role is Role.VIEWER:
        return "client", ["mlctl-viewer"]
    return "client", [ds_policy(ns) for ns in namespaces]


def role_from_policies(policies: Iterable[str]) -> Role | None:
    """The role a set of Vault policies names (the first ``mlctl-<role>`` found)."""
    names = set(policies)
    for role in Role:
        if role_policy(role) in names:
            return role
    return None


def namespaces_of(nomad_policies: Iterable[str]) -> list[str]:
    """Namespaces granted by ``mlctl-ds-<ns>`` Nomad policies."""
    return sorted(p[len(_DS_PREFIX) :] for p in nomad_policies if p.startswith(_DS_PREFIX))
