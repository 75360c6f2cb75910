"""ACL policies and tokens as stored by the simulated servers, and token resolution."""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import acl
from .cluster import Cluster
from .hclparse import ParseError
from .jobops import ApiError
from .jobspec import duration_field
from .store import new_id

JSON = dict[str, Any]


def rfc3339(ns: int) -> str:
    stamp = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ns % 1_000_000_000:09d}Z"


class AclStore:
    """Policies by name, tokens by accessor and by secret."""

    def __init__(self, cluster: Cluster, enabled: bool) -> None:
        self.cluster = cluster
        self.enabled = enabled
        self.policies: dict[str, JSON] = {}
        self.parsed: dict[str, acl.Policy] = {}
        self.tokens: dict[str, JSON] = {}
        self.roles: dict[str, JSON] = {}  # ACL roles by ID (managed by acl_auth.AclAuth)
        self.bootstrap_index = 0

    # ------------------------------------------------------------ resolution

    def token_for_secret(self, secret: str | None) -> JSON | None:
        if not secret:
            return None
        return next((t for t in self.tokens.values() if t["SecretID"] == secret), None)

    def resolve(self, secret: str | None) -> acl.Grant:
        """The grant of a request's token; anonymous without one (403 when unknown/expired)."""
        if not self.enabled:
            return acl.MANAGEMENT
        if not secret:
            return self._anonymous()
        token = self.token_for_secret(secret)
        if token is None:
            raise ApiError(403, acl.TOKEN_NOT_FOUND)
        if self.expired(token):
            raise ApiError(403, acl.TOKEN_EXPIRED)
        if token["Type"] == "management":
            return acl.MANAGEMENT
        return acl.Grant(False, [self.parsed[p] for p in self.policies_of(token)])

    def policies_of(self, token: JSON) -> list[str]:
        """The token's own policies plus those of its roles (deleted ones drop out)."""
        names = list(token["Policies"] or [])
        for link in token.get("Roles") or []:
            role = self.roles.get(link.get("ID", ""))
            names += [p["Name"] for p in role["Policies"]] if role else []
        return [n for n in dict.fromkeys(names) if n in self.parsed]

    def _role_links(self, links: Any) -> list[JSON]:
        """``Roles`` of a token request: links by ID or by Name, to existing roles."""
        out: list[JSON] = []
        for link in links or []:
            ref = link if isinstance(link, dict) else {}
            role = self.roles.get(str(ref.get("ID") or "")) or next(
                (r for r in self.roles.values() if r["Name"] == ref.get("Name")), None
            )
            if role is None:
                raise ApiError(400, f"cannot find role {ref.get('ID') or ref.get('Name')}")
            out.append({"ID": role["ID"], "Name": role["Name"]})
        return out

    def issue_login_token(self, body: JSON) -> JSON:
        """A token created by ``/v1/acl/login``: its roles and policies were bound already."""
        return self._make_token(body, None)

    def _anonymous(self) -> acl.Grant:
        anon = self.parsed.get("anonymous")
        return acl.Grant(False, [anon]) if anon else acl.ANONYMOUS

    def expired(self, token: JSON) -> bool:
        return bool(token.get("_expires_ns") and self.cluster.now_ns() >= token["_expires_ns"])

    # ------------------------------------------------------------ bootstrap

    def bootstrap(self, secret: str | None = None) -> JSON:
        if self.bootstrap_index:
            raise ApiError(400, f"ACL bootstrap already done (reset index: {self.bootstrap_index})")
        token = self._make_token(
            {"Name": "Bootstrap Token", "Type": "management", "Global": True}, secret
        )
        self.bootstrap_index = token["CreateIndex"]
        return token

    # ------------------------------------------------------------ policies

    def upsert_policy(self, name: str, body: JSON) -> None:
        if body.get("Name") not in (None, name):
            raise ApiError(400, "Policy name does not match request path")
        rules = body.get("Rules")
        if not isinstance(rules, str) or not rules.strip():
            raise ApiError(400, "Missing policy rules")
        try:
            parsed = acl.parse_policy(rules)
        except ParseError as exc:
            raise ApiError(400, f"policy {name!r}: {exc}") from None
        index = self.cluster.store.bump("acl_policy")
        existing = self.policies.get(name)
        self.policies[name] = {
            "Name": name,
            "Description": body.get("Description") or "",
            "Rules": rules,
            "JobACL": body.get("JobACL"),
            "Hash": None,
            "CreateIndex": existing["CreateIndex"] if existing else index,
            "ModifyIndex": index,
        }
        self.parsed[name] = parsed
        self.cluster.emit(
            "ACLPolicy", "ACLPolicyUpserted", name, "", {"ACLPolicy": self.policies[name]}
        )

    def delete_policy(self, name: str) -> None:
        if name not in self.policies:
            raise ApiError(404, f"ACL policy {name!r} not found")
        del self.policies[name]
        del self.parsed[name]
        self.cluster.store.bump("acl_policy")

    # ------------------------------------------------------------ tokens

    def create_token(self, body: JSON) -> JSON:
        kind = body.get("Type") or "client"
        policies = body.get("Policies") or []
        if kind not in ("client", "management"):
            raise ApiError(400, f'token type must be client or management, got "{kind}"')
        if kind == "management" and policies:
            raise ApiError(400, "management token cannot be associated with policies or roles")
        if kind == "client" and not policies and not body.get("Roles"):
            raise ApiError(400, "client token missing policies or roles")
        missing = [p for p in policies if p not in self.policies]
        if missing:
            raise ApiError(400, f"cannot find policy {missing[0]}")
        if kind == "management" and body.get("Roles"):
            raise ApiError(400, "management token cannot be associated with policies or roles")
        body = {**body, "Roles": self._role_links(body.get("Roles"))}
        if body.get("AccessorID"):
            token = self.tokens.get(body["AccessorID"])
            if token is None:
                raise ApiError(404, "Cannot find token")
            token.update(
                {
                    "Name": body.get("Name") or token["Name"],
                    "Policies": policies or token["Policies"],
                }
            )
            token["ModifyIndex"] = self.cluster.store.bump("acl_token")
            return token
        return self._make_token(body, None)

    def _make_token(self, body: JSON, secret: str | None) -> JSON:
        index = self.cluster.store.bump("acl_token")
        now = self.cluster.now_ns()
        ttl_raw = body.get("ExpirationTTL")
        ttl = 0
        if ttl_raw not in (None, "", 0):
            try:
                ttl = duration_field(ttl_raw)
            except ValueError as exc:
                raise ApiError(400, f"ExpirationTTL: {exc}") from None
            if ttl < 60 * 1_000_000_000:
                raise ApiError(400, "expiration time cannot be less than 1m0s in the future")
        token: JSON = {
            "AccessorID": new_id(),
            "SecretID": secret or new_id(),
            "Name": body.get("Name") or "",
            "Type": body.get("Type") or "client",
            "Policies": body.get("Policies") or None,
            "Roles": body.get("Roles") or None,
            "Global": bool(body.get("Global")),
            "CreateTime": rfc3339(now),
            "ExpirationTime": rfc3339(now + ttl) if ttl else None,
            # time.Duration in Nomad's JSON: nanoseconds (api-docs/acl/login.mdx).
            "ExpirationTTL": ttl,
            "Hash": None,
            "CreateIndex": index,
            "ModifyIndex": index,
            "_expires_ns": now + ttl if ttl else 0,
        }
        self.tokens[token["AccessorID"]] = token
        self.cluster.emit(
            "ACLToken",
            "ACLTokenUpserted",
            token["AccessorID"],
            "",
            {"ACLToken": public(token, with_secret=False)},
        )
        return token

    def delete_token(self, accessor: str) -> None:
        if accessor not in self.tokens:
            raise ApiError(404, "Cannot find token")
        del self.tokens[accessor]
        self.cluster.store.bump("acl_token")


def public(token: JSON, with_secret: bool = True) -> JSON:
    """The token as the API returns it (private bookkeeping removed)."""
    out = {k: v for k, v in token.items() if not k.startswith("_")}
    if not with_secret:
        out["SecretID"] = ""
    return out


def stub(token: JSON) -> JSON:
    """``GET /v1/acl/tokens`` entries carry no secret."""
    keys = (
        "AccessorID",
        "Name",
        "Type",
        "Policies",
        "Roles",
        "Global",
        "Hash",
        "CreateTime",
        "ExpirationTime",
        "CreateIndex",
        "ModifyIndex",
    )
    return {k: token.get(k) for k in keys}
