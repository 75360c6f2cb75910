"""auth/approle: machine identities (role, role-id, secret-id, login): the monitor loop's,
and the applications that call models (``mlctl access app``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlctl import redact
from mlctl.errors import NotFound
from mlctl.vault.client import Vault
from mlctl.vault.errors import vault_errors

MOUNT = "approle"


@dataclass(frozen=True)
class AppRole:
    name: str
    policies: tuple[str, ...]
    token_ttl: int
    token_max_ttl: int


def read_role(vault: Vault, name: str) -> AppRole | None:
    try:
        with vault_errors(f"read AppRole {name}", vault.address):
            answer = vault.client.auth.approle.read_role(name, mount_point=MOUNT)
    except NotFound:
        return None
    data = answer["data"]
    return AppRole(
        name=name,
        policies=tuple(data.get("token_policies") or data.get("policies") or ()),
        token_ttl=int(data.get("token_ttl") or 0),
        token_max_ttl=int(data.get("token_max_ttl") or 0),
    )


def write_role(
    vault: Vault, name: str, *, policies: list[str], token_ttl: str, token_max_ttl: str
) -> None:
    with vault_errors(f"write AppRole {name}", vault.address):
        vault.client.auth.approle.create_or_update_approle(
            name,
            token_policies=policies,
            token_ttl=token_ttl,
            token_max_ttl=token_max_ttl,
            token_type="service",  # noqa: S106 - a token kind, not a secret
            mount_point=MOUNT,
        )


def role_id(vault: Vault, name: str) -> str:
    with vault_errors(f"read the role-id of AppRole {name}", vault.address):
        answer = vault.client.auth.approle.read_role_id(name, mount_point=MOUNT)
    return str(answer["data"]["role_id"])


def new_secret_id(vault: Vault, name: str) -> str:
    with vault_errors(f"create a secret-id for AppRole {name}", vault.address):
        answer = vault.client.auth.approle.generate_secret_id(name, mount_point=MOUNT)
    secret = str(answer["data"]["secret_id"])
    redact.register(secret)
    return secret


@dataclass(frozen=True)
class WrappedSecret:
    """A secret-id inside a single-use wrapping token (``sys/wrapping/unwrap`` opens it)."""

    token: str
    accessor: str
    ttl: int


def wrapped_secret_id(vault: Vault, name: str, wrap_ttl: str) -> WrappedSecret:
    """A new secret-id that mlctl never sees: Vault answers with a wrapping token only."""
    with vault_errors(f"create a wrapped secret-id for AppRole {name}", vault.address):
        answer = vault.client.auth.approle.generate_secret_id(
            name, mount_point=MOUNT, wrap_ttl=wrap_ttl
        )
    info = answer.get("wrap_info") if isinstance(answer, dict) else None
    if not info or not info.get("token"):
        from mlctl.errors import Unreachable

        raise Unreachable(
            f"Vault at {vault.address} did not wrap the secret-id of AppRole {name}",
            hint="response wrapping is a Vault/OpenBao feature; check the server",
        )
    return WrappedSecret(str(info["token"]), str(info.get("accessor") or ""), int(info["ttl"]))


def delete_role(vault: Vault, name: str) -> None:
    """Delete the role: its secret-ids stop working at once."""
    with vault_errors(f"delete AppRole {name}", vault.address):
        vault.client.auth.approle.delete_role(name, mount_point=MOUNT)


def list_roles(vault: Vault) -> list[str]:
    try:
        with vault_errors("list AppRoles", vault.address):
            answer = vault.client.auth.approle.list_roles(mount_point=MOUNT)
    except NotFound:  # no role yet: Vault answers 404 to an empty LIST
        return []
    return sorted(str(k) for k in answer["data"]["keys"])


def login(vault: Vault, role: str, secret: str) -> dict[str, Any]:
    redact.register(secret)
    with vault_errors("log in with AppRole", vault.address):
        answer = vault.client.auth.approle.login(role, secret, mount_point=MOUNT)
    auth: dict[str, Any] = answer["auth"]
    redact.register(auth.get("client_token"))
    return auth
