"""Nomad's JSON objects -> the monitor's compact records and views (pure functions).

The Store never keeps Nomad's raw JSON (a full allocation with its task events is a few
kilobytes; ten thousand of them would dominate memory): each object is converted here
once, as it arrives, into the few fields the views, rules and actions read. Shapes
follow hashicorp/nomad ``website/content/api-docs`` (allocations, deployments, nodes,
evaluations, services); missing or null fields read as empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mlctl.explain import GroupAsk, ask_of, explain_placement
from mlctl.monitor.clock import from_ns
from mlctl.monitor.views import (
    AllocView,
    BlockedEvalView,
    DeploymentView,
    EndpointView,
    GpuInstanceView,
    GroupView,
    TaskEventView,
)

JSON = dict[str, Any]
#: Task events kept per allocation view (the TUI shows "last task events").
LAST_EVENTS = 6
#: Crash timestamps kept per allocation (enough for any sensible crash-loop window).
CRASH_HISTORY = 50
MODEL_META = "mlctl.model"
VERSION_META = "mlctl.version"
ALERTS_META = "mlctl.alerts"


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# ---------------------------------------------------------------------- allocations


def _task_events(task_states: dict[str, Any] | None) -> list[TaskEventView]:
    events: list[TaskEventView] = []
    for task, state in (task_states or {}).items():
        for raw in (state or {}).get("Events") or []:
            details = raw.get("Details") or {}
            events.append(
                TaskEventView(
                    task=task,
                    type=str(raw.get("Type") or ""),
                    message=str(raw.get("DisplayMessage") or raw.get("Message") or ""),
                    time=from_ns(_int(raw.get("Time"))),
                    exit_code=_int(raw.get("ExitCode") or details.get("exit_code")),
                    oom_killed=str(details.get("oom_killed", "")).lower() == "true",
                )
            )
    events.sort(key=lambda e: (e.time is None, e.time))
    return events


def _gpu_ids(resources: dict[str, Any] | None) -> tuple[str, ...]:
    ids: list[str] = []
    for task in ((resources or {}).get("Tasks") or {}).values():
        for device in (task or {}).get("Devices") or []:
            ids.extend(str(i) for i in device.get("DeviceIDs") or [])
    return tuple(sorted(ids))


def _allocated(resources: dict[str, Any] | None) -> tuple[int, int]:
    cpu = memory = 0
    for task in ((resources or {}).get("Tasks") or {}).values():
        cpu += _int(((task or {}).get("Cpu") or {}).get("CpuShares"))
        memory += _int(((task or {}).get("Memory") or {}).get("MemoryMB"))
    return cpu, memory


def events_key(task_states: dict[str, Any] | None) -> tuple[Any, ...]:
    """Cheap identity of an allocation's task events: most updates leave them as they
    were, and then the events need not be converted again."""
    return tuple(
        (task, len(events), events[-1].get("Time") if events else 0, (state or {}).get("Restarts"))
        for task, state in (task_states or {}).items()
        for events in [(state or {}).get("Events") or []]
    )


def alloc_view(obj: JSON, previous: AllocView | None = None) -> AllocView:
    """An allocation (full, or the list stub with ``resources=true``) as an AllocView.

    ``previous`` is the Store's copy of the same allocation. What Nomad never changes in
    an allocation (its placement, resources, devices, creation) and task events that did
    not change are taken from it instead of being converted again: most updates only
    move a status or an index, and this is the monitor's hot path.
    """
    states = obj.get("TaskStates") or {}
    key = events_key(states)
    if previous is not None and previous.events_key == key:
        last_events, crash_times = previous.last_events, previous.crash_times
        oom_killed, restarts = previous.oom_killed, previous.restarts
    else:
        events = _task_events(states)
        terminations = [e for e in events if e.type == "Terminated"]
        last_events = tuple(events[-LAST_EVENTS:])
        crash_times = tuple(e.time for e in events if e.is_crash and e.time)[-CRASH_HISTORY:]
        oom_killed = bool(terminations and terminations[-1].oom_killed)
        restarts = sum(_int((s or {}).get("Restarts")) for s in states.values())
    if previous is not None and previous.node_id == obj.get("NodeID"):
        cpu, memory, gpu_ids = previous.cpu_mhz, previous.memory_mb, previous.gpu_ids
        created = previous.created
    else:
        resources = obj.get("AllocatedResources")
        cpu, memory = _allocated(resources)
        if not cpu and obj.get("Resources"):
            cpu = _int(obj["Resources"].get("CPU"))
            memory = _int(obj["Resources"].get("MemoryMB"))
        gpu_ids = _gpu_ids(resources)
        created = from_ns(_int(obj.get("CreateTime")))
    deployment_status = obj.get("DeploymentStatus") or {}
    return AllocView(
        id=str(obj.get("ID") or ""),
        namespace=str(obj.get("Namespace") or "default"),
        job_id=str(obj.get("JobID") or ""),
        group=str(obj.get("TaskGroup") or ""),
        node_id=str(obj.get("NodeID") or ""),
        node_name=str(obj.get("NodeName") or ""),
        job_version=_int(obj.get("JobVersion")),
        desired_status=str(obj.get("DesiredStatus") or ""),
        client_status=str(obj.get("ClientStatus") or ""),
        client_description=str(obj.get("ClientDescription") or ""),
        deployment_id=str(obj.get("DeploymentID") or ""),
        healthy=deployment_status.get("Healthy"),
        canary=bool(deployment_status.get("Canary")),
        restarts=restarts,
        last_events=last_events,
        crash_times=crash_times,
        oom_killed=oom_killed,
        gpu_ids=gpu_ids,
        cpu_mhz=cpu,
        memory_mb=memory,
        created=created,
        modified=from_ns(_int(obj.get("ModifyTime"))),
        create_index=_int(obj.get("CreateIndex")),
        modify_index=_int(obj.get("ModifyIndex")),
        events_key=key,
    )


def merge_crash_history(old: AllocView | None, new: AllocView) -> AllocView:
    """``new`` with the crashes seen in earlier versions of it kept.

    Nomad keeps only the last few task events per task, so a crash loop's history would
    slide out of view; the monitor sees every update and keeps the union.
    """
    if old is None or not old.crash_times:
        return new
    merged = tuple(sorted(set(old.crash_times) | set(new.crash_times)))[-CRASH_HISTORY:]
    if merged == new.crash_times:
        return new
    from dataclasses import replace

    return replace(new, crash_times=merged)


# ---------------------------------------------------------------------- deployments


def deployment_view(obj: JSON) -> DeploymentView:
    groups = (obj.get("TaskGroups") or {}).values()
    return DeploymentView(
        id=str(obj.get("ID") or ""),
        namespace=str(obj.get("Namespace") or "default"),
        job_id=str(obj.get("JobID") or ""),
        job_version=_int(obj.get("JobVersion")),
        status=str(obj.get("Status") or ""),
        description=str(obj.get("StatusDescription") or ""),
        desired_total=sum(_int(g.get("DesiredTotal")) for g in groups),
        placed=sum(_int(g.get("PlacedAllocs")) for g in groups),
        healthy=sum(_int(g.get("HealthyAllocs")) for g in groups),
        unhealthy=sum(_int(g.get("UnhealthyAllocs")) for g in groups),
        canaries_desired=sum(_int(g.get("DesiredCanaries")) for g in groups),
        canaries_placed=sum(len(g.get("PlacedCanaries") or []) for g in groups),
        canaries_healthy=_healthy_canaries(groups),
        promoted=any(bool(g.get("Promoted")) for g in groups),
        auto_revert=any(bool(g.get("AutoRevert")) for g in groups),
        create_index=_int(obj.get("CreateIndex")),
        modify_index=_int(obj.get("ModifyIndex")),
        modified=from_ns(_int(obj.get("ModifyTime"))),
    )


def _healthy_canaries(groups: Any) -> int:
    """Healthy canaries: while canaries are unpromoted every healthy alloc is a canary."""
    total = 0
    for group in groups:
        if _int(group.get("DesiredCanaries")) and not group.get("Promoted"):
            total += min(_int(group.get("HealthyAllocs")), len(group.get("PlacedCanaries") or []))
    return total


# ---------------------------------------------------------------------- nodes


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node's own fields; allocated resources and GPU holders come from allocations."""

    id: str
    name: str
    datacenter: str
    status: str
    eligibility: str
    drain: bool
    pool: str
    node_class: str
    cpu_total: int
    memory_total: int
    gpus: tuple[GpuInstanceView, ...]
    modify_index: int


