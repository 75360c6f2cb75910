"""auth/<mount>/ of type approle: roles, role-id, secret-id, login."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.simulators.vault import fields
from tests.simulators.vault.routing import (
    Reply,
    Request,
    Route,
    envelope,
    keys_reply,
)
from tests.simulators.vault.state import Core, VaultFailure
from tests.simulators.vault.tokens import auth_block


@dataclass
class Role:
    role_id: str
    token_policies: list[str] = field(default_factory=list)
    token_ttl: int = 0
    token_max_ttl: int = 0
    secret_id_ttl: int = 0
    secret_id_num_uses: int = 0
    bind_secret_id: bool = True
    secret_ids: dict[str, dict[str, Any]] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "bind_secret_id": self.bind_secret_id,
            "local_secret_ids": False,
            "secret_id_bound_cidrs": None,
            "secret_id_num_uses": self.secret_id_num_uses,
            "secret_id_ttl": self.secret_id_ttl,
            "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": self.token_max_ttl,
            "token_no_default_policy": False,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": self.token_policies,
            "token_strictly_bind_ip": False,
            "token_ttl": self.token_ttl,
            "token_type": "default",
        }


class ApproleBackend:
    def __init__(self, core: Core, mount: str) -> None:
        self.core = core
        self.mount = mount
        self.roles: dict[str, Role] = {}
        base = re.escape(f"auth/{mount}")
        role = f"{base}/role/(?P<name>[^/]+)"
        self.routes = [
            Route(f"{base}/role/?", {"list": self.list_roles}),
            Route(
                role,
                {"read": self.read, "write": self.write, "delete": self.delete},
                exists=lambda m: m["name"].lower() in self.roles,
            ),
            Route(f"{role}/role-id", {"read": self.role_id}),
            Route(f"{role}/secret-id", {"write": self.secret_id}),
            Route(f"{base}/login", {"write": self.login}, unauthenticated=True),
        ]

    def _role(self, name: str) -> Role:
        role = self.roles.get(name.lower())
        if role is None:
            raise VaultFailure(404)
        return role

    def list_roles(self, request: Request, _: re.Match[str]) -> Reply:
        return keys_reply(list(self.roles))

    def read(self, request: Request, match: re.Match[str]) -> Reply:
        return envelope(self._role(match["name"]).public())

    def write(self, request: Request, match: re.Match[str]) -> Reply:
        name, body = match["name"].lower(), request.body
        role = self.roles.get(name) or Role(role_id=str(uuid.uuid4()))
        # Convert every field first: a bad value is a 400 and changes nothing.
        policies_key = "token_policies" if "token_policies" in body else "policies"
        policies = fields.strings(body, policies_key) if policies_key in body else None
        durations = {
            key: fields.duration(body, key, getattr(role, key))
            for key in ("token_ttl", "token_max_ttl", "secret_id_ttl")
        }
        uses = fields.integer(body, "secret_id_num_uses", role.secret_id_num_uses)
        bind = fields.boolean(body, "bind_secret_id", role.bind_secret_id)
        if not bind:
            # Vault refuses a role that nothing protects (no secret-id, no CIDR bound).
            raise VaultFailure(
                500,
                "1 error occurred:\n\t* at least one constraint should be enabled on the role\n\n",
            )
        if policies is not None:
            role.token_policies = policies
        for key, value in durations.items():
            setattr(role, key, value)
        role.secret_id_num_uses, role.bind_secret_id = uses, bind
        self.roles[name] = role
        return Reply(204)

    def delete(self, request: Request, match: re.Match[str]) -> Reply:
        self.roles.pop(match["name"].lower(), None)
        return Reply(204)

    def role_id(self, request: Request, match: re.Match[str]) -> Reply:
        return envelope({"role_id": self._role(match["name"]).role_id})

    def secret_id(self, request: Request, match: re.Match[str]) -> Reply:
        wanted_ttl = fields.duration(request.body, "ttl", prefix=fields.VALIDATION)
        role = self.roles.get(match["name"].lower())
        if role is None:
            raise VaultFailure(404, f'role "{match["name"]}" does not exist')
        secret, accessor = str(uuid.uuid4()), str(uuid.uuid4())
        ttl = wanted_ttl or role.secret_id_ttl
        now = self.core.clock.now()
        role.secret_ids[secret] = {
            "accessor": accessor,
            "expires": now + ttl if ttl else None,
            "uses_left": role.secret_id_num_uses or None,
        }
        return envelope(
            {
                "secret_id": secret,
                "secret_id_accessor": accessor,
                "secret_id_ttl": ttl,
                "secret_id_num_uses": role.secret_id_num_uses,
            }
        )

    def login(self, request: Request, _: re.Match[str]) -> Reply:
        role_id = str(request.body.get("role_id") or "")
        secret_id = str(request.body.get("secret_id") or "")
        named = [
            (n, r) for n, r in self.roles.items() if secrets.compare_digest(r.role_id, role_id)
        ]
        if not named:
            raise VaultFailure(400, "invalid role or secret ID")
        name, role = named[0]
        entry = role.secret_ids.get(secret_id)
        now = self.core.clock.now()
        if role.bind_secret_id and (
            entry is None or (entry["expires"] is not None and entry["expires"] <= now)
        ):
            raise VaultFailure(400, "invalid role or secret ID")
        if entry is not None and entry["uses_left"] is not None:
            entry["uses_left"] -= 1
            if entry["uses_left"] <= 0:
                del role.secret_ids[secret_id]
        token = self.core.issue_token(
            policies=[*role.token_policies, "default"],
            path=f"auth/{self.mount}/login",
            display_name=self.mount,
            ttl=role.token_ttl,
            max_ttl=role.token_max_ttl,
            meta={"role_name": name},
            entity_id=self.core.entity_for(f"{self.mount}:{name}"),
        )
        return envelope(None, auth=auth_block(self.core, token))
