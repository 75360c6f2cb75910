"""What is deployed and where: model rows for ``mlctl status``, GPU rows for ``mlctl nodes``.

Pure functions over Nomad's JSON (jobs, allocations, service registrations, nodes);
the commands fetch, these decide what a row says.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlctl.nomad.types import Allocation, Job, JobStub, Node, ServiceRegistration

MODEL_META = "mlctl.model"
LIVE_CLIENT_STATUSES = frozenset({"pending", "running"})


def is_model(job: JobStub | Job) -> bool:
    """Jobs mlctl deployed carry the model name in their meta."""
    return bool((job.get("Meta") or {}).get(MODEL_META))


def is_live(alloc: Allocation) -> bool:
    """Wanted and not finished: it holds resources on its node."""
    return alloc.get("DesiredStatus") == "run" and alloc.get("ClientStatus") in LIVE_CLIENT_STATUSES


def is_running(alloc: Allocation) -> bool:
    return alloc.get("DesiredStatus") == "run" and alloc.get("ClientStatus") == "running"


def is_healthy(alloc: Allocation) -> bool:
    """Running and judged healthy by its deployment (checks passed for min_healthy_time)."""
    return is_running(alloc) and (alloc.get("DeploymentStatus") or {}).get("Healthy") is True


def gpus_per_alloc(job: Job) -> int:
    """GPUs one allocation holds: the device counts of every task, GPU devices only."""
    return sum(
        int(device.get("Count") or 0)
        for group in job.get("TaskGroups") or []
        for task in group.get("Tasks") or []
        for device in (task.get("Resources") or {}).get("Devices") or []
        if "gpu" in device.get("Name", "")
    )


def desired_count(job: Job) -> int:
    if job.get("Stop"):
        return 0
    return sum(int(g.get("Count") or 0) for g in job.get("TaskGroups") or [])


def endpoints(services: Iterable[ServiceRegistration]) -> list[str]:
    return sorted({f"http://{s.get('Address')}:{s.get('Port')}" for s in services})


def model_row(
    job: Job, allocs: list[Allocation], services: list[ServiceRegistration]
) -> dict[str, Any]:
    """One model: version, desired/running/healthy, GPUs in use, endpoints."""
    meta = job.get("Meta") or {}
    running = sum(1 for a in allocs if is_running(a))
    return {
        "model": meta.get(MODEL_META, job.get("ID")),
        "version": meta.get("mlctl.version"),
        "job": job.get("ID"),
        "job_version": job.get("Version"),
        "status": "stopped" if job.get("Stop") else job.get("Status"),
        "desired": desired_count(job),
        "running": running,
        "healthy": sum(1 for a in allocs if is_healthy(a)),
        "gpus": running * gpus_per_alloc(job),
        "endpoints": endpoints(services),
    }


def alloc_row(alloc: Allocation) -> dict[str, Any]:
    health = (alloc.get("DeploymentStatus") or {}).get("Healthy")
    return {
        "alloc": alloc.get("ID", "")[:8],
        "node": alloc.get("NodeName") or alloc.get("NodeID", "")[:8],
        "job_version": alloc.get("JobVersion"),
        "desired": alloc.get("DesiredStatus"),
        "status": alloc.get("ClientStatus"),
        "healthy": None if health is None else bool(health),
        "gpus": allocated_device_ids(alloc),
    }


def allocated_device_ids(alloc: Allocation, kind: str = "gpu") -> list[str]:
    """The device instance IDs (GPU UUIDs) an allocation holds."""
    tasks = (alloc.get("AllocatedResources") or {}).get("Tasks") or {}
    return [
        device_id
        for task in tasks.values()
        for device in task.get("Devices") or []
        if kind in str(device.get("Type", "")) or kind in str(device.get("Name", ""))
        for device_id in device.get("DeviceIDs") or []
    ]


def _attribute_text(value: Any) -> str | None:
    """Nomad device attributes are ``{"Int"|"Float"|"String"|"Bool": v, "Unit": u}``."""
    if isinstance(value, dict):
        for key in ("Int", "Float", "String", "Bool"):
            if value.get(key) is not None:
                unit = value.get("Unit") or ""
                return f"{value[key]} {unit}".strip()
        return None
    return None if value is None else str(value)


def node_gpus(node: Node, allocs: list[Allocation]) -> list[dict[str, Any]]:
    """Each GPU model on the node: instances, healthy, allocated and free."""
    in_use = {i for a in allocs if is_live(a) for i in allocated_device_ids(a)}
    rows = []
    for device in (node.get("NodeResources") or {}).get("Devices") or []:
        if device.get("Type") != "gpu":
            continue
        instances = device.get("Instances") or []
        ids = {i.get("ID") for i in instances}
        healthy = {i.get("ID") for i in instances if i.get("Healthy")}
        attributes = device.get("Attributes") or {}
        rows.append(
            {
                "name": f"{device.get('Vendor')}/{device.get('Type')}/{device.get('Name')}",
                "model": device.get("Name"),
                "memory": _attribute_text(attributes.get("memory")),
                "instances": len(ids),
                "healthy": len(healthy),
                "allocated": len(ids & in_use),
                "free": len(healthy - in_use),
            }
        )
    return rows


def node_row(node: Node, allocs: list[Allocation]) -> dict[str, Any]:
    gpus = node_gpus(node, allocs)
    return {
        "node": node.get("Name"),
        "id": node.get("ID", "")[:8],
        "datacenter": node.get("Datacenter"),
        "pool": node.get("NodePool") or "default",
        "class": node.get("NodeClass") or None,
        "status": node.get("Status"),
        "eligibility": node.get("SchedulingEligibility"),
        "allocs": sum(1 for a in allocs if is_live(a)),
        "gpus": gpus,
    }


def gpu_summary(gpus: list[dict[str, Any]]) -> str:
    """``2x Tesla T4 (16384 MiB): 2 healthy, 1 allocated, 1 free`` per model, for tables."""
    return "; ".join(
        f"{g['instances']}x {g['model']}"
        + (f" ({g['memory']})" if g["memory"] else "")
        + f": {g['healthy']} healthy, {g['allocated']} allocated, {g['free']} free"
        for g in gpus
    )
