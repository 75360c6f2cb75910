"""Routes for ACL roles, auth methods, binding rules and ``POST /v1/acl/login``.

The "ACL Required" column of each API page is the guard: writes need a management
token; role reads are allowed to a token holding that role; the auth-method list is
open to any caller (``nomad login`` lists methods before it has a token); login needs
no token at all. The JWT's keys are fetched outside the state lock, so a slow JWKS
server never stalls the rest of the API.
"""

from __future__ import annotations

from typing import Any

from .acl import PERMISSION_DENIED
from .acl_auth import AclAuth, method_stub, rule_stub
from .acl_store import public
from .guards import any_token, management
from .http import Reply, Request, Router
from .jobops import ApiError


def _auth(req: Request) -> AclAuth:
    auth: AclAuth = req.sim.acl_auth
    return auth


def _own_role(req: Request, role: dict[str, Any]) -> None:
    """A non-management token may read only the roles it carries."""
    if req.grant.management:
        return
    token = req.sim.acls.token_for_secret(req.token)
    if token is None or role["ID"] not in [r["ID"] for r in token.get("Roles") or []]:
        raise ApiError(403, PERMISSION_DENIED)


def register(router: Router) -> None:
    r = router

    # ---------------------------------------------------------------- roles

    r.add("POST", "/v1/acl/role", lambda req: _auth(req).upsert_role(req.body()), management)

    @r.route("GET", "/v1/acl/roles", guard=any_token, tables=("acl_role",))
    def list_roles(req: Request) -> Any:
        roles = sorted(_auth(req).roles.values(), key=lambda role: role["CreateIndex"])
        prefix = req.q("prefix") or ""
        if not req.grant.management:
            token = req.sim.acls.token_for_secret(req.token)
            own = {link["ID"] for link in (token or {}).get("Roles") or []}
            roles = [role for role in roles if role["ID"] in own]
        return [role for role in roles if role["ID"].startswith(prefix)]

    @r.route("GET", "/v1/acl/role/name/:name", guard=any_token, tables=("acl_role",))
    def read_role_by_name(req: Request) -> Any:
        role = _auth(req).role_by_name(req.groups["name"])
        if role is None:
            raise ApiError(404, "ACL role not found")
        _own_role(req, role)
        return role

    @r.route("GET", "/v1/acl/role/:id", guard=any_token, tables=("acl_role",))
    def read_role(req: Request) -> Any:
        role = _auth(req).roles.get(req.groups["id"])
        if role is None:
            raise ApiError(404, "ACL role not found")
        _own_role(req, role)
        return role

    @r.route("POST", "/v1/acl/role/:id", guard=management)
    def update_role(req: Request) -> Any:
        return _auth(req).upsert_role(req.body(), req.groups["id"])

    @r.route("DELETE", "/v1/acl/role/:id", guard=management)
    def delete_role(req: Request) -> Any:
        _auth(req).delete_role(req.groups["id"])
        return Reply("")

    # ---------------------------------------------------------------- auth methods

    r.add(
        "POST", "/v1/acl/auth-method", lambda req: _auth(req).upsert_method(req.body()), management
    )

    @r.route("GET", "/v1/acl/auth-methods", tables=("acl_auth_method",))
    def list_methods(req: Request) -> Any:
        methods = sorted(_auth(req).methods.values(), key=lambda m: m["CreateIndex"])
        return [method_stub(m) for m in methods]

    @r.route("GET", "/v1/acl/auth-method/:name", guard=management, tables=("acl_auth_method",))
    def read_method(req: Request) -> Any:
        method = _auth(req).methods.get(req.groups["name"])
        if method is None:
            raise ApiError(404, "ACL auth method not found")
        return method

    @r.route("POST", "/v1/acl/auth-method/:name", guard=management)
    def update_method(req: Request) -> Any:
        return _auth(req).upsert_method(req.body(), req.groups["name"])

    @r.route("DELETE", "/v1/acl/auth-method/:name", guard=management)
    def delete_method(req: Request) -> Any:
        _auth(req).delete_method(req.groups["name"])
        return Reply("")

    # ---------------------------------------------------------------- binding rules

    r.add(
        "POST", "/v1/acl/binding-rule", lambda req: _auth(req).upsert_rule(req.body()), management
    )

    @r.route("GET", "/v1/acl/binding-rules", guard=management, tables=("acl_binding_rule",))
    def list_rules(req: Request) -> Any:
        rules = sorted(_auth(req).rules.values(), key=lambda rule: rule["CreateIndex"])
        return [rule_stub(rule) for rule in rules]

    @r.route("GET", "/v1/acl/binding-rule/:id", guard=management, tables=("acl_binding_rule",))
    def read_rule(req: Request) -> Any:
        rule = _auth(req).rules.get(req.groups["id"])
        if rule is None:
            raise ApiError(404, "ACL binding rule not found")
        return rule

    @r.route("POST", "/v1/acl/binding-rule/:id", guard=management)
    def update_rule(req: Request) -> Any:
        return _auth(req).upsert_rule(req.body(), req.groups["id"])

    @r.route("DELETE", "/v1/acl/binding-rule/:id", guard=management)
    def delete_rule(req: Request) -> Any:
        _auth(req).delete_rule(req.groups["id"])
        return Reply("")

    # ---------------------------------------------------------------- login

    @r.route("POST", "/v1/acl/login", locked=False)
    def login(req: Request) -> Any:
        auth = _auth(req)
        body = req.body()
        with req.sim.store.lock:
            method = auth.check_login_request(body)
        claims = auth.verify(method, str(body["LoginToken"]))
        with req.sim.store.lock:
            if req.sim.acl_auth.methods.get(method["Name"]) is None:
                raise ApiError(400, f'auth-method "{method["Name"]}" not found')
            token = auth.login(method, claims)
        return public(token)
