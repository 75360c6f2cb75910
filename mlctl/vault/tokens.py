"""auth/token: a token's view of itself (lookup, renew, revoke)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlctl.vault.client import Vault
from mlctl.vault.errors import vault_errors


@dataclass(frozen=True)
class TokenInfo:
    """lookup-self, without the token itself."""

    display_name: str
    policies: tuple[str, ...]
    ttl: int
    renewable: bool
    path: str
    meta: dict[str, str]


def lookup_self(vault: Vault) -> TokenInfo:
    with vault_errors("look up the Vault token", vault.address):
        data: dict[str, Any] = vault.client.auth.token.lookup_self()["data"]
    return TokenInfo(
        display_name=str(data.get("display_name") or ""),
        policies=tuple(data.get("policies") or ()),
        ttl=int(data.get("ttl") or 0),
        renewable=bool(data.get("renewable")),
        path=str(data.get("path") or ""),
        meta={str(k): str(v) for k, v in (data.get("meta") or {}).items()},
    )


def renew_self(vault: Vault) -> int:
    """Renew the token; returns its new TTL in seconds."""
    with vault_errors("renew the Vault token", vault.address):
        answer = vault.client.auth.token.renew_self()
    return int(answer["auth"]["lease_duration"])


def revoke_self(vault: Vault) -> None:
    """Revoke the token and, with it, every lease it holds (its Nomad token too)."""
    with vault_errors("revoke the Vault token", vault.address):
        vault.client.auth.token.revoke_self()
