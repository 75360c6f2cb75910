"""auth/token: lookup-self, renew-self, revoke-self, create, lookup, revoke-accessor."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.simulators.vault import fields
from tests.simulators.vault.durations import DurationError, parse_duration
from tests.simulators.vault.routing import Reply, Request, Route, envelope
from tests.simulators.vault.state import Core, Token, VaultFailure


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()


def token_data(core: Core, token: Token) -> dict[str, Any]:
    """The ``data`` of lookup/lookup-self."""
    return {
        "accessor": token.accessor,
        "creation_time": int(token.issue_time),
        "creation_ttl": token.ttl,
        "display_name": token.display_name,
        "entity_id": token.entity_id,
        "expire_time": _iso(token.expire_time),
        "explicit_max_ttl": 0,
        "id": token.id,
        "issue_time": _iso(token.issue_time),
        "meta": token.meta or None,
        "num_uses": 0,
        "orphan": token.parent is None,
        "path": token.path,
        "policies": token.policies,
        "renewable": token.renewable,
        "ttl": core.token_ttl_left(token),
        "type": "service",
    }


def auth_block(core: Core, token: Token) -> dict[str, Any]:
    """The ``auth`` of a login, token create or renew."""
    return {
        "client_token": token.id,
        "accessor": token.accessor,
        "policies": token.policies,
        "token_policies": token.policies,
        "metadata": token.meta or None,
        "lease_duration": core.token_ttl_left(token),
        "renewable": token.renewable,
        "entity_id": token.entity_id,
        "token_type": "service",
        "orphan": token.parent is None,
        "mfa_requirement": None,
        "num_uses": 0,
    }


class TokenBackend:
    """The always-mounted ``auth/token/`` method."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.routes = [
            Route(r"auth/token/lookup-self", {"read": self.lookup_self, "write": self.lookup_self}),
            Route(r"auth/token/renew-self", {"write": self.renew_self}),
            Route(r"auth/token/revoke-self", {"write": self.revoke_self}),
            Route(r"auth/token/create", {"write": self.create}),
            Route(r"auth/token/lookup", {"write": self.lookup}),
            Route(r"auth/token/revoke-accessor", {"write": self.revoke_accessor}),
        ]

    def _caller(self, request: Request) -> Token:
        assert request.token is not None
        return request.token

    def lookup_self(self, request: Request, _: re.Match[str]) -> Reply:
        return envelope(token_data(self.core, self._caller(request)))

    def renew_self(self, request: Request, _: re.Match[str]) -> Reply:
        token = self._caller(request)
        increment = fields.duration(request.body, "increment", prefix=fields.VALIDATION)
        self.core.renew_token(token, increment)
        return envelope(None, auth=auth_block(self.core, token))

    def revoke_self(self, request: Request, _: re.Match[str]) -> Reply:
        self.core.revoke_token(self._caller(request).id)
        return Reply(204)

    def create(self, request: Request, _: re.Match[str]) -> Reply:
        caller = self._caller(request)
        body = request.body
        check = fields.VALIDATION
        meta = fields.string_map(body, "meta", prefix=check)
        renewable = fields.boolean(body, "renewable", True, prefix=check)
        no_parent = fields.boolean(body, "no_parent", prefix=check)
        no_default = fields.boolean(body, "no_default_policy", prefix=check)
        wanted = fields.strings(body, "policies", prefix=check) or list(caller.policies)
        try:
            ttl = parse_duration(body.get("ttl"))
            max_ttl = parse_duration(body.get("explicit_max_ttl"))
        except DurationError as exc:
            raise VaultFailure(400, str(exc)) from None
        if not no_default and "root" not in wanted:
            wanted.append("default")
        acl = self.core.acl_for(caller)
        may_escalate = acl.allows("auth/token/create", "update", sudo=True)
        if not may_escalate and not set(wanted) <= set(caller.policies) | {"default"}:
            raise VaultFailure(400, "child policies must be subset of parent")
        token = self.core.issue_token(
            policies=wanted,
            path="auth/token/create",
            display_name="token-" + str(body.get("display_name") or ""),
            ttl=ttl,
            max_ttl=max_ttl,
            meta=meta,
            parent=None if no_parent else caller,
            token_id=body.get("id") if caller.is_root else None,
            renewable=renewable,
            entity_id=caller.entity_id,  # a child token acts for its parent's entity
        )
        return envelope(None, auth=auth_block(self.core, token))

    def lookup(self, request: Request, _: re.Match[str]) -> Reply:
        token = self.core.tokens.get(str(request.body.get("token") or ""))
        if token is None:
            raise VaultFailure(403, "bad token")
        return envelope(token_data(self.core, token))

    def revoke_accessor(self, request: Request, _: re.Match[str]) -> Reply:
        token_id = self.core.accessors.get(str(request.body.get("accessor") or ""))
        if token_id is None:
            raise VaultFailure(400, "invalid accessor")
        self.core.revoke_token(token_id)
        return Reply(204)
