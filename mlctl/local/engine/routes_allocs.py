"""Routes for allocations, deployments and the client endpoints (restart, logs)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

from .alloc import Alloc, task_event
from .guards import ns
from .http import Reply, Request, Router
from .jobops import ApiError
from .lifecycle import promote, reconcile
from .logfiles import LogView
from .scheduler import stop_alloc
from .services import alloc_registrations, serving

JSON = dict[str, Any]


def _alloc(req: Request, capability: str = "read-job") -> Alloc:
    alloc = req.sim.cluster.allocs.get(req.groups["id"])
    if alloc is None:
        raise ApiError(404, "alloc not found")
    req.need_ns(capability, alloc.namespace)
    return alloc


def _deployment(req: Request, capability: str = "read-job") -> JSON:
    dep = req.sim.cluster.deployments.get(req.groups["id"])
    if dep is None:
        raise ApiError(404, "deployment not found")
    req.need_ns(capability, dep["Namespace"])
    return dep


def register(router: Router) -> None:
    r = router

    @r.route("GET", "/v1/allocations", guard=ns("read-job"), tables=("allocs",))
    def list_allocs(req: Request) -> Any:
        allowed = set(req.namespaces_with("read-job"))
        prefix = req.q("prefix") or ""
        allocs = [
            a
            for a in req.sim.cluster.allocs.values()
            if a.namespace in allowed and a.id.startswith(prefix)
        ]
        with_resources = req.flag("resources")
        return [a.stub(with_resources) for a in sorted(allocs, key=lambda a: -a.create_index)]

    @r.route("GET", "/v1/allocation/:id", tables=("allocs",))
    def read_alloc(req: Request) -> Any:
        return _alloc(req).to_api()

    def stop(req: Request) -> Any:
        alloc = _alloc(req, "alloc-lifecycle")
        cluster = req.sim.cluster
        alloc.desired_transition["Migrate"] = True
        stop_alloc(cluster, alloc, "alloc was stopped by the user")
        job = cluster.job(alloc.namespace, alloc.job_id)
        ev_id = ""
        if job is not None:
            ev = cluster.new_eval(job, "alloc-stop", status="pending")
            reconcile(cluster, job, ev)
            ev_id = ev["ID"]
        return {"EvalID": ev_id, "Index": req.sim.store.index}

    r.add("POST", "/v1/allocation/:id/stop", stop)
    r.add("PUT", "/v1/allocation/:id/stop", stop)

    def restart(req: Request) -> Any:
        alloc = _alloc(req, "alloc-lifecycle")
        body = req.body()
        if alloc.terminal or alloc.phase != "running":
            raise ApiError(500, "Task not running")
        task = body.get("TaskName") or ""
        names = [task] if task and not body.get("AllTasks") else list(alloc.task_states)
        if task and task not in alloc.task_states:
            raise ApiError(404, f'Task "{task}" not found in allocation')
        req.sim.lifecycle.runner(alloc).restart(req.sim.lifecycle, alloc, names)
        req.sim.cluster.touch_alloc(alloc)
        return {}

    r.add("POST", "/v1/client/allocation/:id/restart", restart)
    r.add("PUT", "/v1/client/allocation/:id/restart", restart)

    def signal(req: Request) -> Any:
        alloc = _alloc(req, "alloc-lifecycle")
        if alloc.terminal:
            raise ApiError(500, "Task not running")
        body = req.body()
        name = body.get("Signal") or "SIGKILL"
        if not isinstance(name, str) or not _valid_signal(name):
            raise ApiError(400, f'invalid signal: "{name}"')
        task = body.get("Task") or ""
        if task and task not in alloc.task_states:
            raise ApiError(404, f'Task "{task}" not found in allocation')
        names = [task] if task else list(alloc.task_states)
        req.sim.lifecycle.runner(alloc).signal(alloc, names, name)
        now_ns = req.sim.cluster.now_ns()
        for each in names:
            alloc.task_states[each]["Events"].append(
                task_event(
                    "Signaling",
                    f"Task being sent signal {name}",
                    now_ns,
                    {"signal": name},
                    TaskSignal=name,
                )
            )
        req.sim.cluster.touch_alloc(alloc)
        return {}

    r.add("POST", "/v1/client/allocation/:id/signal", signal)
    r.add("PUT", "/v1/client/allocation/:id/signal", signal)

    @r.route("GET", "/v1/allocation/:id/checks")
    def checks(req: Request) -> Any:
        alloc = _alloc(req, "read-job")
        results = getattr(req.sim.lifecycle.runner(alloc), "check_results", None)
        return results(alloc) if results is not None else dict(alloc.checks)

    @r.route("GET", "/v1/allocation/:id/services", tables=("allocs",))
    def alloc_services(req: Request) -> Any:
        alloc = _alloc(req, "read-job")
        return alloc_registrations(alloc) if serving(alloc) else []

    @r.route("GET", "/v1/client/allocation/:id/stats")
    def stats(req: Request) -> Any:
        alloc = _alloc(req, "read-job")
        return {
            "ResourceUsage": {
                "MemoryStats": {"RSS": alloc.offer.memory * 1024 * 512, "Usage": 0},
                "CpuStats": {"Percent": 1.5, "TotalTicks": alloc.offer.cpu * 0.1},
                "DeviceStats": None,
            },
            "Tasks": {},
            "Timestamp": req.sim.cluster.now_ns(),
        }

    @r.route("GET", "/v1/client/fs/logs/:id", locked=False)
    def logs(req: Request) -> Any:
        return _logs(req)

    # ---------------------------------------------------------------- deployments

    @r.route("GET", "/v1/deployments", guard=ns("read-job"), tables=("deployment",))
    def list_deployments(req: Request) -> Any:
        allowed = set(req.namespaces_with("read-job"))
        prefix = req.q("prefix") or ""
        deps = [
            d
            for d in req.sim.cluster.deployments.values()
            if d["Namespace"] in allowed and d["ID"].startswith(prefix)
        ]
        return sorted(deps, key=lambda d: -d["CreateIndex"])

    @r.route("GET", "/v1/deployment/:id", tables=("deployment",))
    def read_deployment(req: Request) -> Any:
        return _deployment(req)

    @r.route("GET", "/v1/deployment/allocations/:id", tables=("allocs", "deployment"))
    def deployment_allocs(req: Request) -> Any:
        dep = _deployment(req)
        return [a.stub() for a in req.sim.cluster.allocs.values() if a.deployment_id == dep["ID"]]

    @r.route("POST", "/v1/deployment/promote/:id")
    def promote_deployment(req: Request) -> Any:
        dep = _deployment(req, "submit-job")
        body = req.body()
        if dep["Status"] != "running":
            raise ApiError(400, f"can't promote terminal deployment (status {dep['Status']!r})")
        groups = None if body.get("All", not body.get("Groups")) else list(body.get("Groups") or [])
        canary_groups = [n for n, s in dep["TaskGroups"].items() if s["DesiredCanaries"]]
        if not canary_groups:
            raise ApiError(400, "no canaries to promote")
        for name in groups or canary_groups:
            state = dep["TaskGroups"].get(name)
            if state is None:
                raise ApiError(400, f'deployment has no task group "{name}"')
            healthy = [
                i
                for i in state["PlacedCanaries"] or []
                if (req.sim.cluster.allocs[i].deployment_status or {}).get("Healthy")
            ]
            if len(healthy) < state["DesiredCanaries"]:
                raise ApiError(
                    400,
                    f'Task group "{name}" has {len(healthy)}/{state["DesiredCanaries"]} '
                    "healthy allocations",
                )
        promote(req.sim.cluster, dep, groups)
        return _deployment_update(req, dep)

    @r.route("POST", "/v1/deployment/fail/:id")
    def fail_deployment(req: Request) -> Any:
        dep = _deployment(req, "submit-job")
        if dep["Status"] not in ("running", "paused", "pending"):
            raise ApiError(400, "can't fail terminal deployment")
        before = (req.sim.cluster.job(dep["Namespace"], dep["JobID"]) or {}).get("Version")
        req.sim.lifecycle.fail(dep, "Deployment marked as failed")
        after = (req.sim.cluster.job(dep["Namespace"], dep["JobID"]) or {}).get("Version")
        reply = _deployment_update(req, dep)
        if after != before:
            reply["RevertedJobVersion"] = after
        return reply

    @r.route("POST", "/v1/deployment/pause/:id")
    def pause_deployment(req: Request) -> Any:
        dep = _deployment(req, "submit-job")
        if dep["Status"] not in ("running", "paused"):
            raise ApiError(400, "can't pause terminal deployment")
        paused = bool(req.body().get("Pause"))
        dep["Status"] = "paused" if paused else "running"
        dep["StatusDescription"] = "Deployment is paused" if paused else "Deployment is running"
        req.sim.cluster.touch_deployment(dep)
        return _deployment_update(req, dep)

    @r.route("POST", "/v1/deployment/allocation-health/:id")
    def alloc_health(req: Request) -> Any:
        dep = _deployment(req, "submit-job")
        body = req.body()
        for ids, healthy in (
            (body.get("HealthyAllocationIDs"), True),
            (body.get("UnhealthyAllocationIDs"), False),
        ):
            for alloc_id in ids or []:
                alloc = req.sim.cluster.allocs.get(alloc_id)
                if alloc is None or alloc.deployment_id != dep["ID"]:
                    raise ApiError(400, f"alloc {alloc_id} is not part of deployment")
                alloc.forced_health = healthy
                alloc.deployment_status = (
                    None
                    if alloc.deployment_status is None
                    else {**alloc.deployment_status, "Healthy": None}
                )
        req.sim.lifecycle.tick(force=True)
        return _deployment_update(req, dep)


def _deployment_update(req: Request, dep: JSON) -> JSON:
    return {
        "EvalID": "",
        "EvalCreateIndex": 0,
        "DeploymentModifyIndex": dep["ModifyIndex"],
        "Index": req.sim.store.index,
    }


def _logs(req: Request) -> Reply:
    sim = req.sim
    with sim.store.lock:
        alloc = sim.cluster.allocs.get(req.groups["id"])
        if alloc is None:
            raise ApiError(404, f'unknown allocation ID "{req.groups["id"]}"')
        req.need_ns("read-logs", alloc.namespace)
        task = req.q("task")
        if not task:
            raise ApiError(400, "must include task name")
        kind = req.q("type")
        if kind not in ("stdout", "stderr"):
            raise ApiError(400, "must include type: stdout or stderr")
        if task not in alloc.task_states:
            raise ApiError(400, f'unknown task name "{task}"')
        origin = req.q("origin") or "start"
        if origin not in ("start", "end"):
            raise ApiError(400, "origin must be start or end")
        try:
            offset = int(req.q("offset") or "0")
        except ValueError:
            raise ApiError(400, "offset must be an integer") from None
    plain = req.flag("plain")
    follow = req.flag("follow")
    log_dir = getattr(req.sim.lifecycle.runner(alloc), "log_dir", None)
    if log_dir is not None:
        view = LogView(log_dir(alloc.id), task, kind)
        return _file_logs(req, alloc, view, offset, origin, plain, follow)
    file_name = f"alloc/logs/{task}.{kind}.0"

    def snapshot() -> tuple[bytes, bool]:
        with sim.store.lock:
            return bytes(alloc.logs.get((task, kind), b"")), alloc.terminal

    data, _ = snapshot()
    start = offset if origin == "start" else max(0, len(data) - offset)
    start = min(start, len(data))

    def frame(chunk: bytes, end: int) -> bytes:
        if plain:
            return chunk
        return json.dumps(
            {"Offset": end, "Data": base64.b64encode(chunk).decode(), "File": file_name}
        ).encode()

    if not follow:
        chunk = data[start:]
        body = frame(chunk, len(data)) if chunk or plain else b""
        return Reply(
            body, content_type="text/plain; charset=utf-8" if plain else "application/json"
        )

    def stream() -> Iterator[bytes]:
        pos = start
        while not sim.stopped.is_set():
            current, done = snapshot()
            if len(current) > pos:
                yield frame(current[pos:], len(current))
                pos = len(current)
            elif done:
                return
            time.sleep(0.05)

    return Reply(
        stream=stream(), content_type="text/plain; charset=utf-8" if plain else "application/json"
    )


def _valid_signal(name: str) -> bool:
    import signal as signals

    return name.startswith("SIG") and hasattr(signals, name) and not name.startswith("SIG_")


LOG_CHUNK = 64 * 1024
FOLLOW_POLL = 0.1  # seconds between looks at a followed log


def _file_logs(
    req: Request,
    alloc: Alloc,
    view: LogView,
    offset: int,
    origin: str,
    plain: bool,
    follow: bool,
) -> Reply:
    """A real task's rotated log files, streamed in bounded chunks (never all in memory)."""
    sim = req.sim

    def frame(chunk: bytes, index: int, end: int) -> bytes:
        if plain:
            return chunk
        return json.dumps(
            {"Offset": end, "Data": base64.b64encode(chunk).decode(), "File": view.file_name(index)}
        ).encode()

    def finished() -> bool:
        with sim.store.lock:
            return alloc.terminal or alloc.desired_status != "run"

    def stream() -> Iterator[bytes]:
        pos = view.seek(offset, origin)
        while not sim.stopped.is_set():
            data, pos, index = view.read(pos, LOG_CHUNK)
            if data:
                yield frame(data, index, pos.offset)
                continue
            if not follow or finished():
                return
            time.sleep(FOLLOW_POLL)

    return Reply(
        stream=stream(), content_type="text/plain; charset=utf-8" if plain else "application/json"
    )
