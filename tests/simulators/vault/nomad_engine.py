"""The Nomad secrets engine: config/access, config/lease, roles and creds.

``creds/:role`` really creates an ACL token in Nomad (``POST /v1/acl/token`` with the
configured management token), and revoking the lease deletes it
(``DELETE /v1/acl/token/:accessor``), so Nomad itself enforces what Vault hands out.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.simulators.vault import fields
from tests.simulators.vault.routing import (
    Reply,
    Request,
    Route,
    envelope,
    keys_reply,
)
from tests.simulators.vault.state import Core, VaultFailure


@dataclass
class NomadRole:
    policies: list[str] = field(default_factory=list)
    global_: bool = False
    type: str = "client"


class NomadEngine:
    def __init__(self, core: Core, mount: str) -> None:
        self.core = core
        self.mount = mount
        self.access: dict[str, Any] | None = None
        self.lease: dict[str, int] | None = None
        self.roles: dict[str, NomadRole] = {}
        base = re.escape(mount)
        self.routes = [
            Route(f"{base}/config/access", {"read": self.read_access, "write": self.write_access}),
            Route(
                f"{base}/config/lease",
                {"read": self.read_lease, "write": self.write_lease, "delete": self.delete_lease},
            ),
            Route(f"{base}/role/?", {"list": self.list_roles}),
            Route(
                f"{base}/role/(?P<name>[^/]+)",
                {"read": self.read_role, "write": self.write_role, "delete": self.delete_role},
                exists=lambda m: m["name"] in self.roles,
            ),
            Route(f"{base}/creds/(?P<name>[^/]+)", {"read": self.creds}),
        ]

    # -- configuration --------------------------------------------------------------------
    def read_access(self, request: Request, _: re.Match[str]) -> Reply:
        if self.access is None:
            raise VaultFailure(404)
        return envelope({"address": self.access["address"], "max_token_name_length": 0})

    def write_access(self, request: Request, _: re.Match[str]) -> Reply:
        body = request.body
        name_length = fields.integer(body, "max_token_name_length")
        self.access = {
            "address": str(body.get("address") or os.environ.get("NOMAD_ADDR", "")),
            "token": str(body.get("token") or ""),
            "ca_cert": str(body.get("ca_cert") or ""),
            "max_token_name_length": name_length or 256,
        }
        return Reply(204)

    def read_lease(self, request: Request, _: re.Match[str]) -> Reply:
        if self.lease is None:
            raise VaultFailure(404)
        return envelope(dict(self.lease))

    def write_lease(self, request: Request, _: re.Match[str]) -> Reply:
        self.lease = {
            "ttl": fields.duration(request.body, "ttl"),
            "max_ttl": fields.duration(request.body, "max_ttl"),
        }
        return Reply(204)

    def delete_lease(self, request: Request, _: re.Match[str]) -> Reply:
        self.lease = None
        return Reply(204)

    # -- roles ----------------------------------------------------------------------------
    def list_roles(self, request: Request, _: re.Match[str]) -> Reply:
        return keys_reply(list(self.roles))

    def read_role(self, request: Request, match: re.Match[str]) -> Reply:
        role = self.roles.get(match["name"])
        if role is None:
            raise VaultFailure(404)
        data = {"lease": "0s", "policies": role.policies, "token_type": role.type}
        return envelope({**data, "global": role.global_})

    def write_role(self, request: Request, match: re.Match[str]) -> Reply:
        body = request.body
        role = self.roles.get(match["name"]) or NomadRole()
        token_type = str(body.get("type") or role.type)
        if token_type not in {"client", "management"}:
            raise VaultFailure(400, 'type must be "client" or "management"')
        policies = fields.strings(body, "policies") if "policies" in body else role.policies
        global_ = fields.boolean(body, "global", role.global_)
        if token_type == "client" and not policies:
            raise VaultFailure(400, "client tokens require at least one policy")
        role.policies, role.type = policies, token_type
        role.global_ = global_
        self.roles[match["name"]] = role
        return Reply(204)

    def delete_role(self, request: Request, match: re.Match[str]) -> Reply:
        self.roles.pop(match["name"], None)
        return Reply(204)

    # -- credentials ----------------------------------------------------------------------
    def creds(self, request: Request, match: re.Match[str]) -> Reply:
        name = match["name"]
        role = self.roles.get(name)
        if role is None:
            raise VaultFailure(400, f'role "{name}" not found')
        if self.access is None:
            raise VaultFailure(400, "no Nomad access configuration found")
        assert request.token is not None
        token_name = f"vault-{name}-{request.token.display_name}-{time.time_ns()}"
        body = {
            "Name": token_name[: self.access["max_token_name_length"]],
            "Type": role.type,
            "Policies": role.policies if role.type == "client" else [],
            "Global": role.global_,
        }
        created = self._nomad("POST", "/v1/acl/token", body)
        accessor, secret = created["AccessorID"], created["SecretID"]
        lease_cfg = self.lease or {"ttl": 0, "max_ttl": 0}
        lease = self.core.add_lease(
            f"{self.mount}/creds/{name}",
            request.token,
            lease_cfg["ttl"],
            lease_cfg["max_ttl"],
            revoke=lambda: self._nomad("DELETE", f"/v1/acl/token/{accessor}"),
        )
        return envelope(
            {"accessor_id": accessor, "secret_id": secret},
            lease_id=lease.id,
            lease_duration=lease.ttl,
            renewable=True,
        )

    def _nomad(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self.access is not None
        verify: bool | str = True
        ca_file = None
        if self.access["ca_cert"]:
            handle = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)  # noqa: SIM115
            handle.write(self.access["ca_cert"])
            handle.close()
            verify = ca_file = handle.name
        try:
            response = requests.request(
                method,
                self.access["address"].rstrip("/") + path,
                json=body,
                headers={"X-Nomad-Token": self.access["token"]},
                timeout=10,
                verify=verify,
            )
        except requests.RequestException as exc:
            raise VaultFailure(500, f"error talking to Nomad: {type(exc).__name__}") from exc
        finally:
            if ca_file:
                os.unlink(ca_file)
        if response.status_code >= 400:
            raise VaultFailure(500, f"Nomad answered {response.status_code}: {response.text}")
        return response.json() if response.content else None
