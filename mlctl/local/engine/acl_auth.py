"""ACL roles, auth methods, binding rules and ``/v1/acl/login``, as Nomad documents them.

Shapes and checks follow hashicorp/nomad ``api-docs/acl/{roles,auth-methods,
binding-rules,login}.mdx``: a role links existing policies; an auth method of type
``JWT`` carries its keys (``JWKSURL``, ``JWTValidationPubKeys`` or
``OIDCDiscoveryURL``), bound issuer and audiences, claim mappings and a
``MaxTokenTTL`` between 1m and 24h (Nomad's ``token_min/max_expiration_ttl``); a
binding rule's ``Selector`` must compile. A login verifies the JWT for real
(:mod:`.jwt_auth`), evaluates every rule of the method, and creates a token with the
matched roles and policies (or a management token), named from ``TokenNameFormat``
and expiring after ``MaxTokenTTL``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import bexpr, jwt_auth
from .acl_store import rfc3339
from .durations import format_duration, parse_duration
from .jobops import ApiError
from .store import new_id

if TYPE_CHECKING:
    from .acl_store import AclStore

JSON = dict[str, Any]
_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,128}$")
_POLICY_NAME = re.compile(r"^[a-zA-Z0-9-]{1,128}$")
_HIL = re.compile(r"\$\{([^}]*)\}")
MIN_TTL_NS = 60 * 1_000_000_000
MAX_TTL_NS = 24 * 3600 * 1_000_000_000
AUTH_TYPES = ("OIDC", "JWT")
BIND_TYPES = ("role", "policy", "management")
DEFAULT_NAME_FORMAT = "${auth_method_type}-${auth_method_name}"
CONFIG_FIELDS = (
    "JWTValidationPubKeys",
    "JWKSURL",
    "OIDCDiscoveryURL",
    "OIDCClientID",
    "OIDCClientSecret",
    "OIDCScopes",
    "OIDCDisableUserInfo",
    "BoundAudiences",
    "BoundIssuer",
    "AllowedRedirectURIs",
    "DiscoveryCaPem",
    "JWKSCACert",
    "SigningAlgs",
    "ExpirationLeeway",
    "NotBeforeLeeway",
    "ClockSkewLeeway",
    "ClaimMappings",
    "ListClaimMappings",
)


def _errors(problems: list[str]) -> ApiError:
    """Nomad's multierror text, as its validation failures read."""
    items = "".join(f"\n\t* {p}" for p in problems)
    count = "1 error" if len(problems) == 1 else f"{len(problems)} errors"
    return ApiError(400, f"{count} occurred:{items}\n\n")


def _duration_ns(value: Any, field: str) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, bool):
        raise ApiError(400, f"{field}: invalid duration")
    if isinstance(value, int | float):
        return int(value)
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise ApiError(400, f"{field}: {exc}") from None