def _gpus(resources: JSON) -> tuple[GpuInstanceView, ...]:
    out: list[GpuInstanceView] = []
    for device in resources.get("Devices") or []:
        name = "/".join(str(device.get(k) or "") for k in ("Vendor", "Type", "Name"))
        memory = ((device.get("Attributes") or {}).get("memory") or {}).get("Int")
        for instance in device.get("Instances") or []:
            out.append(
                GpuInstanceView(
                    id=str(instance.get("ID") or ""),
                    name=name,
                    memory_mib=_int(memory) or None,
                    healthy=bool(instance.get("Healthy")),
                )
            )
    return tuple(out)


def node_record(obj: JSON) -> NodeRecord:
    resources = obj.get("NodeResources") or {}
    return NodeRecord(
        id=str(obj.get("ID") or ""),
        name=str(obj.get("Name") or ""),
        datacenter=str(obj.get("Datacenter") or ""),
        status=str(obj.get("Status") or ""),
        eligibility=str(obj.get("SchedulingEligibility") or ""),
        drain=bool(obj.get("Drain") or obj.get("DrainStrategy")),
        pool=str(obj.get("NodePool") or "default"),
        node_class=str(obj.get("NodeClass") or ""),
        cpu_total=_int((resources.get("Cpu") or {}).get("CpuShares")),
        memory_total=_int((resources.get("Memory") or {}).get("MemoryMB")),
        gpus=_gpus(resources),
        modify_index=_int(obj.get("ModifyIndex")),
    )


