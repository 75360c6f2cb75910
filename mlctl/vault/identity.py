"""identity/oidc: signing keys, token roles, and signed identity tokens (Vault and OpenBao).

An identity token is a JWT Vault signs for the entity behind a Vault token: its claims
come from the role's template, its ``aud`` is the role's ``client_id`` and its keys are
published, unauthenticated, at ``/v1/identity/oidc/.well-known/keys``. Nomad's JWT
auth method verifies it there; so can any other service (a model server, issue 15).
Paths and fields follow hashicorp/vault ``api-docs/secret/identity/tokens.mdx``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlctl import redact
from mlctl.errors import InvalidInput, NotFound
from mlctl.vault.client import Vault
from mlctl.vault.errors import read_or_none, vault_errors

BASE = "identity/oidc"
JWKS_PATH = f"/v1/{BASE}/.well-known/keys"
DISCOVERY_PATH = f"/v1/{BASE}/.well-known/openid-configuration"


@dataclass(frozen=True)
class SigningKey:
    name: str
    algorithm: str
    allowed_client_ids: tuple[str, ...]
    verification_ttl: int


@dataclass(frozen=True)
class TokenRole:
    """A role: which key signs, for which audience, with which claims, for how long."""

    name: str
    key: str
    client_id: str
    claims: dict[str, Any]
    ttl: int


@dataclass(frozen=True)
class IdentityToken:
    token: str
    client_id: str
    ttl: int


def _read(vault: Vault, path: str, action: str) -> dict[str, Any] | None:
    return read_or_none(vault, f"/v1/{BASE}/{path}", action)


def read_key(vault: Vault, name: str) -> SigningKey | None:
    data = _read(vault, f"key/{name}", f"read identity key {name}")
    if data is None:
        return None
    return SigningKey(
        name=name,
        algorithm=str(data.get("algorithm") or "RS256"),
        allowed_client_ids=tuple(data.get("allowed_client_ids") or ()),
        verification_ttl=int(data.get("verification_ttl") or 0),
    )


def write_key(
    vault: Vault,
    name: str,
    *,
    allowed_client_ids: list[str],
    rotation_period: str,
    verification_ttl: str,
    algorithm: str = "RS256",
) -> None:
    body = {
        "allowed_client_ids": allowed_client_ids,
        "rotation_period": rotation_period,
        "verification_ttl": verification_ttl,
        "algorithm": algorithm,
    }
    with vault_errors(f"write identity key {name}", vault.address):
        vault.client.write_data(f"{BASE}/key/{name}", data=body)


def read_role(vault: Vault, name: str) -> TokenRole | None:
    data = _read(vault, f"role/{name}", f"read identity token role {name}")
    if data is None:
        return None
    template = str(data.get("template") or "")
    try:
        claims = json.loads(template) if template else {}
    except ValueError:
        claims = {}  # a template with placeholders written by someone else: no claims view
    return TokenRole(
        name=name,
        key=str(data.get("key") or ""),
        client_id=str(data.get("client_id") or ""),
        claims=claims if isinstance(claims, dict) else {},
        ttl=int(data.get("ttl") or 0),
    )


def write_role(
    vault: Vault, name: str, *, key: str, client_id: str, claims: dict[str, Any], ttl: str
) -> None:
    """Create or update a token role whose template is exactly ``claims`` (static JSON)."""
    body = {
        "key": key,
        "client_id": client_id,
        "template": json.dumps(claims, sort_keys=True),
        "ttl": ttl,
    }
    with vault_errors(f"write identity token role {name}", vault.address):
        vault.client.write_data(f"{BASE}/role/{name}", data=body)


def list_roles(vault: Vault) -> list[str]:
    """Names of every identity token role (an empty LIST is a 404 in Vault)."""
    try:
        with vault_errors("list identity token roles", vault.address):
            answer = vault.client.adapter.list(f"/v1/{BASE}/role")
    except NotFound:
        return []
    return sorted(str(k) for k in answer["data"]["keys"])


def delete_role(vault: Vault, name: str) -> None:
    with vault_errors(f"delete identity token role {name}", vault.address):
        vault.client.delete(f"{BASE}/role/{name}")


def issue_token(vault: Vault, role: str) -> IdentityToken:
    """``identity/oidc/token/<role>``: a JWT for the entity of the calling token."""
    action = f"get an identity token for role {role}"
    try:
        with vault_errors(action, vault.address):
            answer = vault.client.adapter.get(f"/v1/{BASE}/token/{role}")
    except InvalidInput as exc:
        # Vault answers 400 for a missing role and for a token without an entity.
        raise InvalidInput(exc.message, hint="ask an mlctl admin to run: mlctl user add") from None
    data = answer["data"]
    token = IdentityToken(
        token=str(data["token"]), client_id=str(data["client_id"]), ttl=int(data["ttl"])
    )
    redact.register(token.token)
    return token


def discovery(vault: Vault) -> dict[str, Any]:
    """The OpenID configuration: ``issuer`` (the ``iss`` claim) and ``jwks_uri``."""
    with vault_errors("read Vault's identity token configuration", vault.address):
        answer: dict[str, Any] = vault.client.adapter.get(DISCOVERY_PATH)
    return answer
