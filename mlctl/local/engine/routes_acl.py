"""Routes for ACL bootstrap, policies, tokens, and Variables."""

from __future__ import annotations

from typing import Any

from . import locks
from .acl_store import public, stub
from .guards import any_token, management
from .http import Reply, Request, Router
from .jobops import ApiError
from .variables import ConflictError

JSON = dict[str, Any]


def _cas(req: Request) -> int | None:
    raw = req.q("cas")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "cas must be an integer") from None


def _visible(req: Request, conflicting: JSON) -> JSON:
    """A conflict shows the current Items only to a token that may read the variable."""
    if req.grant.allow_variable(conflicting["Namespace"], conflicting["Path"], "read"):
        return conflicting
    return {k: v for k, v in conflicting.items() if k != "Items"}


def _shown(req: Request, var: JSON, holder: str = "") -> JSON:
    """A variable as Nomad answers it: ``Lock`` only for a management token (or the
    holder, on a write), ``Items`` omitted when empty."""
    out = dict(var)
    lock_id = locks.held_by(var)
    if lock_id and not (req.grant.management or (holder and holder == lock_id)):
        out.pop("Lock", None)
    if "Items" in out and not out["Items"]:
        del out["Items"]
    return out


def _lock_conflict(req: Request, body: JSON) -> Reply:
    """A refused locked operation: the empty variable; a token that may read it gets
    it without the (empty) Lock, as Nomad decrypts nothing there."""
    if req.grant.allow_variable(body["Namespace"], body["Path"], "read"):
        body = {k: v for k, v in body.items() if k != "Lock"}
    return Reply(body, status=409)


def _writable_namespace(req: Request, body: dict[str, Any], path: str) -> str:
    """The namespace a variable write addresses (the body's, else the query's), once the
    token may write ``path`` there and the namespace exists."""
    namespace = str(body.get("Namespace") or req.namespace)
    if not req.grant.allow_variable(namespace, path, "write"):
        raise ApiError(403, "Permission denied")
    if namespace not in req.sim.cluster.namespaces:
        raise ApiError(400, f'namespace "{namespace}" does not exist')
    return namespace


def _lock_operation(req: Request, op: str, path: str) -> Any:
    """``?lock-acquire`` / ``?lock-renew`` / ``?lock-release`` (write capability)."""
    if req.q("cas"):
        raise ApiError(400, "CAS can't be used with lock operations")
    body = req.body()
    variables = req.sim.variables
    if op == locks.RENEW:  # a renew addresses the request's namespace, not the body's
        if not req.grant.allow_variable(req.namespace, path, "write"):
            raise ApiError(403, "Permission denied")
        var = variables.renew(req.namespace, path, body)
        return Reply(var, index=var["ModifyIndex"])
    namespace = _writable_namespace(req, body, path)
    try:
        if op == locks.ACQUIRE:
            var = variables.acquire(namespace, path, body)
            return _shown(req, var, holder=locks.held_by(var))
        return _shown(req, variables.release(namespace, path, body))
    except locks.LockConflict as exc:
        return _lock_conflict(req, exc.body)


