"""Nomad's external logins: ACL roles, JWT auth methods, binding rules, ``/v1/acl/login``.

Shapes follow hashicorp/nomad ``api-docs/acl/{roles,auth-methods,binding-rules,
login}.mdx``. The ``ensure_*`` functions read first and write only what differs, so
``mlctl vault bootstrap`` reports "unchanged" on a second run. Writes need a
management token; ``login`` needs none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlctl import redact
from mlctl.errors import AuthError, InvalidInput, NotFound, PermissionDenied
from mlctl.nomad.client import NomadClient

NANOS = 1_000_000_000


@dataclass(frozen=True)
class BindingRule:
    """What a binding rule says; ``description`` is mlctl's key for finding it again."""

    description: str
    selector: str
    bind_type: str  # "role", "policy" or "management"
    bind_name: str = ""


@dataclass(frozen=True)
class LoginToken:
    """The Nomad token ``/v1/acl/login`` created."""

    accessor_id: str
    secret_id: str
    type: str
    ttl_seconds: int
    policies: tuple[str, ...]
    roles: tuple[str, ...]


def _get(nomad: NomadClient, *parts: str) -> Any:
    try:
        return nomad.transport.json("GET", *parts)
    except NotFound:
        return None


def ensure_role(nomad: NomadClient, name: str, description: str, policies: list[str]) -> str:
    """Create or update ACL role ``name`` linking ``policies``; created/updated/unchanged."""
    current = _get(nomad, "acl", "role", "name", name)
    wanted = sorted(policies)
    body: dict[str, Any] = {
        "Name": name,
        "Description": description,
        "Policies": [{"Name": p} for p in wanted],
    }
    if current is None:
        nomad.transport.request("POST", "acl", "role", json=body)
        return "created"
    have = sorted(str(p.get("Name")) for p in current.get("Policies") or [])
    if have == wanted and current.get("Description") == description:
        return "unchanged"
    body["ID"] = current["ID"]
    nomad.transport.request("POST", "acl", "role", str(current["ID"]), json=body)
    return "updated"


def ensure_auth_method(nomad: NomadClient, spec: dict[str, Any]) -> str:
    """Create or update the auth method ``spec["Name"]``; compares every field we set."""
    name = str(spec["Name"])
    current = _get(nomad, "acl", "auth-method", name)
    if current is None:
        nomad.transport.request("POST", "acl", "auth-method", json=spec)
        return "created"
    if _same_method(current, spec):
        return "unchanged"
    nomad.transport.request("POST", "acl", "auth-method", name, json=spec)
    return "updated"


def _same_method(current: dict[str, Any], spec: dict[str, Any]) -> bool:
    for key, value in spec.items():
        if key == "Config":
            have = current.get("Config") or {}
            if any(_normal(have.get(k)) != _normal(v) for k, v in value.items()):
                return False
        elif key == "MaxTokenTTL":
            if _duration_s(current.get(key)) != _duration_s(value):
                return False
        elif _normal(current.get(key)) != _normal(value):
            return False
    return True


def _normal(value: Any) -> Any:
    return value if value not in (None, "", [], {}) else None


def _duration_s(value: Any) -> float:
    """Seconds of a Go duration string ("8h0m0s") or nanoseconds."""
    if isinstance(value, int | float):
        return float(value) / NANOS
    total, number = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    for char in str(value or ""):
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total, number = total + float(number) * units[char], ""
    return total


def ensure_binding_rule(nomad: NomadClient, auth_method: str, rule: BindingRule) -> str:
    """Create or update the rule of ``auth_method`` with ``rule.description``."""
    existing = [
        r
        for r in nomad.transport.json("GET", "acl", "binding-rules") or []
        if r.get("AuthMethod") == auth_method and r.get("Description") == rule.description
    ]
    body: dict[str, Any] = {
        "AuthMethod": auth_method,
        "Description": rule.description,
        "Selector": rule.selector,
        "BindType": rule.bind_type,
        "BindName": rule.bind_name,
    }
    if not existing:
        nomad.transport.request("POST", "acl", "binding-rule", json=body)
        return "created"
    current = nomad.transport.json("GET", "acl", "binding-rule", str(existing[0]["ID"]))
    if all(_normal(current.get(k)) == _normal(v) for k, v in body.items()):
        return "unchanged"
    body["ID"] = current["ID"]
    nomad.transport.request("POST", "acl", "binding-rule", str(current["ID"]), json=body)
    return "updated"


def login(nomad: NomadClient, auth_method: str, jwt: str) -> LoginToken:
    """Exchange a JWT for a Nomad token at ``POST /v1/acl/login`` (no token needed)."""
    body = {"AuthMethodName": auth_method, "LoginToken": jwt}
    try:
        data = nomad.transport.json("POST", "acl", "login", json=body)
    except (PermissionDenied, AuthError) as exc:
        raise AuthError(
            f"Nomad refused the identity token from Vault ({exc.message})",
            hint="the Nomad auth method may be out of date: run mlctl vault bootstrap",
        ) from None
    except InvalidInput as exc:
        if "no role or policy bindings matched" in exc.message:
            raise PermissionDenied(
                "Nomad grants this login nothing: no binding rule matches its role and namespaces",
                hint="ask an mlctl admin to check the user's role (mlctl user show)",
            ) from None
        raise
    redact.register(data.get("SecretID"))
    ttl = data.get("ExpirationTTL") or 0
    return LoginToken(
        accessor_id=str(data["AccessorID"]),
        secret_id=str(data["SecretID"]),
        type=str(data.get("Type") or "client"),
        ttl_seconds=int(_duration_s(ttl)),
        policies=tuple(data.get("Policies") or ()),
        roles=tuple(str(r.get("Name")) for r in data.get("Roles") or []),
    )


def tokens_named(nomad: NomadClient, name: str) -> list[str]:
    """Accessor IDs of the tokens called ``name`` (management token needed)."""
    stubs = nomad.transport.json("GET", "acl", "tokens") or []
    return [str(t["AccessorID"]) for t in stubs if t.get("Name") == name]


def delete_token(nomad: NomadClient, accessor: str) -> bool:
    """Delete a token; False when it was already gone."""
    try:
        nomad.transport.request("DELETE", "acl", "token", accessor)
    except NotFound:
        return False
    return True
