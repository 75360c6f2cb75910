"""The Nomad secrets engine: access/lease configuration, roles, and credentials.

hvac has no module for this engine, so calls use hvac's generic read/write on the
paths documented in Vault's ``api-docs/secret/nomad``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlctl import redact
from mlctl.vault.client import Vault
from mlctl.vault.errors import read_or_none, vault_errors

MOUNT = "nomad"


@dataclass(frozen=True)
class NomadRole:
    name: str
    policies: tuple[str, ...]
    type: str


@dataclass(frozen=True)
class NomadCreds:
    """A freshly minted Nomad ACL token and the Vault lease that owns it."""

    accessor_id: str
    secret_id: str
    lease_id: str
    lease_duration: int


def _read(vault: Vault, path: str, action: str) -> dict[str, Any] | None:
    return read_or_none(vault, f"/v1/{MOUNT}/{path}", action)


def read_access(vault: Vault) -> dict[str, Any] | None:
    """The configured Nomad address (Vault never returns the token)."""
    return _read(vault, "config/access", "read the Nomad access configuration")


def write_access(vault: Vault, *, address: str, token: str, ca_cert: str | None) -> None:
    redact.register(token)
    body = {"address": address, "token": token}
    if ca_cert:
        body["ca_cert"] = ca_cert
    with vault_errors("configure Nomad access in Vault", vault.address):
        vault.client.write_data(f"{MOUNT}/config/access", data=body)


def read_lease(vault: Vault) -> dict[str, Any] | None:
    return _read(vault, "config/lease", "read the Nomad lease configuration")


def write_lease(vault: Vault, *, ttl: int, max_ttl: int) -> None:
    with vault_errors("configure Nomad token leases in Vault", vault.address):
        vault.client.write_data(f"{MOUNT}/config/lease", data={"ttl": ttl, "max_ttl": max_ttl})


def read_role(vault: Vault, name: str) -> NomadRole | None:
    data = _read(vault, f"role/{name}", f"read Nomad role {name}")
    if data is None:
        return None
    return NomadRole(
        name=name,
        policies=tuple(data.get("policies") or ()),
        type=str(data.get("token_type") or data.get("type") or "client"),
    )


def write_role(vault: Vault, name: str, *, policies: list[str], token_type: str) -> None:
    body: dict[str, Any] = {"type": token_type}
    if token_type == "client":  # noqa: S105 - a token kind, not a secret
        body["policies"] = ",".join(policies)
    with vault_errors(f"write Nomad role {name}", vault.address):
        vault.client.write_data(f"{MOUNT}/role/{name}", data=body)


def delete_role(vault: Vault, name: str) -> None:
    with vault_errors(f"delete Nomad role {name}", vault.address):
        vault.client.delete(f"{MOUNT}/role/{name}")


def mint(vault: Vault, role: str) -> NomadCreds:
    """Read ``nomad/creds/<role>``: Vault creates a Nomad ACL token under a lease."""
    with vault_errors(f"get Nomad credentials for role {role}", vault.address):
        answer = vault.client.adapter.get(f"/v1/{MOUNT}/creds/{role}")
    creds = NomadCreds(
        accessor_id=str(answer["data"]["accessor_id"]),
        secret_id=str(answer["data"]["secret_id"]),
        lease_id=str(answer["lease_id"]),
        lease_duration=int(answer["lease_duration"]),
    )
    redact.register(creds.secret_id)
    return creds
