"""Requests, replies and routes shared by the simulated backends.

HTTP verbs become Vault operations the way Vault's HTTP layer maps them: GET is
``read`` (``list`` with ``?list=true``), LIST is ``list``, DELETE is ``delete``, and
POST/PUT are ``update`` unless the route has an existence check saying the entry is
new, which makes it ``create`` (userpass users, policies, roles honour that).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.simulators.vault.state import Token, VaultFailure


@dataclass
class Request:
    method: str
    path: str  # full path after /v1/, e.g. "auth/userpass/users/alice"
    body: dict[str, Any]
    query: dict[str, str]
    token_id: str | None
    token: Token | None = None
    operation: str = "read"

    def listing(self) -> bool:
        return self.method == "LIST" or (
            self.method == "GET" and self.query.get("list", "").lower() in {"true", "1"}
        )


@dataclass
class Reply:
    status: int = 204
    body: dict[str, Any] | None = None


Handler = Callable[[Request, "re.Match[str]"], Reply]


@dataclass
class Route:
    """One endpoint: which operations it accepts and what it requires."""

    pattern: str
    ops: dict[str, Handler]  # operation ("read", "write", "list", "delete") -> handler
    sudo: bool = False
    unauthenticated: bool = False
    exists: Callable[[re.Match[str]], bool] | None = None
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.regex = re.compile(self.pattern)


def operation_of(request: Request, route: Route | None, match: re.Match[str] | None) -> str:
    """The Vault operation (and so the ACL capability) a request needs."""
    if request.listing():
        return "list"
    if request.method in {"GET", "HEAD"}:
        return "read"
    if request.method == "DELETE":
        return "delete"
    if route is not None and match is not None and route.exists is not None:
        return "update" if route.exists(match) else "create"
    return "update"


def handler_for(route: Route, operation: str) -> Handler | None:
    key = "write" if operation in {"create", "update"} else operation
    return route.ops.get(key)


def envelope(
    data: dict[str, Any] | None = None,
    *,
    auth: dict[str, Any] | None = None,
    lease_id: str = "",
    lease_duration: int = 0,
    renewable: bool = False,
) -> Reply:
    """A 200 answer in Vault's standard response envelope."""
    return Reply(
        200,
        {
            "request_id": str(uuid.uuid4()),
            "lease_id": lease_id,
            "renewable": renewable,
            "lease_duration": lease_duration,
            "data": data,
            "wrap_info": None,
            "warnings": None,
            "auth": auth,
        },
    )


def keys_reply(keys: list[str]) -> Reply:
    """A LIST answer; Vault answers 404 when there is nothing to list."""
    if not keys:
        raise VaultFailure(404)
    return envelope({"keys": sorted(keys)})


def require(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    if value in (None, ""):
        raise VaultFailure(400, f"missing {name}")
    return value
