"""Simulator-only steering routes under ``/v1/_sim/`` (no real Nomad has these).

They mirror the in-process ``NomadSim`` methods so a standalone simulator can be
steered with curl; they bypass ACLs on purpose (tests steer, clients never do).
"""

from __future__ import annotations

from typing import Any

from .http import Reply, Request, Router
from .jobops import ApiError
from .topology import GpuSpec, NodeSpec


def register(router: Router) -> None:
    r = router

    def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (KeyError, ValueError) as exc:
            raise ApiError(400, f"simulator: {exc}") from None

    @r.route("POST", "/v1/_sim/nodes", locked=False)
    def add_node(req: Request) -> Any:
        body = req.body()
        gpus = [
            GpuSpec(g.get("model", "Tesla T4"), int(g.get("memory_mib", 15360)))
            for g in body.get("gpus") or []
        ]
        spec = NodeSpec(
            name=body.get("name") or f"node-{len(req.sim.cluster.nodes) + 1}",
            cpu=int(body.get("cpu", 4000)),
            memory=int(body.get("memory", 16384)),
            gpus=gpus,
            datacenter=body.get("datacenter", "dc1"),
            node_pool=body.get("node_pool", "default"),
            node_class=body.get("node_class", ""),
            meta=body.get("meta") or {},
        )
        return call(req.sim.add_node, spec)

    @r.route("DELETE", "/v1/_sim/node/:ref", locked=False)
    def remove_node(req: Request) -> Any:
        call(req.sim.remove_node, req.groups["ref"])
        return Reply("")

    @r.route("POST", "/v1/_sim/node/:ref/status", locked=False)
    def node_status(req: Request) -> Any:
        status = req.body().get("Status")
        call(req.sim.set_node_status, req.groups["ref"], status)
        return Reply("")

    @r.route("POST", "/v1/_sim/allocation/:id/health", locked=False)
    def alloc_health(req: Request) -> Any:
        call(req.sim.set_alloc_health, req.groups["id"], bool(req.body().get("Healthy")))
        return Reply("")

    @r.route("POST", "/v1/_sim/allocation/:id/fail", locked=False)
    def fail_task(req: Request) -> Any:
        body = req.body()
        call(
            req.sim.fail_task,
            req.groups["id"],
            task=body.get("Task"),
            exit_code=int(body.get("ExitCode", 1)),
            oom=bool(body.get("OOM")),
        )
        return Reply("")

    @r.route("POST", "/v1/_sim/allocation/:id/log", locked=False)
    def write_log(req: Request) -> Any:
        body = req.body()
        call(
            req.sim.write_log,
            req.groups["id"],
            body.get("Task"),
            body.get("Type", "stdout"),
            body.get("Text", ""),
        )
        return Reply("")

    @r.route("POST", "/v1/_sim/behaviour", locked=False)
    def behaviour(req: Request) -> Any:
        body = req.body()
        call(
            req.sim.set_behaviour,
            body.get("Mode", "healthy"),
            job=body.get("Job"),
            version=body.get("Version"),
            image=body.get("Image"),
            namespace=body.get("Namespace", "default"),
        )
        return Reply("")

    @r.route("POST", "/v1/_sim/event-stream/cut", locked=False)
    def cut(req: Request) -> Any:
        req.sim.cut_event_streams(mid_line=bool(req.body().get("MidLine")))
        return Reply("")

    @r.route("POST", "/v1/_sim/event-stream/stall", locked=False)
    def stall(req: Request) -> Any:
        req.sim.stall_event_streams(bool(req.body().get("Stalled", True)))
        return Reply("")

    @r.route("POST", "/v1/_sim/faults", locked=False)
    def fault(req: Request) -> Any:
        body = req.body()
        count, seconds = body.get("Count"), body.get("Seconds")
        req.sim.inject_fault(
            status=int(body.get("Status", 500)),
            message=str(body.get("Message", "rpc error: No cluster leader")),
            prefix=str(body.get("Prefix", "/v1/")),
            count=int(count) if count is not None else None,
            seconds=float(seconds) if seconds is not None else None,
            method=body.get("Method"),
        )
        return Reply("")

    @r.route("DELETE", "/v1/_sim/faults", locked=False)
    def clear_faults(req: Request) -> Any:
        req.sim.clear_faults()
        return Reply("")

    @r.route("POST", "/v1/_sim/advance", locked=False)
    def advance(req: Request) -> Any:
        call(req.sim.advance, float(req.body().get("Seconds", 0)))
        return Reply("")

    @r.route("GET", "/v1/_sim/info", locked=False)
    def info(req: Request) -> Any:
        return {
            "TimeScale": req.sim.clock.time_scale,
            "ACLs": req.sim.acls.enabled,
            "Address": req.sim.address,
            "Nodes": [n["Name"] for n in req.sim.cluster.nodes.values()],
        }