def interpolate(template: str, variables: dict[str, str]) -> str:
    """HIL ``${name}`` substitution over string variables (unknown names are an error)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name not in variables:
            raise ApiError(400, f"failed to interpolate: unknown variable accessed: {name}")
        return variables[name]

    return _HIL.sub(replace, template)


class AclAuth:
    """Roles, auth methods and binding rules next to the policies and tokens of AclStore."""

    def __init__(self, acls: AclStore) -> None:
        self.acls = acls
        self.methods: dict[str, JSON] = {}
        self.rules: dict[str, JSON] = {}

    @property
    def roles(self) -> dict[str, JSON]:
        return self.acls.roles

    # ------------------------------------------------------------------ roles

    def role_by_name(self, name: str) -> JSON | None:
        return next((r for r in self.roles.values() if r["Name"] == name), None)

    def upsert_role(self, body: JSON, role_id: str | None = None) -> JSON:
        name = body.get("Name") or ""
        problems = []
        if not _NAME.match(str(name)):
            problems.append(f"invalid name '{name}'")
        if len(str(body.get("Description") or "")) > 256:
            problems.append("description longer than 256")
        links = body.get("Policies") or []
        if not isinstance(links, list) or not links:
            problems.append("at least one policy should be specified")
            links = []
        names = [link.get("Name") if isinstance(link, dict) else None for link in links]
        if any(not isinstance(n, str) or not n for n in names):
            problems.append("policy links must name a policy")
        if problems:
            raise _errors(problems)
        missing = [n for n in names if n not in self.acls.policies]
        if missing:
            raise ApiError(400, f"cannot find policy {missing[0]}")
        if body.get("ID") and role_id and body["ID"] != role_id:
            raise ApiError(400, "ACL role ID does not match path")
        existing = self.roles.get(role_id) if role_id else None
        if role_id and existing is None:
            raise ApiError(404, "ACL role not found")
        clash = self.role_by_name(str(name))
        if clash is not None and clash["ID"] != role_id:
            raise ApiError(400, f"role with name {name} already exists")
        index = self.acls.cluster.store.bump("acl_role")
        new = role_id or new_id()
        role: JSON = {
            "ID": new,
            "Name": name,
            "Description": body.get("Description") or "",
            "Policies": [{"Name": n} for n in names],
            "Hash": None,
            "CreateIndex": existing["CreateIndex"] if existing else index,
            "ModifyIndex": index,
        }
        self.roles[new] = role
        return role

    def delete_role(self, role_id: str) -> None:
        if self.roles.pop(role_id, None) is None:
            raise ApiError(404, "ACL role not found")
        self.acls.cluster.store.bump("acl_role")

    # ------------------------------------------------------------------ auth methods

    def upsert_method(self, body: JSON, name_in_path: str | None = None) -> JSON:
        name = str(body.get("Name") or name_in_path or "")
        if name_in_path and body.get("Name") not in (None, name_in_path):
            raise ApiError(400, "auth method name does not match request path")
        existing = self.methods.get(name)
        if name_in_path and existing is None:
            raise ApiError(404, "ACL auth method not found")
        merged = {**(existing or {}), **{k: v for k, v in body.items() if v is not None}}
        ttl_ns = _duration_ns(merged.get("MaxTokenTTL"), "MaxTokenTTL")
        config = self._config(merged.get("Config"))
        problems = []
        if not _NAME.match(name):
            problems.append(f"invalid name '{name}'")
        locality = merged.get("TokenLocality") or ""
        if locality not in ("local", "global"):
            problems.append(f"invalid token locality '{locality}'")
        kind = merged.get("Type") or ""
        if kind not in AUTH_TYPES:
            problems.append(f"invalid token type '{kind}'")
        if not MIN_TTL_NS <= ttl_ns <= MAX_TTL_NS:
            problems.append(
                f"invalid MaxTokenTTL value '{format_duration(ttl_ns)}' "
                "(should be between 1m0s and 24h0m0s)"
            )
        if kind == "JWT" and not (
            config["JWKSURL"] or config["JWTValidationPubKeys"] or config["OIDCDiscoveryURL"]
        ):
            problems.append(
                "JWT auth method requires JWKSURL, JWTValidationPubKeys or OIDCDiscoveryURL"
            )
        if problems:
            raise _errors(problems)
        now = rfc3339(self.acls.cluster.now_ns())
        index = self.acls.cluster.store.bump("acl_auth_method")
        method = {
            "Name": name,
            "Type": kind,
            "TokenLocality": locality,
            "TokenNameFormat": merged.get("TokenNameFormat") or DEFAULT_NAME_FORMAT,
            "MaxTokenTTL": format_duration(ttl_ns),
            "Default": bool(merged.get("Default")),
            "Config": config,
            "Hash": None,
            "CreateTime": existing["CreateTime"] if existing else now,
            "ModifyTime": now,
            "CreateIndex": existing["CreateIndex"] if existing else index,
            "ModifyIndex": index,
        }
        if method["Default"]:
            for other in self.methods.values():
                other["Default"] = False
        self.methods[name] = method
        return method

    @staticmethod
    def _config(raw: Any) -> JSON:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ApiError(400, "Config: expected an object")
        unknown = sorted(set(raw) - set(CONFIG_FIELDS))
        if unknown:
            raise ApiError(400, f'Config: unknown field "{unknown[0]}"')
        config: JSON = {field: raw.get(field) for field in CONFIG_FIELDS}
        for field in ("ExpirationLeeway", "NotBeforeLeeway", "ClockSkewLeeway"):
            ns = _duration_ns(config[field], field)
            config[field] = format_duration(ns) if ns else ""
        config["JWKSURL"] = config["JWKSURL"] or ""
        config["OIDCDiscoveryURL"] = config["OIDCDiscoveryURL"] or ""
        config["OIDCDisableUserInfo"] = bool(config["OIDCDisableUserInfo"])
        for field in ("ClaimMappings", "ListClaimMappings"):
            value = config[field]
            if value is not None and (
                not isinstance(value, dict)
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            ):
                raise ApiError(400, f"Config.{field}: expected a map of strings")
        return config

    def delete_method(self, name: str) -> None:
        if self.methods.pop(name, None) is None:
            raise ApiError(404, "ACL auth method not found")
        for rule_id in [i for i, r in self.rules.items() if r["AuthMethod"] == name]:
            del self.rules[rule_id]  # Nomad deletes a method's binding rules with it
        self.acls.cluster.store.bump("acl_auth_method", "acl_binding_rule")

    # ------------------------------------------------------------------ binding rules

    def upsert_rule(self, body: JSON, rule_id: str | None = None) -> JSON:
        existing = self.rules.get(rule_id) if rule_id else None
        if rule_id and existing is None:
            raise ApiError(404, "ACL binding rule not found")
        if body.get("ID") and rule_id and body["ID"] != rule_id:
            raise ApiError(400, "ACL binding rule ID does not match path")
        merged = {**(existing or {}), **{k: v for k, v in body.items() if v is not None}}
        problems = []
        method = merged.get("AuthMethod") or ""
        if not method:
            problems.append("auth method is missing")
        if len(str(merged.get("Description") or "")) > 256:
            problems.append("description longer than 256")
        bind_type, bind_name = merged.get("BindType") or "", merged.get("BindName") or ""
        if not bind_type:
            problems.append("bind type is missing")
        elif bind_type in ("role", "policy") and not bind_name:
            problems.append("bind name is missing")
        elif bind_type == "management" and bind_name:
            problems.append("bind name should be empty")
        elif bind_type not in BIND_TYPES:
            problems.append(f'unsupported bind type: "{bind_type}"')
        selector = merged.get("Selector") or ""
        if selector:
            try:
                bexpr.compile_selector(selector)
            except bexpr.SelectorError as exc:
                problems.append(f"selector is invalid: {exc}")
        if problems:
            raise _errors(problems)
        if method not in self.methods:
            raise ApiError(400, f"ACL auth method {method} not found")
        now = rfc3339(self.acls.cluster.now_ns())
        index = self.acls.cluster.store.bump("acl_binding_rule")
        new = rule_id or new_id()
        rule: JSON = {
            "ID": new,
            "Description": merged.get("Description") or "",
            "AuthMethod": method,
            "Selector": selector,
            "BindType": bind_type,
            "BindName": bind_name,
            "Hash": None,
            "CreateTime": existing["CreateTime"] if existing else now,
            "ModifyTime": now,
            "CreateIndex": existing["CreateIndex"] if existing else index,
            "ModifyIndex": index,
        }
        self.rules[new] = rule
        return rule

    def delete_rule(self, rule_id: str) -> None:
        if self.rules.pop(rule_id, None) is None:
            raise ApiError(404, "ACL binding rule not found")
        self.acls.cluster.store.bump("acl_binding_rule")

    # ------------------------------------------------------------------ login

    def check_login_request(self, body: JSON) -> JSON:
        """The auth method a login names, after validating the request (under the lock)."""
        problems = []
        if not body.get("AuthMethodName"):
            problems.append("missing auth method name")
        if not body.get("LoginToken"):
            problems.append("missing login token")
        if problems:
            raise ApiError(400, "invalid login request: " + ", ".join(problems))
        method = self.methods.get(str(body["AuthMethodName"]))
        if method is None:
            raise ApiError(400, f'auth-method "{body["AuthMethodName"]}" not found')
        if method["Type"] != "JWT":
            raise ApiError(400, f"unsupported auth-method type: {method['Type']}")
        return dict(method)

    @staticmethod
    def verify(method: JSON, token: str) -> JSON:
        """The login token's claims (outside the lock: this may fetch the JWKS)."""
        try:
            return jwt_auth.validate(token, method["Config"])
        except jwt_auth.TokenInvalid as exc:
            raise ApiError(401, f"unable to validate provided token: {exc}") from None

    def login(self, method: JSON, claims: JSON) -> JSON:
        """Bind the verified claims and create the token (under the lock)."""
        data = jwt_auth.selector_data(claims, method["Config"])
        policies: list[str] = []
        roles: list[JSON] = []
        management = False
        for rule in sorted(self.rules.values(), key=lambda r: r["CreateIndex"]):
            if rule["AuthMethod"] != method["Name"] or not bexpr.matches(rule["Selector"], data):
                continue
            if rule["BindType"] == "management":
                management = True
                break
            variables = {f"value.{k}": v.lower() for k, v in data["value"].items()}
            name = interpolate(rule["BindName"], variables)
            if rule["BindType"] == "role":
                role = self.role_by_name(name)
                if role is not None and role["ID"] not in [r["ID"] for r in roles]:
                    roles.append({"ID": role["ID"], "Name": role["Name"]})
            elif _POLICY_NAME.match(name) and name in self.acls.policies and name not in policies:
                policies.append(name)
        if not management and not policies and not roles:
            raise ApiError(400, "no role or policy bindings matched")
        names = {"auth_method_type": "JWT", "auth_method_name": method["Name"]}
        names.update({f"value.{k}": v for k, v in data["value"].items()})
        token_body: JSON = {
            "Name": interpolate(method["TokenNameFormat"] or DEFAULT_NAME_FORMAT, names),
            "Type": "management" if management else "client",
            "Policies": [] if management else policies,
            "Roles": [] if management else roles,
            "Global": method["TokenLocality"] == "global",
            "ExpirationTTL": parse_duration(method["MaxTokenTTL"]),
        }
        return self.acls.issue_login_token(token_body)


def method_stub(method: JSON) -> JSON:
    keys = ("Name", "Type", "Default", "Hash", "CreateIndex", "ModifyIndex")
    return {k: method.get(k) for k in keys}


def rule_stub(rule: JSON) -> JSON:
    keys = ("ID", "Description", "AuthMethod", "Hash", "CreateIndex", "ModifyIndex")
    return {k: rule.get(k) for k in keys}
