"""auth/userpass: users (create, read, list, delete, password) and login.

Passwords travel only in request bodies; they are registered with mlctl.redact the
moment mlctl holds them, so no error or output can echo them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlctl import redact
from mlctl.errors import AuthError, InvalidInput, NotFound
from mlctl.vault.client import Vault
from mlctl.vault.errors import vault_errors

MOUNT = "userpass"


@dataclass(frozen=True)
class UserRecord:
    """What Vault keeps about a user (never the password)."""

    name: str
    policies: tuple[str, ...]
    token_ttl: int
    token_max_ttl: int


def write_user(
    vault: Vault,
    name: str,
    *,
    policies: list[str],
    password: str | None,
    token_ttl: str,
    token_max_ttl: str,
) -> None:
    """Create or update a user; ``password=None`` keeps the existing password."""
    redact.register(password)
    body: dict[str, Any] = {
        "token_policies": policies,
        "token_ttl": token_ttl,
        "token_max_ttl": token_max_ttl,
        "token_no_default_policy": True,
    }
    if password is not None:
        body["password"] = password
    with vault_errors(f"write user {name}", vault.address):
        vault.client.write_data(f"auth/{MOUNT}/users/{name}", data=body)


def read_user(vault: Vault, name: str) -> UserRecord | None:
    try:
        with vault_errors(f"read user {name}", vault.address):
            answer = vault.client.auth.userpass.read_user(name, mount_point=MOUNT)
    except NotFound:
        return None
    data = answer["data"]
    return UserRecord(
        name=name,
        policies=tuple(data.get("token_policies") or data.get("policies") or ()),
        token_ttl=int(data.get("token_ttl") or 0),
        token_max_ttl=int(data.get("token_max_ttl") or 0),
    )


def list_users(vault: Vault) -> list[str]:
    try:
        with vault_errors("list users", vault.address):
            answer = vault.client.auth.userpass.list_user(mount_point=MOUNT)
    except NotFound:
        return []  # Vault answers 404 to an empty list
    return sorted(str(k) for k in answer["data"]["keys"])


def delete_user(vault: Vault, name: str) -> None:
    with vault_errors(f"delete user {name}", vault.address):
        vault.client.auth.userpass.delete_user(name, mount_point=MOUNT)


def set_password(vault: Vault, name: str, password: str) -> None:
    redact.register(password)
    with vault_errors(f"change the password of {name}", vault.address):
        vault.client.auth.userpass.update_password_on_user(name, password, mount_point=MOUNT)


def login(vault: Vault, name: str, password: str) -> dict[str, Any]:
    """The ``auth`` block of a successful login.

    Vault answers a wrong password and an unknown user alike; so does mlctl, so the
    message never says which it was.
    """
    redact.register(password)
    try:
        with vault_errors("log in", vault.address):
            answer = vault.client.auth.userpass.login(name, password, mount_point=MOUNT)
    except InvalidInput:
        raise AuthError(
            "login failed: invalid username or password", hint="check both and try again"
        ) from None
    auth: dict[str, Any] = answer["auth"]
    redact.register(auth.get("client_token"))
    return auth
