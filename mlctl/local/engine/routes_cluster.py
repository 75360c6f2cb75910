"""Routes for nodes, namespaces, service registrations and agent/status."""

from __future__ import annotations

import re
from typing import Any

from .guards import any_token, coarse, management, ns
from .http import Request, Router
from .jobops import ApiError
from .lifecycle import reconcile
from .scheduler import stop_alloc
from .services import alloc_registrations, serving
from .topology import node_stub

JSON = dict[str, Any]
_NS_NAME = re.compile(r"^[a-zA-Z0-9-]{1,128}$")


def _node(req: Request) -> JSON:
    node = req.sim.cluster.nodes.get(req.groups["id"])
    if node is None:
        raise ApiError(404, "node not found")
    return node


def registrations(req: Request, namespace_filter: set[str]) -> list[JSON]:
    """Nomad-provider service registrations of running allocations."""
    return [
        registration
        for alloc in req.sim.cluster.allocs.values()
        if alloc.namespace in namespace_filter and serving(alloc)
        for registration in alloc_registrations(alloc)
    ]


def register(router: Router) -> None:
    r = router

    # ---------------------------------------------------------------- nodes

    @r.route("GET", "/v1/nodes", guard=coarse("node", "read"), tables=("nodes",))
    def list_nodes(req: Request) -> Any:
        prefix = req.q("prefix") or ""
        nodes = [n for n in req.sim.cluster.nodes.values() if n["ID"].startswith(prefix)]
        stubs = [
            node_stub(n, req.flag("resources")) for n in sorted(nodes, key=lambda n: n["Name"])
        ]
        if not req.flag("os"):
            for stub in stubs:
                stub["Attributes"] = None
        return stubs

    @r.route("GET", "/v1/node/:id", guard=coarse("node", "read"), tables=("nodes",))
    def read_node(req: Request) -> Any:
        return _node(req)

    @r.route("GET", "/v1/node/:id/allocations", guard=coarse("node", "read"), tables=("allocs",))
    def node_allocs(req: Request) -> Any:
        node = _node(req)
        allowed = {
            n for n in req.sim.cluster.namespaces if req.grant.allow_namespace(n, "read-job")
        }
        return [
            a.to_api()
            for a in req.sim.cluster.allocs.values()
            if a.node["ID"] == node["ID"] and a.namespace in allowed
        ]

    @r.route("POST", "/v1/node/:id/eligibility", guard=coarse("node", "write"))
    def eligibility(req: Request) -> Any:
        node = _node(req)
        value = req.body().get("Eligibility")
        if value not in ("eligible", "ineligible"):
            raise ApiError(400, f'invalid scheduling eligibility "{value}"')
        if node["Drain"] and value == "eligible":
            raise ApiError(
                400, "can not set node's scheduling eligibility to eligible while draining"
            )
        node["SchedulingEligibility"] = value
        req.sim.cluster.touch_node(node, "NodeEligibility")
        return {
            "EvalIDs": None,
            "EvalCreateIndex": 0,
            "NodeModifyIndex": node["ModifyIndex"],
            "Index": node["ModifyIndex"],
        }

    @r.route("POST", "/v1/node/:id/drain", guard=coarse("node", "write"))
    def drain(req: Request) -> Any:
        node = _node(req)
        body = req.body()
        spec = body.get("DrainSpec")
        cluster = req.sim.cluster
        if spec is None:
            node["Drain"] = False
            node["DrainStrategy"] = None
            if body.get("MarkEligible"):
                node["SchedulingEligibility"] = "eligible"
            cluster.touch_node(node, "NodeDrain")
            return {"EvalIDs": None, "EvalCreateIndex": 0, "NodeModifyIndex": node["ModifyIndex"]}
        node["SchedulingEligibility"] = "ineligible"
        node["Drain"] = True
        node["DrainStrategy"] = {
            "Deadline": spec.get("Deadline", 0),
            "IgnoreSystemJobs": bool(spec.get("IgnoreSystemJobs")),
            "ForceDeadline": None,
            "StartedAt": cluster.now_ns(),
        }
        cluster.touch_node(node, "NodeDrain")
        jobs = set()
        for alloc in list(cluster.allocs.values()):
            if alloc.node["ID"] == node["ID"] and alloc.live:
                alloc.desired_transition["Migrate"] = True
                stop_alloc(cluster, alloc, "alloc is being migrated")
                jobs.add((alloc.namespace, alloc.job_id))
        evals = []
        for key in jobs:
            job = cluster.jobs.get(key)
            if job is not None:
                ev = cluster.new_eval(job, "node-drain", status="pending", NodeID=node["ID"])
                reconcile(cluster, job, ev)
                evals.append(ev["ID"])
        node["Drain"] = False
        node["DrainStrategy"] = None
        node["LastDrain"] = {
            "Status": "complete",
            "StartedAt": cluster.now_ns(),
            "UpdatedAt": cluster.now_ns(),
            "AccessorID": "",
            "Meta": None,
        }
        cluster.touch_node(node, "NodeDrain")
        return {
            "EvalIDs": evals or None,
            "EvalCreateIndex": req.sim.store.index,
            "NodeModifyIndex": node["ModifyIndex"],
        }

    # ---------------------------------------------------------------- namespaces

    @r.route("GET", "/v1/namespaces", guard=any_token, tables=("namespaces",))
    def list_namespaces(req: Request) -> Any:
        prefix = req.q("prefix") or ""
        return [
            n
            for name, n in sorted(req.sim.cluster.namespaces.items())
            if name.startswith(prefix) and req.grant.allow_any_namespace_op(name)
        ]

    @r.route("GET", "/v1/namespace/:name", guard=any_token, tables=("namespaces",))
    def read_namespace(req: Request) -> Any:
        name = req.groups["name"]
        if not req.grant.allow_any_namespace_op(name):
            raise ApiError(403, "Permission denied")
        ns_ = req.sim.cluster.namespaces.get(name)
        if ns_ is None:
            raise ApiError(404, "namespace not found")
        return ns_

    def upsert_namespace(req: Request) -> Any:
        body = req.body()
        name = body.get("Name") or req.groups.get("name")
        if not name or not _NS_NAME.match(name):
            raise ApiError(400, f"invalid name {name!r}. Must match regex ^[a-zA-Z0-9-]{{1,128}}$")
        if req.groups.get("name") and body.get("Name") not in (None, req.groups["name"]):
            raise ApiError(400, "Namespace name does not match request path")
        req.sim.cluster.add_namespace(name, body.get("Description") or "", body.get("Meta"))
        return Reply_empty()

    r.add("POST", "/v1/namespace", upsert_namespace, guard=management)
    r.add("PUT", "/v1/namespace", upsert_namespace, guard=management)
    r.add("POST", "/v1/namespace/:name", upsert_namespace, guard=management)
    r.add("PUT", "/v1/namespace/:name", upsert_namespace, guard=management)

    @r.route("DELETE", "/v1/namespace/:name", guard=management)
    def delete_namespace(req: Request) -> Any:
        name = req.groups["name"]
        cluster = req.sim.cluster
        if name == "default":
            raise ApiError(400, "default namespace can not be deleted")
        if name not in cluster.namespaces:
            raise ApiError(404, f"namespace {name!r} not found")
        if any(ns_ == name and not j["Stop"] for (ns_, _), j in cluster.jobs.items()):
            raise ApiError(
                500, f'namespace "{name}" has non-terminal jobs in regions: [{cluster.region}]'
            )
        if any(ns_ == name for ns_, _ in req.sim.variables.items):
            raise ApiError(
                500, f'namespace "{name}" has non-terminal variables in regions: [{cluster.region}]'
            )
        del cluster.namespaces[name]
        req.sim.store.bump("namespaces")
        return Reply_empty()

    # ---------------------------------------------------------------- services

    @r.route("GET", "/v1/services", guard=ns("read-job"), tables=("allocs",))
    def list_services(req: Request) -> Any:
        allowed = set(req.namespaces_with("read-job"))
        grouped: dict[str, dict[str, set[str]]] = {}
        for reg in registrations(req, allowed):
            tags = grouped.setdefault(reg["Namespace"], {}).setdefault(reg["ServiceName"], set())
            tags.update(reg["Tags"])
        return [
            {
                "Namespace": n,
                "Services": [
                    {"ServiceName": s, "Tags": sorted(t)} for s, t in sorted(svcs.items())
                ],
            }
            for n, svcs in sorted(grouped.items())
        ]

    @r.route("GET", "/v1/service/:name", guard=ns("read-job"), tables=("allocs",))
    def read_service(req: Request) -> Any:
        allowed = set(req.namespaces_with("read-job"))
        regs = [x for x in registrations(req, allowed) if x["ServiceName"] == req.groups["name"]]
        tag = req.q("tag")
        if tag:
            regs = [x for x in regs if tag in x["Tags"]]
        return regs

    # ---------------------------------------------------------------- status / agent

    @r.route("GET", "/v1/status/leader")
    def leader(req: Request) -> Any:
        return "127.0.0.1:4647"

    @r.route("GET", "/v1/status/peers")
    def peers(req: Request) -> Any:
        return ["127.0.0.1:4647"]

    @r.route("GET", "/v1/regions")
    def regions(req: Request) -> Any:
        return [req.sim.cluster.region]

    @r.route("GET", "/v1/agent/self", guard=coarse("agent", "read"))
    def agent_self(req: Request) -> Any:
        return {
            "config": {
                "Region": req.sim.cluster.region,
                "Datacenter": "dc1",
                "Version": {"Version": "1.8.4"},
                "ACL": {"Enabled": req.sim.acls.enabled},
                "Server": {"Enabled": True},
                "Client": {"Enabled": True},
            },
            "member": {
                "Name": "nomad-sim.global",
                "Addr": "127.0.0.1",
                "Port": 4648,
                "Status": "alive",
                "Tags": {"region": req.sim.cluster.region, "dc": "dc1", "build": "1.8.4"},
            },
            "stats": {"nomad": {"leader": "true", "server": "true"}},
        }

    @r.route("GET", "/v1/agent/health")
    def agent_health(req: Request) -> Any:
        return {"client": {"ok": True, "message": "ok"}, "server": {"ok": True, "message": "ok"}}

    @r.route("GET", "/v1/agent/members", guard=coarse("node", "read"))
    def members(req: Request) -> Any:
        return {
            "ServerName": "nomad-sim",
            "ServerRegion": req.sim.cluster.region,
            "ServerDC": "dc1",
            "Members": [
                {
                    "Name": "nomad-sim.global",
                    "Addr": "127.0.0.1",
                    "Port": 4648,
                    "Status": "alive",
                    "Tags": {"region": req.sim.cluster.region, "dc": "dc1"},
                }
            ],
        }


def Reply_empty() -> Any:
    from .http import Reply

    return Reply("")
