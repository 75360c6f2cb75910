"""sys/: health, auth methods, secrets mounts, ACL policies, leases, capabilities-self."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.simulators.vault import fields
from tests.simulators.vault.durations import DurationError, parse_duration
from tests.simulators.vault.policy import PolicyError, parse_policy
from tests.simulators.vault.routing import (
    Reply,
    Request,
    Route,
    envelope,
    keys_reply,
    require,
)
from tests.simulators.vault.state import Core, VaultFailure

AUTH_TYPES = ("userpass", "approle")
SECRET_TYPES = ("nomad", "kv")


def _config_ttls(config: dict[str, Any]) -> dict[str, int]:
    """A mount's ``config`` TTLs, refused like Vault does when one is not a duration."""
    ttls = {}
    for key, word in (("default_lease_ttl", "default"), ("max_lease_ttl", "max")):
        try:
            ttls[key] = parse_duration(config.get(key))
        except DurationError as exc:
            raise VaultFailure(
                400, f"unable to parse {word} TTL of {config.get(key)}: {exc}"
            ) from None
    return ttls


def _tune_ttl(body: dict[str, Any], key: str, current: int) -> int:
    if key not in body:
        return current
    try:
        return parse_duration(body[key])
    except DurationError as exc:
        raise VaultFailure(400, str(exc)) from None


def _mount_entry(
    kind: str, accessor: str, description: str, config: dict[str, Any]
) -> dict[str, Any]:
    ttls = _config_ttls(config)
    return {
        "accessor": accessor,
        "config": {
            "default_lease_ttl": ttls["default_lease_ttl"],
            "force_no_cache": False,
            "max_lease_ttl": ttls["max_lease_ttl"],
        },
        "description": description,
        "external_entropy_access": False,
        "local": False,
        "options": None,
        "seal_wrap": False,
        "type": kind,
        "uuid": str(uuid.uuid4()),
    }


