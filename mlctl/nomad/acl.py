"""Nomad ACL policies and namespaces (created idempotently) and a token's view of itself.

Writes need a Nomad management token (bootstrap's, or an admin's login). Calls go
through mlctl's Nomad transport so TLS, errors and redaction match every other command.
"""

from __future__ import annotations

from typing import Any

from mlctl.errors import NotFound
from mlctl.nomad.client import NomadClient


def _get(nomad: NomadClient, *parts: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = nomad.transport.json("GET", *parts)
    except NotFound:
        return None
    return data


def ensure_policy(nomad: NomadClient, name: str, description: str, rules: str) -> str:
    """Create or update Nomad ACL policy ``name``; returns created/updated/unchanged."""
    current = _get(nomad, "acl", "policy", name)
    if current and current.get("Rules") == rules and current.get("Description") == description:
        return "unchanged"
    body = {"Name": name, "Description": description, "Rules": rules}
    nomad.transport.request("POST", "acl", "policy", name, json=body)
    return "updated" if current else "created"


def ensure_namespace(nomad: NomadClient, name: str, description: str) -> str:
    """Create Nomad namespace ``name`` if missing; an existing one is left as it is."""
    if _get(nomad, "namespace", name) is not None:
        return "unchanged"
    nomad.transport.request(
        "POST", "namespace", name, json={"Name": name, "Description": description}
    )
    return "created"


def token_self(nomad: NomadClient) -> dict[str, Any]:
    """The Nomad token's own record (type, policies), readable by any token."""
    data: dict[str, Any] = nomad.transport.json("GET", "acl", "token", "self")
    return data


def namespaces(nomad: NomadClient) -> list[str]:
    data = nomad.transport.json("GET", "namespaces")
    return sorted(str(ns["Name"]) for ns in data or [])


def job_names(nomad: NomadClient, namespace: str) -> list[str]:
    """Jobs in one namespace, as the token sees them."""
    data = nomad.transport.json("GET", "jobs", params={"namespace": namespace})
    return sorted(str(job["ID"]) for job in data or [])