def register(router: Router) -> None:
    r = router

    @r.route("POST", "/v1/acl/bootstrap")
    def bootstrap(req: Request) -> Any:
        body = req.body() if req.raw_body else {}
        return public(req.sim.acls.bootstrap(body.get("BootstrapSecret")))

    @r.route("GET", "/v1/acl/policies", guard=any_token, tables=("acl_policy",))
    def list_policies(req: Request) -> Any:
        acls = req.sim.acls
        names = list(acls.policies)
        if not req.grant.management:
            token = acls.token_for_secret(req.token)
            names = [n for n in names if token and n in (token["Policies"] or [])]
        return [
            {k: acls.policies[n][k] for k in ("Name", "Description", "CreateIndex", "ModifyIndex")}
            for n in sorted(names)
        ]

    @r.route("GET", "/v1/acl/policy/:name", guard=any_token, tables=("acl_policy",))
    def read_policy(req: Request) -> Any:
        acls = req.sim.acls
        name = req.groups["name"]
        if not req.grant.management:
            token = acls.token_for_secret(req.token)
            if not token or name not in (token["Policies"] or []):
                raise ApiError(403, "Permission denied")
        policy = acls.policies.get(name)
        if policy is None:
            raise ApiError(404, "ACL policy not found")
        return policy

    def write_policy(req: Request) -> Any:
        req.sim.acls.upsert_policy(req.groups["name"], req.body())
        return Reply("")

    r.add("POST", "/v1/acl/policy/:name", write_policy, guard=management)
    r.add("PUT", "/v1/acl/policy/:name", write_policy, guard=management)

    @r.route("DELETE", "/v1/acl/policy/:name", guard=management)
    def delete_policy(req: Request) -> Any:
        req.sim.acls.delete_policy(req.groups["name"])
        return Reply("")

    @r.route("GET", "/v1/acl/tokens", guard=management, tables=("acl_token",))
    def list_tokens(req: Request) -> Any:
        return [
            stub(t) for t in sorted(req.sim.acls.tokens.values(), key=lambda t: t["CreateIndex"])
        ]

    def create_token(req: Request) -> Any:
        return public(req.sim.acls.create_token(req.body()))

    r.add("POST", "/v1/acl/token", create_token, guard=management)
    r.add("PUT", "/v1/acl/token", create_token, guard=management)

    @r.route("GET", "/v1/acl/token/self", guard=any_token, tables=("acl_token",))
    def token_self(req: Request) -> Any:
        token = req.sim.acls.token_for_secret(req.token)
        if token is None:
            raise ApiError(403, "ACL token not found")
        return public(token)

    @r.route("GET", "/v1/acl/token/:id", guard=any_token, tables=("acl_token",))
    def read_token(req: Request) -> Any:
        acls = req.sim.acls
        token = acls.tokens.get(req.groups["id"])
        own = acls.token_for_secret(req.token)
        if not req.grant.management and (
            own is None or token is None or own["AccessorID"] != token["AccessorID"]
        ):
            raise ApiError(403, "Permission denied")
        if token is None:
            raise ApiError(404, "ACL token not found")
        return public(token)

    def update_token(req: Request) -> Any:
        body = req.body()
        body["AccessorID"] = req.groups["id"]
        return public(req.sim.acls.create_token(body))

    r.add("POST", "/v1/acl/token/:id", update_token, guard=management)

    @r.route("DELETE", "/v1/acl/token/:id", guard=any_token)
    def delete_token(req: Request) -> Any:
        acls = req.sim.acls
        own = acls.token_for_secret(req.token)
        if not req.grant.management and (own is None or own["AccessorID"] != req.groups["id"]):
            raise ApiError(403, "Permission denied")
        acls.delete_token(req.groups["id"])
        return Reply("")

    # ---------------------------------------------------------------- variables

    @r.route("GET", "/v1/vars", guard=any_token, tables=("variables",))
    def list_vars(req: Request) -> Any:
        names = list(req.sim.cluster.namespaces) if req.namespace == "*" else [req.namespace]
        prefix = req.q("prefix") or ""
        out = []
        req.sim.variables.expire()
        for (ns_, path), var in sorted(req.sim.variables.items.items()):
            if (
                ns_ in names
                and path.startswith(prefix)
                and req.grant.allow_variable(ns_, path, "list")
            ):
                out.append(_shown(req, req.sim.variables.meta(var)))
        return out

    @r.route("GET", "/v1/var/:path", guard=any_token, tables=("variables",))
    def read_var(req: Request) -> Any:
        path = req.groups["path"]
        if not req.grant.allow_variable(req.namespace, path, "read"):
            raise ApiError(403, "Permission denied")
        req.sim.variables.expire()
        var = req.sim.variables.get(req.namespace, path)
        if var is None:
            raise ApiError(404, "variable not found")
        return _shown(req, var)

    def write_var(req: Request) -> Any:
        path = req.groups["path"]
        op = locks.operation(req.params)
        if op is not None:
            return _lock_operation(req, op, path)
        body = req.body()
        namespace = _writable_namespace(req, body, path)
        try:
            var = req.sim.variables.put(namespace, path, body, _cas(req))
            return _shown(req, var, holder=locks.LockRequest.of(body).id)
        except ConflictError as exc:
            return Reply(_visible(req, exc.current), status=409)
        except locks.LockConflict as exc:
            return _lock_conflict(req, exc.body)

    r.add("PUT", "/v1/var/:path", write_var, guard=any_token)
    r.add("POST", "/v1/var/:path", write_var, guard=any_token)

    @r.route("DELETE", "/v1/var/:path", guard=any_token)
    def delete_var(req: Request) -> Any:
        path = req.groups["path"]
        if not req.grant.allow_variable(req.namespace, path, "destroy"):
            raise ApiError(403, "Permission denied")
        try:
            req.sim.variables.delete(req.namespace, path, _cas(req))
        except ConflictError as exc:
            return Reply(_visible(req, exc.current), status=409)
        except locks.LockConflict as exc:
            return _lock_conflict(req, exc.body)
        return Reply("", status=200)
