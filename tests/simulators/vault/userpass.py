"""auth/<mount>/ of type userpass: users CRUD, password change, login.

A wrong password and an unknown user get the same answer (400, "invalid username or
password"), so a login probe cannot tell whether a user exists.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from tests.simulators.vault import fields
from tests.simulators.vault.routing import (
    Reply,
    Request,
    Route,
    envelope,
    keys_reply,
    require,
)
from tests.simulators.vault.state import Core, VaultFailure
from tests.simulators.vault.tokens import auth_block

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_INVALID_LOGIN = "invalid username or password"


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 10_000)


@dataclass
class User:
    salt: bytes
    password_hash: bytes
    token_policies: list[str] = field(default_factory=list)
    token_ttl: int = 0
    token_max_ttl: int = 0
    token_no_default_policy: bool = False

    def set_password(self, password: str) -> None:
        self.salt = secrets.token_bytes(16)
        self.password_hash = _hash(password, self.salt)

    def check(self, password: str) -> bool:
        return hmac.compare_digest(self.password_hash, _hash(password, self.salt))

    def public(self) -> dict[str, Any]:
        return {
            "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": self.token_max_ttl,
            "token_no_default_policy": self.token_no_default_policy,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": self.token_policies,
            "token_strictly_bind_ip": False,
            "token_ttl": self.token_ttl,
            "token_type": "default",
        }


class UserpassBackend:
    def __init__(self, core: Core, mount: str) -> None:
        self.core = core
        self.mount = mount  # e.g. "userpass"
        self.users: dict[str, User] = {}
        base = re.escape(f"auth/{mount}")
        self.routes = [
            Route(f"{base}/users/?", {"list": self.list_users}),
            Route(
                f"{base}/users/(?P<name>[^/]+)",
                {"read": self.read, "write": self.write, "delete": self.delete},
                exists=lambda m: m["name"].lower() in self.users,
            ),
            Route(f"{base}/users/(?P<name>[^/]+)/password", {"write": self.password}),
            Route(f"{base}/users/(?P<name>[^/]+)/policies", {"write": self.set_policies}),
            Route(f"{base}/login/(?P<name>[^/]+)", {"write": self.login}, unauthenticated=True),
        ]

    def list_users(self, request: Request, _: re.Match[str]) -> Reply:
        return keys_reply(list(self.users))

    def _user(self, name: str) -> User:
        user = self.users.get(name.lower())
        if user is None:
            raise VaultFailure(404)
        return user

    def read(self, request: Request, match: re.Match[str]) -> Reply:
        return envelope(self._user(match["name"]).public())

    def write(self, request: Request, match: re.Match[str]) -> Reply:
        name, body = match["name"].lower(), request.body
        if not _NAME.match(name) or name.endswith("."):
            raise VaultFailure(400, f"username {name!r} contains invalid characters")
        user = self.users.get(name)
        if user is None:
            password = require(body, "password")
            user = User(b"", b"")
            self._apply_token_fields(user, body)
            user.set_password(str(password))
        else:
            self._apply_token_fields(user, body)
            if body.get("password"):
                user.set_password(str(body["password"]))
        self.users[name] = user
        return Reply(204)

    @staticmethod
    def _apply_token_fields(user: User, body: dict[str, Any]) -> None:
        # Convert every field before changing anything: a bad value leaves the user as it was.
        policies_key = "token_policies" if "token_policies" in body else "policies"
        policies = fields.strings(body, policies_key) if policies_key in body else None
        ttl = fields.duration(body, "token_ttl", user.token_ttl)
        max_ttl = fields.duration(body, "token_max_ttl", user.token_max_ttl)
        no_default = fields.boolean(body, "token_no_default_policy", user.token_no_default_policy)
        if policies is not None:
            user.token_policies = policies
        user.token_ttl, user.token_max_ttl, user.token_no_default_policy = ttl, max_ttl, no_default

    def delete(self, request: Request, match: re.Match[str]) -> Reply:
        self.users.pop(match["name"].lower(), None)
        return Reply(204)

    def password(self, request: Request, match: re.Match[str]) -> Reply:
        self._user(match["name"]).set_password(str(require(request.body, "password")))
        return Reply(204)

    def set_policies(self, request: Request, match: re.Match[str]) -> Reply:
        user = self._user(match["name"])
        user.token_policies = fields.strings(request.body, "token_policies")
        return Reply(204)

    def login(self, request: Request, match: re.Match[str]) -> Reply:
        name = match["name"].lower()
        password = str(request.body.get("password") or "")
        user = self.users.get(name)
        # Hash even for unknown users so timing does not reveal who exists either.
        probe = user or User(b"\0" * 16, b"")
        if not password or not probe.check(password) or user is None:
            raise VaultFailure(400, _INVALID_LOGIN)
        policies = list(user.token_policies)
        if not user.token_no_default_policy:
            policies.append("default")
        token = self.core.issue_token(
            policies=policies,
            path=f"auth/{self.mount}/login/{name}",
            display_name=f"{self.mount}-{name}",
            ttl=user.token_ttl,
            max_ttl=user.token_max_ttl,
            meta={"username": name},
            entity_id=self.core.entity_for(f"{self.mount}:{name}"),
        )
        return envelope(None, auth=auth_block(self.core, token))
