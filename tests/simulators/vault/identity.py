"""identity/oidc: named keys, roles, signed identity tokens and their public keys.

Follows hashicorp/vault ``api-docs/secret/identity/tokens.mdx`` and OpenBao's answers:
a key signs (RS256 by default) for the client IDs it allows; a role names a key, a
claims template (JSON, or base64 of JSON), a ``client_id`` (the ``aud`` claim; random
unless given) and a TTL no longer than the key's ``verification_ttl``; reading
``identity/oidc/token/<role>`` needs a token with an entity and returns a JWT whose
``iss`` is ``<issuer or this server>/v1/identity/oidc``, ``sub`` the entity ID.
``.well-known/keys`` and ``.well-known/openid-configuration`` need no token.

Templates are rendered from static JSON plus ``{{identity.entity.id}}`` and
``{{identity.entity.name}}``; entity metadata, groups and aliases are not simulated.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.simulators.vault import fields
from tests.simulators.vault.routing import Reply, Request, Route, envelope, keys_reply
from tests.simulators.vault.state import Core, VaultFailure

DAY = 24 * 3600
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA")
SUPPORTED_HERE = ("RS256", "RS384", "RS512")
RESTRICTED = (
    "iat",
    "aud",
    "exp",
    "iss",
    "sub",
    "namespace",
    "nonce",
    "auth_time",
    "at_hash",
    "c_hash",
)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.]+)\s*\}\}")


@dataclass
class NamedKey:
    algorithm: str = "RS256"
    rotation_period: int = DAY
    verification_ttl: int = DAY
    allowed_client_ids: list[str] = field(default_factory=list)
    _material: RSAKey | None = None

    @property
    def material(self) -> RSAKey:
        """The signing key, generated on first use (keeps simulator start-up fast)."""
        if self._material is None:
            self._material = RSAKey.generate_key(
                2048, parameters={"kid": str(uuid.uuid4()), "use": "sig", "alg": self.algorithm}
            )
        return self._material

    def rotate(self) -> None:
        self._material = None

    def public(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "allowed_client_ids": self.allowed_client_ids,
            "rotation_period": self.rotation_period,
            "verification_ttl": self.verification_ttl,
        }


@dataclass
class OidcRole:
    key: str
    template: str
    client_id: str
    ttl: int

    def public(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "key": self.key,
            "template": self.template,
            "ttl": self.ttl,
        }


def _template_text(raw: Any) -> str:
    """The template as JSON text; base64-encoded templates are decoded first."""
    if raw in (None, ""):
        return ""
    text = str(raw)
    if not text.lstrip().startswith("{"):
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            text = base64.b64decode(text, validate=True).decode()
    return text


def _check_template(text: str) -> None:
    if not text:
        return
    probe = _PLACEHOLDER.sub('"x"', text)
    try:
        parsed = json.loads(probe)
    except ValueError as exc:
        raise VaultFailure(400, f"error parsing template JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise VaultFailure(
            400,
            "error parsing template JSON: json: cannot unmarshal "
            f"{type(parsed).__name__} into Go value of type map[string]interface {{}}",
        )
    for key in parsed:
        if key in RESTRICTED:
            raise VaultFailure(
                400,
                f'top level key "{key}" not allowed. Restricted keys: {", ".join(RESTRICTED)}',
            )


class IdentityBackend:
    """The always-mounted ``identity/`` engine, OIDC part."""

    def __init__(self, core: Core, address: Callable[[], str]) -> None:
        self.core = core
        self.address = address
        self.issuer = ""
        self.keys: dict[str, NamedKey] = {"default": NamedKey(allowed_client_ids=["*"])}
        self.roles: dict[str, OidcRole] = {}
        base = "identity/oidc"
        self.routes = [
            Route(f"{base}/config", {"read": self.read_config, "write": self.write_config}),
            Route(f"{base}/key/?", {"list": lambda r, m: keys_reply(list(self.keys))}),
            Route(f"{base}/key/(?P<name>[^/]+)/rotate", {"write": self.rotate}),
            Route(
                f"{base}/key/(?P<name>[^/]+)",
                {"read": self.read_key, "write": self.write_key, "delete": self.delete_key},
                exists=lambda m: m["name"] in self.keys,
            ),
            Route(f"{base}/role/?", {"list": lambda r, m: keys_reply(list(self.roles))}),
            Route(
                f"{base}/role/(?P<name>[^/]+)",
                {"read": self.read_role, "write": self.write_role, "delete": self.delete_role},
                exists=lambda m: m["name"] in self.roles,
            ),
            Route(f"{base}/token/(?P<name>[^/]+)", {"read": self.token}),
            Route(f"{base}/\\.well-known/keys", {"read": self.jwks}, unauthenticated=True),
            Route(
                f"{base}/\\.well-known/openid-configuration",
                {"read": self.discovery},
                unauthenticated=True,
            ),
        ]

    # -- config ---------------------------------------------------------------------------
    def issuer_url(self) -> str:
        return (self.issuer or self.address()).rstrip("/") + "/v1/identity/oidc"

    def read_config(self, request: Request, _: re.Match[str]) -> Reply:
        return envelope({"issuer": self.issuer})

    def write_config(self, request: Request, _: re.Match[str]) -> Reply:
        self.issuer = str(request.body.get("issuer") or "")
        if not self.issuer:
            return Reply(204)
        reply = envelope(None)
        assert reply.body is not None
        reply.body["warnings"] = [
            'If "issuer" is set explicitly, all tokens must be validated against that address, '
            'including those issued by secondary clusters. Setting issuer to "" will restore '
            "the default behavior of using the cluster's api_addr as the issuer."
        ]
        return reply

    # -- keys -----------------------------------------------------------------------------
    def read_key(self, request: Request, match: re.Match[str]) -> Reply:
        key = self.keys.get(match["name"])
        if key is None:
            raise VaultFailure(404)
        return envelope(key.public())

    def write_key(self, request: Request, match: re.Match[str]) -> Reply:
        body = request.body
        key = self.keys.get(match["name"]) or NamedKey()
        rotation = fields.duration(body, "rotation_period", key.rotation_period)
        verification = fields.duration(body, "verification_ttl", key.verification_ttl)
        allowed = (
            fields.strings(body, "allowed_client_ids")
            if "allowed_client_ids" in body
            else key.allowed_client_ids
        )
        algorithm = str(body.get("algorithm") or key.algorithm)
        if algorithm not in ALGORITHMS:
            raise VaultFailure(400, f'unknown signing algorithm "{algorithm}"')
        if algorithm not in SUPPORTED_HERE:
            raise VaultFailure(400, f"simulator: only RSA keys are simulated, not {algorithm}")
        if algorithm != key.algorithm:
            key.rotate()
        key.algorithm, key.rotation_period, key.verification_ttl = algorithm, rotation, verification
        key.allowed_client_ids = allowed
        self.keys[match["name"]] = key
        return Reply(204)

    def delete_key(self, request: Request, match: re.Match[str]) -> Reply:
        name = match["name"]
        users = sorted(r for r, role in self.roles.items() if role.key == name)
        if users:
            raise VaultFailure(
                400,
                f'unable to delete key "{name}" because it is currently referenced by these '
                f"roles: {', '.join(users)}",
            )
        self.keys.pop(name, None)
        return Reply(204)

    def rotate(self, request: Request, match: re.Match[str]) -> Reply:
        key = self.keys.get(match["name"])
        if key is None:
            raise VaultFailure(400, f'no named key found at "{match["name"]}"')
        key.rotate()
        return Reply(204)

    # -- roles ----------------------------------------------------------------------------
    def read_role(self, request: Request, match: re.Match[str]) -> Reply:
        role = self.roles.get(match["name"])
        if role is None:
            raise VaultFailure(404)
        return envelope(role.public())

    def write_role(self, request: Request, match: re.Match[str]) -> Reply:
        body = request.body
        current = self.roles.get(match["name"])
        ttl = fields.duration(body, "ttl", current.ttl if current else DAY)
        key_name = str(body.get("key") or (current.key if current else ""))
        if not key_name:
            raise VaultFailure(400, "the key parameter is required")
        template = (
            _template_text(body["template"])
            if "template" in body
            else (current.template if current else "")
        )
        _check_template(template)
        key = self.keys.get(key_name)
        if key is None:
            raise VaultFailure(400, f'cannot find key "{key_name}"')
        if ttl > key.verification_ttl:
            raise VaultFailure(
                400,
                "a role's token ttl cannot be longer than the verification_ttl of the key it "
                "references",
            )
        client_id = str(
            body.get("client_id") or (current.client_id if current else secrets.token_urlsafe(20))
        )
        self.roles[match["name"]] = OidcRole(key_name, template, client_id, ttl)
        return Reply(204)

    def delete_role(self, request: Request, match: re.Match[str]) -> Reply:
        self.roles.pop(match["name"], None)
        return Reply(204)

    # -- tokens ---------------------------------------------------------------------------
    def token(self, request: Request, match: re.Match[str]) -> Reply:
        assert request.token is not None
        role = self.roles.get(match["name"])
        if role is None:
            raise VaultFailure(400, f'role "{match["name"]}" not found')
        if not request.token.entity_id:
            raise VaultFailure(400, "no entity associated with the request's token")
        key = self.keys.get(role.key)
        if key is None:
            raise VaultFailure(400, f'cannot find key "{role.key}"')
        if "*" not in key.allowed_client_ids and role.client_id not in key.allowed_client_ids:
            raise VaultFailure(
                400,
                f'the key "{role.key}" does not list the client ID of the role '
                f'"{match["name"]}" as an allowed client ID',
            )
        now = int(self.core.clock.now())
        claims: dict[str, Any] = self._render(role.template, request)
        claims.update(
            {
                "iss": self.issuer_url(),
                "sub": request.token.entity_id,
                "aud": role.client_id,
                "iat": now,
                "exp": now + role.ttl,
                "namespace": "root",
            }
        )
        header = {"alg": key.algorithm, "kid": key.material.kid}
        signed = jwt.encode(header, claims, key.material)
        return envelope({"client_id": role.client_id, "token": signed, "ttl": role.ttl})

    @staticmethod
    def _render(template: str, request: Request) -> dict[str, Any]:
        if not template:
            return {}
        assert request.token is not None
        values = {
            "identity.entity.id": request.token.entity_id,
            "identity.entity.name": request.token.meta.get("username")
            or request.token.meta.get("role_name")
            or request.token.entity_id,
        }

        def substitute(found: re.Match[str]) -> str:
            return json.dumps(values.get(found.group(1), ""))

        rendered: dict[str, Any] = json.loads(_PLACEHOLDER.sub(substitute, template))
        return rendered

    # -- discovery ------------------------------------------------------------------------
    def jwks(self, request: Request, _: re.Match[str]) -> Reply:
        keys = [key.material.as_dict(private=False) for key in self.keys.values()]
        return Reply(200, {"keys": keys})

    def discovery(self, request: Request, _: re.Match[str]) -> Reply:
        issuer = self.issuer_url()
        return Reply(
            200,
            {
                "issuer": issuer,
                "jwks_uri": f"{issuer}/.well-known/keys",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": list(ALGORITHMS),
            },
        )
