"""mlctl's roles and the names they map to in Vault and Nomad (pure, no I/O).

Every user gets:
- Vault token policies ``mlctl-<role>`` (shared, shipped in vault-policies/) and
  ``mlctl-user-<name>`` (written at ``user add``: may read only its own credentials);
- a Nomad secrets-engine role ``mlctl-user-<name>`` whose tokens carry the Nomad ACL
  policies of the role: admin -> a management token; operator -> ``mlctl-operator``;
  viewer -> ``mlctl-viewer``; data scientist -> ``mlctl-ds-<ns>`` per namespace.
One role per user keeps ``user remove`` exact: revoking ``nomad/creds/mlctl-user-<name>``
touches nobody else's tokens.

In JWT mode (Vault or OpenBao, no Nomad secrets engine) the per-user role is an identity
token role ``identity/oidc/role/mlctl-user-<name>`` instead: its claims carry the user's
name, mlctl role and namespaces, and Nomad's binding rules turn those claims into the
same Nomad policies (admin -> management; operator/viewer/monitor -> the Nomad ACL role
of that name; data scientist -> ``mlctl-ds-<ns>`` for each namespace in the claim).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

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


class NomadAuth(StrEnum):
    """How users get Nomad tokens: Vault's Nomad secrets engine, or identity tokens (JWT)."""

    SECRETS_ENGINE = "secrets-engine"
    JWT = "jwt"


#: The identity-token side (JWT mode): Vault's signing key, Nomad's auth method.
OIDC_KEY = "mlctl"
NOMAD_AUDIENCE = "mlctl-nomad"  # the ``aud`` of identity tokens meant for Nomad
AUTH_METHOD = "mlctl-vault"
#: An identity token is exchanged at once; a short life limits a leaked one.
IDENTITY_TOKEN_TTL = "5m"  # noqa: S105 - a lifetime, not a secret
KEY_ROTATION = "24h"
KEY_VERIFICATION_TTL = "24h"
#: Nomad tokens from a JWT login live as long as a Nomad lease would (8h).
NOMAD_LOGIN_TTL = "8h"
MONITOR_ROLE_CLAIM = "monitor"
#: Nomad ACL roles of the shared mlctl roles (same names as their policies).
NOMAD_ACL_ROLES = {"mlctl-operator": "operator", "mlctl-viewer": "viewer", MONITOR: "monitor"}


def login_token_name(username: str) -> str:
    """The name Nomad gives a JWT login's token (the auth method's TokenNameFormat)."""
    return f"mlctl-{username}"


def identity_claims(role: Role | str, username: str, namespaces: Iterable[str]) -> dict[str, Any]:
    """The claims of a user's identity token: who, which mlctl role, which namespaces."""
    return {
        "username": username,
        "role": str(role),
        "namespaces": sorted(set(namespaces)),
    }


def role_from_claims(claims: dict[str, Any]) -> Role | None:
    value = claims.get("role")
    return next((role for role in Role if role.value == value), None)


def namespace_selector(namespace: str) -> str:
    """The binding-rule selector granting ``mlctl-ds-<ns>`` to data scientists of ``ns``."""
    check_namespace(namespace)
    return f'value.role == "{Role.DATA_SCIENTIST.value}" and "{namespace}" in list.namespaces'


def shared_binding_rules() -> list[tuple[str, str, str, str]]:
    """(description, selector, bind type, bind name) of the rules every install has."""
    return [
        ("mlctl: admins get management tokens", f'value.role == "{Role.ADMIN}"', "management", ""),
        *[
            (f"mlctl: {claim} role", f'value.role == "{claim}"', "role", name)
            for name, claim in NOMAD_ACL_ROLES.items()
        ],
    ]
