"""``mlctl vault bootstrap``: everything mlctl needs in Vault and Nomad, idempotently.

Each step reads first and writes only what differs, so a second run reports every
resource as "unchanged". The one thing Vault cannot show back is the Nomad token in
``nomad/config/access``; it is written when the access configuration is missing, when
the Nomad address changed, or when asked (``rotate_token``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mlctl.access.changes import Change
from mlctl.access.policy_files import (
    data_scientist_nomad_policy,
    description_of,
    nomad_role_policies,
    vault_role_policies,
)
from mlctl.access.roles import (
    MONITOR,
    MONITOR_TOKEN_MAX_TTL,
    MONITOR_TOKEN_TTL,
    NOMAD_LEASE_MAX_TTL,
    NOMAD_LEASE_TTL,
    check_namespace,
    ds_policy,
)
from mlctl.nomad.acl import ensure_namespace, ensure_policy
from mlctl.nomad.client import NomadClient
from mlctl.vault import approle, auth_methods, mounts, nomad_engine, policies
from mlctl.vault.client import Vault


@dataclass(frozen=True)
class NomadAccess:
    """How Vault reaches Nomad: address, management token, optional CA (PEM text)."""

    address: str
    token: str
    ca_cert: str | None = None


def _auth_methods(vault: Vault) -> list[Change]:
    enabled = auth_methods.enabled_auth_methods(vault)
    changes = []
    for kind, description in (
        ("userpass", "mlctl users (people)"),
        ("approle", "mlctl services (the monitor loop)"),
    ):
        if enabled.get(kind) == kind:
            changes.append(Change("vault", "auth method", f"auth/{kind}", "unchanged"))
            continue
        auth_methods.enable_auth_method(vault, kind, kind, description)
        changes.append(Change("vault", "auth method", f"auth/{kind}", "created"))
    return changes


def _nomad_engine(vault: Vault, access: NomadAccess, rotate_token: bool) -> list[Change]:
    changes = []
    if mounts.mounted_engines(vault).get("nomad") == "nomad":
        changes.append(Change("vault", "secrets engine", "nomad/", "unchanged"))
    else:
        mounts.mount_engine(vault, "nomad", "nomad", "Nomad ACL tokens for mlctl users")
        changes.append(Change("vault", "secrets engine", "nomad/", "created"))
    current = nomad_engine.read_access(vault)
    same_address = current is not None and str(current.get("address", "")).rstrip(
        "/"
    ) == access.address.rstrip("/")
    if same_address and not rotate_token:
        changes.append(Change("vault", "nomad access", "nomad/config/access", "unchanged"))
    else:
        nomad_engine.write_access(
            vault, address=access.address, token=access.token, ca_cert=access.ca_cert
        )
        action = "created" if current is None else "updated"
        changes.append(Change("vault", "nomad access", "nomad/config/access", action))
    lease = nomad_engine.read_lease(vault)
    wanted = {"ttl": NOMAD_LEASE_TTL, "max_ttl": NOMAD_LEASE_MAX_TTL}
    if lease is not None and {k: int(lease.get(k) or 0) for k in wanted} == wanted:
        changes.append(Change("vault", "nomad lease", "nomad/config/lease", "unchanged"))
    else:
        nomad_engine.write_lease(vault, ttl=NOMAD_LEASE_TTL, max_ttl=NOMAD_LEASE_MAX_TTL)
        action = "created" if lease is None else "updated"
        changes.append(Change("vault", "nomad lease", "nomad/config/lease", action))
    return changes


def ensure_vault_policy(vault: Vault, name: str, text: str) -> Change:
    current = policies.read_policy(vault, name)
    if current is not None and current.strip() == text.strip():
        return Change("vault", "policy", name, "unchanged")
    policies.write_policy(vault, name, text)
    return Change("vault", "policy", name, "created" if current is None else "updated")


def ensure_nomad_role(vault: Vault, name: str, token_type: str, wanted: list[str]) -> Change:
    current = nomad_engine.read_role(vault, name)
    if (
        current is not None
        and current.type == token_type
        and sorted(current.policies) == sorted(wanted)
    ):
        return Change("vault", "nomad role", f"nomad/role/{name}", "unchanged")
    nomad_engine.write_role(vault, name, policies=wanted, token_type=token_type)
    action = "created" if current is None else "updated"
    return Change("vault", "nomad role", f"nomad/role/{name}", action)


def ensure_namespace_grant(nomad: NomadClient, namespace: str) -> list[Change]:
    """The namespace and its data-scientist Nomad policy."""
    check_namespace(namespace)
    action = ensure_namespace(nomad, namespace, "created by mlctl")
    changes = [Change("nomad", "namespace", namespace, action)]
    rules = data_scientist_nomad_policy(namespace)
    action = ensure_policy(nomad, ds_policy(namespace), description_of(rules), rules)
    changes.append(Change("nomad", "acl policy", ds_policy(namespace), action))
    return changes


def _monitor_approle(vault: Vault) -> Change:
    current = approle.read_role(vault, MONITOR)
    if current is not None and list(current.policies) == [MONITOR]:
        return Change("vault", "approle", f"auth/approle/role/{MONITOR}", "unchanged")
    approle.write_role(
        vault,
        MONITOR,
        policies=[MONITOR],
        token_ttl=MONITOR_TOKEN_TTL,
        token_max_ttl=MONITOR_TOKEN_MAX_TTL,
    )
    action = "created" if current is None else "updated"
    return Change("vault", "approle", f"auth/approle/role/{MONITOR}", action)


def bootstrap(
    vault: Vault,
    nomad: NomadClient,
    access: NomadAccess,
    namespaces: Iterable[str] = (),
    *,
    rotate_token: bool = False,
) -> list[Change]:
    """Set up Vault and Nomad for mlctl; returns what changed and what was in place."""
    wanted_namespaces = [check_namespace(ns) for ns in namespaces]
    changes = _auth_methods(vault)
    changes += _nomad_engine(vault, access, rotate_token)
    for name, text in vault_role_policies().items():
        changes.append(ensure_vault_policy(vault, name, text))
    for name, rules in nomad_role_policies().items():
        action = ensure_policy(nomad, name, description_of(rules), rules)
        changes.append(Change("nomad", "acl policy", name, action))
    for namespace in wanted_namespaces:
        changes += ensure_namespace_grant(nomad, namespace)
    changes.append(ensure_nomad_role(vault, MONITOR, "client", [MONITOR]))
    changes.append(_monitor_approle(vault))
    return changes