# ---------------------------------------------------------------------- jobs


@dataclass(frozen=True, slots=True)
class JobRecord:
    namespace: str
    id: str
    name: str
    managed: bool
    job_type: str
    version: int
    model_version: str
    status: str
    stop: bool
    groups: tuple[GroupView, ...]
    asks: tuple[tuple[str, GroupAsk], ...]
    services: tuple[str, ...]  #: Nomad-provider service names the job declares
    alert_settings: dict[str, Any] = field(default_factory=dict)
    modify_index: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.id)

    def ask(self, group: str) -> GroupAsk | None:
        return next((a for name, a in self.asks if name == group), None)


def _alert_settings(meta: dict[str, Any]) -> dict[str, Any]:
    raw = meta.get(ALERTS_META)
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {"_invalid": f"meta {ALERTS_META} is not JSON"}
    return parsed if isinstance(parsed, dict) else {"_invalid": f"meta {ALERTS_META} not a map"}


def _service_names(groups: list[JSON]) -> tuple[str, ...]:
    names = {
        str(service.get("Name") or "")
        for group in groups
        for holder in [group, *(group.get("Tasks") or [])]
        for service in holder.get("Services") or []
        if (service.get("Provider") or "consul") == "nomad"
    }
    return tuple(sorted(names - {""}))


def job_record(obj: JSON) -> JobRecord:
    meta = obj.get("Meta") or {}
    groups = obj.get("TaskGroups") or []
    job_id = str(obj.get("ID") or "")
    return JobRecord(
        namespace=str(obj.get("Namespace") or "default"),
        id=job_id,
        name=str(meta.get(MODEL_META) or job_id),
        managed=MODEL_META in meta,
        job_type=str(obj.get("Type") or "service"),
        version=_int(obj.get("Version")),
        model_version=str(meta.get(VERSION_META) or ""),
        status=str(obj.get("Status") or ""),
        stop=bool(obj.get("Stop")),
        groups=tuple(GroupView(str(g.get("Name") or ""), _int(g.get("Count"))) for g in groups),
        asks=tuple((str(g.get("Name") or ""), ask_of(g)) for g in groups),
        services=_service_names(groups),
        alert_settings=_alert_settings(meta),
        modify_index=_int(obj.get("ModifyIndex")),
    )


# ---------------------------------------------------------------------- evaluations


@dataclass(frozen=True, slots=True)
class EvalRecord:
    """A blocked evaluation's placement metrics, explained once the job is known."""

    id: str
    namespace: str
    job_id: str
    failed: dict[str, Any]
    queued: int
    modify_index: int
    created: Any


def eval_record(obj: JSON) -> EvalRecord | None:
    """The record of a *blocked* evaluation; None for any other status."""
    if obj.get("Status") != "blocked":
        return None
    return EvalRecord(
        id=str(obj.get("ID") or ""),
        namespace=str(obj.get("Namespace") or "default"),
        job_id=str(obj.get("JobID") or ""),
        failed=dict(obj.get("FailedTGAllocs") or {}),
        queued=sum(_int(v) for v in (obj.get("QueuedAllocations") or {}).values()),
        modify_index=_int(obj.get("ModifyIndex")),
        created=from_ns(_int(obj.get("CreateTime"))),
    )


def blocked_view(record: EvalRecord, job: JobRecord | None) -> BlockedEvalView:
    """Nomad's placement metrics in plain words (what the group asked for, when known)."""
    reasons = [
        explain_placement(group, metric, job.ask(group) if job else None).text
        for group, metric in sorted(record.failed.items())
    ]
    waiting = f"{record.queued} allocations wait for capacity" if record.queued else ""
    reason = "; ".join(reasons) or waiting or "waiting for capacity"
    return BlockedEvalView(
        id=record.id,
        namespace=record.namespace,
        job_id=record.job_id,
        reason=reason,
        modify_index=record.modify_index,
        created=record.created,
    )


# ---------------------------------------------------------------------- services


def endpoint_view(obj: JSON) -> EndpointView:
    return EndpointView(
        service=str(obj.get("ServiceName") or ""),
        alloc_id=str(obj.get("AllocID") or ""),
        address=str(obj.get("Address") or ""),
        port=_int(obj.get("Port")),
    )