class SystemBackend:
    """The ``sys/`` paths; mounting delegates to callbacks that create backends."""

    def __init__(
        self,
        core: Core,
        on_auth_mount: Callable[[str, str], None],
        on_secret_mount: Callable[[str, str], None],
        on_unmount: Callable[[str], None],
    ) -> None:
        self.core = core
        self.on_auth_mount, self.on_secret_mount = on_auth_mount, on_secret_mount
        self.on_unmount = on_unmount
        self.auth: dict[str, dict[str, Any]] = {
            "token/": _mount_entry(
                "token", "auth_token_" + secrets.token_hex(4), "token based credentials", {}
            )
        }
        self.mounts: dict[str, dict[str, Any]] = {
            path: _mount_entry(kind, f"{kind}_{secrets.token_hex(4)}", desc, {})
            for path, kind, desc in (
                ("sys/", "system", "system endpoints used for control, policy and debugging"),
                ("cubbyhole/", "cubbyhole", "per-token private secret storage"),
                ("identity/", "identity", "identity store"),
            )
        }
        mount = r"(?P<path>[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*)/?"
        self.routes = [
            Route(r"sys/health", {"read": self.health}, unauthenticated=True),
            Route(r"sys/auth", {"read": lambda r, m: self._listing(self.auth)}),
            Route(
                f"sys/auth/{mount}",
                {"read": self.read_auth, "write": self.enable_auth, "delete": self.disable_auth},
                sudo=True,
            ),
            Route(r"sys/mounts", {"read": lambda r, m: self._listing(self.mounts)}),
            Route(f"sys/mounts/{mount}/tune", {"read": self.read_tune, "write": self.tune}),
            Route(
                f"sys/mounts/{mount}",
                {"read": self.read_mount, "write": self.mount, "delete": self.unmount},
            ),
            Route(r"sys/policies/acl/?", {"list": self.list_policies}),
            Route(
                r"sys/policies/acl/(?P<name>[^/]+)",
                {
                    "read": self.read_policy,
                    "write": self.write_policy,
                    "delete": self.delete_policy,
                },
                exists=lambda m: m["name"].lower() in self.core.policies,
            ),
            Route(r"sys/policy", {"read": self.legacy_policies}),
            Route(r"sys/leases/lookup", {"write": self.lease_lookup}),
            Route(r"sys/leases/lookup/(?P<prefix>.*)", {"list": self.lease_list}, sudo=True),
            Route(r"sys/leases/renew", {"write": self.lease_renew}),
            Route(r"sys/leases/revoke", {"write": self.lease_revoke}),
            Route(
                r"sys/leases/revoke-prefix/(?P<prefix>.+)", {"write": self.revoke_prefix}, sudo=True
            ),
            Route(r"sys/capabilities-self", {"write": self.capabilities_self}),
            Route(
                r"sys/plugins/catalog/(?P<kind>secret|auth)/(?P<name>[^/]+)",
                {"read": self.catalog_entry},
                sudo=True,
            ),
        ]

    def health(self, request: Request, _: re.Match[str]) -> Reply:
        return Reply(
            200,
            {
                "initialized": True,
                "sealed": False,
                "standby": False,
                "version": "1.15.0+sim",
                "cluster_name": "vault-sim",
                "server_time_utc": int(self.core.clock.now()),
            },
        )

    @staticmethod
    def _listing(mounts: dict[str, dict[str, Any]]) -> Reply:
        reply = envelope(dict(mounts))
        assert reply.body is not None
        reply.body.update(mounts)  # Vault also repeats the mounts at the top level
        return reply

    # -- auth methods ---------------------------------------------------------------------
    def read_auth(self, request: Request, match: re.Match[str]) -> Reply:
        entry = self.auth.get(match["path"] + "/")
        if entry is None:
            raise VaultFailure(400, f"No auth engine at {match['path']}")
        return envelope(entry)

    def enable_auth(self, request: Request, match: re.Match[str]) -> Reply:
        path = match["path"] + "/"
        config = fields.mapping(request.body, "config", prefix=fields.VALIDATION)
        kind = request.body.get("type")
        if not isinstance(kind, str) or not kind:
            raise VaultFailure(400, "backend type must be specified as a string")
        if path in self.auth:
            raise VaultFailure(400, f"path is already in use at {path}")
        if kind not in AUTH_TYPES:
            raise VaultFailure(400, f"plugin not found in the catalog: {kind}")
        accessor = f"auth_{kind}_{secrets.token_hex(4)}"
        self.auth[path] = _mount_entry(
            kind, accessor, str(request.body.get("description") or ""), config
        )
        self.on_auth_mount(match["path"], kind)
        return Reply(204)

    def disable_auth(self, request: Request, match: re.Match[str]) -> Reply:
        if self.auth.pop(match["path"] + "/", None) is not None:
            self.core.revoke_prefix(f"auth/{match['path']}/")
            self.on_unmount(f"auth/{match['path']}")
        return Reply(204)

    # -- secrets engines ------------------------------------------------------------------
    def read_mount(self, request: Request, match: re.Match[str]) -> Reply:
        entry = self.mounts.get(match["path"] + "/")
        if entry is None:
            raise VaultFailure(400, f"No secret engine mount at {match['path']}/")
        return envelope(entry)

    def mount(self, request: Request, match: re.Match[str]) -> Reply:
        path = match["path"] + "/"
        config = fields.mapping(request.body, "config", prefix=fields.VALIDATION)
        kind = str(require(request.body, "type"))
        if any(path.startswith(p) or p.startswith(path) for p in self.mounts):
            raise VaultFailure(400, f"path is already in use at {path}")
        if kind not in SECRET_TYPES:
            raise VaultFailure(400, f"plugin not found in the catalog: {kind}")
        self.mounts[path] = _mount_entry(
            kind,
            f"{kind}_{secrets.token_hex(4)}",
            str(request.body.get("description") or ""),
            config,
        )
        self.on_secret_mount(match["path"], kind)
        return Reply(204)

    def unmount(self, request: Request, match: re.Match[str]) -> Reply:
        if match["path"] in {"sys", "cubbyhole", "identity"}:
            raise VaultFailure(400, f"cannot unmount {match['path']!r}")
        if self.mounts.pop(match["path"] + "/", None) is not None:
            self.core.revoke_prefix(match["path"] + "/")
            self.on_unmount(match["path"])
        return Reply(204)

    def read_tune(self, request: Request, match: re.Match[str]) -> Reply:
        entry = self.mounts.get(match["path"] + "/")
        if entry is None:
            raise VaultFailure(400, f"No secret engine mount at {match['path']}/")
        tuned = {**entry["config"], "description": entry["description"]}
        reply = envelope(tuned)
        assert reply.body is not None
        reply.body.update(tuned)  # Vault repeats the tune values at the top level
        return reply

    def tune(self, request: Request, match: re.Match[str]) -> Reply:
        entry = self.mounts.get(match["path"] + "/")
        if entry is None:
            raise VaultFailure(400, f"No secret engine mount at {match['path']}/")
        tuned = {
            key: _tune_ttl(request.body, key, entry["config"][key])
            for key in ("default_lease_ttl", "max_lease_ttl")
        }
        entry["config"].update(tuned)
        return Reply(204)

    # -- ACL policies ---------------------------------------------------------------------
    def list_policies(self, request: Request, _: re.Match[str]) -> Reply:
        return keys_reply([*self.core.policies, "root"])

    def legacy_policies(self, request: Request, _: re.Match[str]) -> Reply:
        names = sorted([*self.core.policies, "root"])
        reply = envelope({"keys": names, "policies": names})
        assert reply.body is not None
        reply.body.update({"keys": names, "policies": names})
        return reply

    def read_policy(self, request: Request, match: re.Match[str]) -> Reply:
        name = match["name"].lower()
        if name == "root":
            return envelope({"name": "root", "policy": ""})
        if name not in self.core.policies:
            raise VaultFailure(404)
        return envelope(
            {
                "name": name,
                "policy": self.core.policies[name],
                # OpenBao's policy read also reports these (versioning, CAS, templates).
                "allow_slashes_in_identity_templates": False,
                "allow_wildcards_in_identity_templates": False,
                "cas_required": False,
                "modified": "",
                "version": 1,
            }
        )

    def write_policy(self, request: Request, match: re.Match[str]) -> Reply:
        name = match["name"].lower()
        if name == "root":
            raise VaultFailure(400, "cannot update root policy")
        text = request.body.get("policy")
        if not isinstance(text, str) or not text:
            raise VaultFailure(400, "'policy' parameter not supplied or empty")
        try:
            parse_policy(text)
        except PolicyError as exc:
            message = str(exc)
            if not message.startswith("failed to parse policy"):
                message = f"failed to parse policy: {message}"
            raise VaultFailure(400, message) from exc
        self.core.policies[name] = text
        return Reply(204)

    def delete_policy(self, request: Request, match: re.Match[str]) -> Reply:
        name = match["name"].lower()
        if name in {"root", "default"}:
            raise VaultFailure(400, f"cannot delete {name} policy")
        self.core.policies.pop(name, None)
        return Reply(204)

    # -- leases ---------------------------------------------------------------------------
    def _iso(self, stamp: float | None) -> str | None:
        return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()

    def lease_lookup(self, request: Request, _: re.Match[str]) -> Reply:
        self.core.expire_due()
        lease = self.core.leases.get(str(request.body.get("lease_id") or ""))
        if lease is None:
            raise VaultFailure(400, "invalid lease")
        return envelope(
            {
                "id": lease.id,
                "issue_time": self._iso(lease.issue_time),
                "expire_time": self._iso(lease.expire_time),
                "last_renewal": self._iso(lease.last_renewal),
                "renewable": lease.renewable,
                "ttl": max(0, int(lease.expire_time - self.core.clock.now())),
            }
        )

    def lease_list(self, request: Request, match: re.Match[str]) -> Reply:
        prefix = match["prefix"]
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        keys = {
            lid[len(prefix) :].split("/")[0] + ("/" if "/" in lid[len(prefix) :] else "")
            for lid in self.core.leases
            if lid.startswith(prefix)
        }
        return keys_reply(sorted(keys))

    def lease_renew(self, request: Request, _: re.Match[str]) -> Reply:
        increment = fields.duration(request.body, "increment", prefix=fields.VALIDATION)
        lease_id = str(require(request.body, "lease_id"))
        if lease_id.startswith("auth/"):
            raise VaultFailure(400, "tokens cannot be renewed through this endpoint")
        lease = self.core.renew_lease(lease_id, increment)
        ttl = int(lease.expire_time - self.core.clock.now())
        reply = envelope(None, lease_id=lease.id, lease_duration=ttl, renewable=True)
        return reply

    def lease_revoke(self, request: Request, _: re.Match[str]) -> Reply:
        self.core.revoke_lease(str(require(request.body, "lease_id")))
        return Reply(204)

    def revoke_prefix(self, request: Request, match: re.Match[str]) -> Reply:
        self.core.revoke_prefix(match["prefix"])
        return Reply(204)

    def catalog_entry(self, request: Request, match: re.Match[str]) -> Reply:
        """Built-in plugins: this simulator plays HashiCorp Vault, Nomad engine included."""
        known = SECRET_TYPES if match["kind"] == "secret" else AUTH_TYPES
        if match["name"] not in known:
            raise VaultFailure(404)
        return envelope(
            {
                "args": None,
                "builtin": True,
                "command": "",
                "deprecation_status": "supported",
                "name": match["name"],
                "sha256": "",
                "version": "v1.15.0+builtin",
            }
        )

    def capabilities_self(self, request: Request, _: re.Match[str]) -> Reply:
        assert request.token is not None
        acl = self.core.acl_for(request.token)
        paths = request.body.get("paths") or [request.body.get("path") or ""]
        result: dict[str, Any] = {}
        for path in paths:
            caps = acl.capabilities(str(path))
            result[path] = sorted(caps) if caps else ["deny"]
        if len(paths) == 1:
            result["capabilities"] = result[paths[0]]
        reply = envelope(result)
        assert reply.body is not None
        reply.body.update(result)
        return reply
