"""Nomad API objects (documented shapes, trimmed) for the monitor's pure unit tests."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def unsigned_jwt(claims: JSON) -> str:
    """A JWT-shaped token whose payload is ``claims`` (unsigned: the monitor only reads
    ``exp`` and the metrics claim; servers in these tests compare the whole string)."""

    def b64(data: JSON) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'RS256'})}.{b64(claims)}.c2lnbmF0dXJl"


def ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def job(
    job_id: str = "mlctl-iris",
    namespace: str = "default",
    count: int = 2,
    index: int = 10,
    version: int = 0,
    stop: bool = False,
    alerts: dict[str, Any] | None = None,
    status: str = "running",
    gpus: int = 0,
) -> JSON:
    meta = {"mlctl.model": job_id.removeprefix("mlctl-"), "mlctl.version": "1.0.0"}
    if alerts is not None:
        meta["mlctl.alerts"] = json.dumps(alerts)
    devices = (
        [
            {
                "Name": "nvidia/gpu",
                "Count": gpus,
                "Constraints": [
                    {"LTarget": "${device.attr.memory}", "RTarget": "16000 MiB", "Operand": ">="}
                ],
            }
        ]
        if gpus
        else None
    )
    return {
        "ID": job_id,
        "Name": job_id,
        "Namespace": namespace,
        "Type": "service",
        "Status": status,
        "Stop": stop,
        "Version": version,
        "Meta": meta,
        "TaskGroups": [
            {
                "Name": "model",
                "Count": count,
                "Services": [{"Name": job_id.removeprefix("mlctl-"), "Provider": "nomad"}],
                "Tasks": [
                    {
                        "Name": "server",
                        "Resources": {"CPU": 500, "MemoryMB": 512, "Devices": devices},
                    }
                ],
            }
        ],
        "CreateIndex": 5,
        "ModifyIndex": index,
        "JobModifyIndex": index,
    }


def task_event(kind: str, at: datetime, exit_code: int = 0, oom: bool = False) -> JSON:
    details: dict[str, str] = {}
    if kind == "Terminated":
        details = {"exit_code": str(exit_code)}
        if oom:
            details["oom_killed"] = "true"
    return {
        "Type": kind,
        "Time": ns(at),
        "DisplayMessage": f"{kind} event",
        "Details": details,
        "ExitCode": exit_code,
    }


def alloc(
    alloc_id: str = "a1",
    job_id: str = "mlctl-iris",
    namespace: str = "default",
    node_id: str = "n1",
    index: int = 20,
    client_status: str = "running",
    desired_status: str = "run",
    healthy: bool | None = True,
    deployment_id: str = "d1",
    events: list[JSON] | None = None,
    restarts: int = 0,
    gpu_ids: list[str] | None = None,
    canary: bool = False,
) -> JSON:
    devices = [{"Name": "Tesla T4", "DeviceIDs": gpu_ids}] if gpu_ids else None
    return {
        "ID": alloc_id,
        "Namespace": namespace,
        "JobID": job_id,
        "TaskGroup": "model",
        "NodeID": node_id,
        "NodeName": f"node-{node_id}",
        "JobVersion": 0,
        "DesiredStatus": desired_status,
        "ClientStatus": client_status,
        "ClientDescription": "",
        "DeploymentID": deployment_id,
        "DeploymentStatus": {"Healthy": healthy, "Canary": canary} if deployment_id else None,
        "TaskStates": {
            "server": {
                "State": "running",
                "Restarts": restarts,
                "Events": events or [task_event("Started", T0)],
            }
        },
        "AllocatedResources": {
            "Tasks": {
                "server": {
                    "Cpu": {"CpuShares": 500},
                    "Memory": {"MemoryMB": 512},
                    "Devices": devices,
                }
            }
        },
        "CreateIndex": 15,
        "ModifyIndex": index,
        "CreateTime": ns(T0),
        "ModifyTime": ns(T0),
    }


def deployment(
    dep_id: str = "d1",
    job_id: str = "mlctl-iris",
    status: str = "running",
    index: int = 30,
    create_index: int = 25,
    canaries: int = 0,
    placed_canaries: int = 0,
    healthy: int = 0,
    promoted: bool = False,
    desired: int = 2,
) -> JSON:
    return {
        "ID": dep_id,
        "Namespace": "default",
        "JobID": job_id,
        "JobVersion": 0,
        "Status": status,
        "StatusDescription": f"Deployment is {status}",
        "TaskGroups": {
            "model": {
                "DesiredTotal": desired,
                "PlacedAllocs": desired,
                "HealthyAllocs": healthy,
                "UnhealthyAllocs": 0,
                "DesiredCanaries": canaries,
                "PlacedCanaries": [f"c{i}" for i in range(placed_canaries)],
                "Promoted": promoted,
                "AutoRevert": True,
            }
        },
        "CreateIndex": create_index,
        "ModifyIndex": index,
        "ModifyTime": ns(T0),
    }


def node(
    node_id: str = "n1",
    name: str = "gpu-1",
    index: int = 3,
    status: str = "ready",
    eligibility: str = "eligible",
    drain: bool = False,
    gpus: list[tuple[str, bool]] | None = None,
) -> JSON:
    devices = (
        [
            {
                "Vendor": "nvidia",
                "Type": "gpu",
                "Name": "Tesla T4",
                "Attributes": {"memory": {"Int": 15360, "Unit": "MiB"}},
                "Instances": [{"ID": gid, "Healthy": ok} for gid, ok in gpus],
            }
        ]
        if gpus
        else None
    )
    return {
        "ID": node_id,
        "Name": name,
        "Datacenter": "dc1",
        "Status": status,
        "SchedulingEligibility": eligibility,
        "Drain": drain,
        "NodePool": "default",
        "NodeClass": "",
        "NodeResources": {
            "Cpu": {"CpuShares": 4000},
            "Memory": {"MemoryMB": 16384},
            "Devices": devices,
        },
        "ModifyIndex": index,
    }


def blocked_eval(eval_id: str = "e1", job_id: str = "mlctl-iris", index: int = 40) -> JSON:
    return {
        "ID": eval_id,
        "Namespace": "default",
        "JobID": job_id,
        "Status": "blocked",
        "FailedTGAllocs": {
            "model": {
                "NodesEvaluated": 2,
                "NodesFiltered": 0,
                "NodesExhausted": 2,
                "DimensionExhausted": {"devices: no devices match request": 2},
            }
        },
        "QueuedAllocations": {"model": 1},
        "CreateIndex": index,
        "ModifyIndex": index,
        "CreateTime": ns(T0),
    }


def event(topic: str, kind: str, payload_key: str, obj: JSON, index: int | None = None) -> JSON:
    return {
        "Topic": topic,
        "Type": kind,
        "Key": obj.get("ID", ""),
        "Namespace": obj.get("Namespace", ""),
        "Index": index if index is not None else obj.get("ModifyIndex", 0),
        "Payload": {payload_key: obj},
    }
