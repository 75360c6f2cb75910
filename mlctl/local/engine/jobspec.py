"""Canonicalize and validate an API job the way a Nomad server does on register/plan.

Defaults follow the job-specification docs (update, restart, reschedule,
ephemeral_disk, resources, migrate).  Validation errors are collected and reported
in Nomad's multi-error format so clients see every problem at once.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from . import jobschema
from .durations import parse_duration

JSON = dict[str, Any]
SEC = 1_000_000_000
MIN = 60 * SEC
HOUR = 60 * MIN

JOB_TYPES = ("service", "batch", "system", "sysbatch")
VOLATILE_JOB_FIELDS = (
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
)
_VALID_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,128}$")


class JobInvalid(Exception):
    """The job cannot be registered; ``str()`` is Nomad's multi-error text."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        body = "".join(f"\n\t* {p}" for p in problems)
        super().__init__(f"{count} {noun} occurred:{body}\n\n")


def default_update() -> JSON:
    return {
        "Stagger": 30 * SEC,
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * SEC,
        "HealthyDeadline": 5 * MIN,
        "ProgressDeadline": 10 * MIN,
        "Canary": 0,
        "AutoRevert": False,
        "AutoPromote": False,
    }


def default_restart(job_type: str) -> JSON:
    if job_type in ("batch", "sysbatch"):
        return {"Interval": 24 * HOUR, "Attempts": 3, "Delay": 15 * SEC, "Mode": "fail"}
    return {"Interval": 30 * MIN, "Attempts": 2, "Delay": 15 * SEC, "Mode": "fail"}


def default_reschedule(job_type: str) -> JSON | None:
    if job_type == "service":
        return {
            "Attempts": 0,
            "Interval": 0,
            "Delay": 30 * SEC,
            "DelayFunction": "exponential",
            "MaxDelay": HOUR,
            "Unlimited": True,
        }
    if job_type == "batch":
        return {
            "Attempts": 1,
            "Interval": 24 * HOUR,
            "Delay": 5 * SEC,
            "DelayFunction": "constant",
            "MaxDelay": 0,
            "Unlimited": False,
        }
    return None


def _merge(defaults: JSON | None, *layers: JSON | None) -> JSON | None:
    """Later layers win field by field; null fields inherit."""
    if defaults is None and not any(layers):
        return None
    out = dict(defaults or {})
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is not None:
                out[key] = value
    return out


def canonicalize(raw: JSON, namespace: str, region: str) -> JSON:
    """Return a full job (every known field present) with server-side defaults applied."""
    job = copy.deepcopy(raw)
    job_type = job.get("Type") or "service"
    job["Type"] = job_type
    job["Namespace"] = job.get("Namespace") or namespace
    job["Region"] = job.get("Region") or region
    job["Name"] = job.get("Name") or job.get("ID")
    job["Priority"] = 50 if job.get("Priority") is None else job["Priority"]
    job["AllAtOnce"] = bool(job.get("AllAtOnce"))
    job["Datacenters"] = job.get("Datacenters") or ["*"]
    job["NodePool"] = job.get("NodePool") or "default"
    job["Stop"] = bool(job.get("Stop"))
    job["Dispatched"] = bool(job.get("Dispatched"))
    for key in ("Constraints", "Affinities", "Spreads"):
        job[key] = [_constraint(c) for c in job.get(key) or []] or None
    job_update = job.get("Update")
    for group in job.get("TaskGroups") or []:
        _canonicalize_group(group, job_type, job_update)
    if job_type != "service":
        job["Update"] = _merge(None, job_update)
    else:
        job["Update"] = _merge(default_update(), job_update)
        job["Update"]["MaxParallel"] = (job_update or {}).get("MaxParallel") or 1
    return jobschema.fill_nulls(job, jobschema.JOB)  # type: ignore[no-any-return]


def _constraint(c: JSON) -> JSON:
    out = dict(c)
    out["Operand"] = out.get("Operand") or "="
    out.setdefault("LTarget", "")
    out.setdefault("RTarget", "")
    return out


def _canonicalize_group(group: JSON, job_type: str, job_update: JSON | None) -> None:
    group["Count"] = 1 if group.get("Count") is None else group["Count"]
    group["Constraints"] = [_constraint(c) for c in group.get("Constraints") or []] or None
    group["EphemeralDisk"] = _merge(
        {"Sticky": False, "Migrate": False, "SizeMB": 300}, group.get("EphemeralDisk")
    )
    group["RestartPolicy"] = _merge(default_restart(job_type), group.get("RestartPolicy"))
    group["ReschedulePolicy"] = _merge(default_reschedule(job_type), group.get("ReschedulePolicy"))
    if job_type == "service":
        group["Update"] = _merge(default_update(), job_update, group.get("Update"))
        group["Migrate"] = _merge(
            {
                "MaxParallel": 1,
                "HealthCheck": "checks",
                "MinHealthyTime": 10 * SEC,
                "HealthyDeadline": 5 * MIN,
            },
            group.get("Migrate"),
        )
    else:
        group["Update"] = None
    for service in group.get("Services") or []:
        _canonicalize_service(service)
    for task in group.get("Tasks") or []:
        _canonicalize_task(task, group["RestartPolicy"])


def _canonicalize_service(service: JSON) -> None:
    service["Provider"] = service.get("Provider") or "consul"
    service["AddressMode"] = service.get("AddressMode") or "auto"
    for check in service.get("Checks") or []:
        check["OnUpdate"] = check.get("OnUpdate") or "require_healthy"


def _canonicalize_task(task: JSON, group_restart: JSON | None) -> None:
    resources = task.get("Resources") or {}
    resources["CPU"] = 100 if resources.get("CPU") is None else resources["CPU"]
    resources["MemoryMB"] = 300 if resources.get("MemoryMB") is None else resources["MemoryMB"]
    resources.setdefault("MemoryMaxMB", 0)
    resources.setdefault("Cores", 0)
    for device in resources.get("Devices") or []:
        device["Count"] = 1 if device.get("Count") is None else device["Count"]
        device["Constraints"] = [_constraint(c) for c in device.get("Constraints") or []] or None
    task["Resources"] = resources
    task["Constraints"] = [_constraint(c) for c in task.get("Constraints") or []] or None
    task["RestartPolicy"] = _merge(group_restart, task.get("RestartPolicy"))
    task["KillTimeout"] = (
        task.get("KillTimeout") if task.get("KillTimeout") is not None else 5 * SEC
    )
    task["LogConfig"] = _merge({"MaxFiles": 10, "MaxFileSizeMB": 10}, task.get("LogConfig"))
    task["Leader"] = bool(task.get("Leader"))
    for service in task.get("Services") or []:
        _canonicalize_service(service)


def validate(job: JSON) -> None:
    """Raise JobInvalid listing every problem of a canonical job."""
    problems: list[str] = []
    if not job.get("ID"):
        problems.append("Missing job ID")
    elif " " in job["ID"]:
        problems.append("Job ID contains a space")
    elif "\x00" in job["ID"]:
        problems.append("Job ID contains a null character")
    if job["Type"] not in JOB_TYPES:
        problems.append(f'Invalid job type: "{job["Type"]}"')
    if not 1 <= job["Priority"] <= 100:
        problems.append("Job priority must be between [1, 100]")
    groups = job.get("TaskGroups") or []
    if not groups:
        problems.append("Missing job task groups")
    seen: set[str] = set()
    for index, group in enumerate(groups):
        name = group.get("Name") or ""
        if name in seen:
            problems.append(f"Job task group {index + 1} redefines '{name}' from group {index}")
        seen.add(name)
        problems.extend(
            f"Task group {name or index + 1} validation failed: {p}" for p in _group_problems(group)
        )
    if problems:
        raise JobInvalid(problems)


def _group_problems(group: JSON) -> list[str]:
    problems: list[str] = []
    if not group.get("Name"):
        problems.append("Missing task group name")
    elif not _VALID_NAME.match(group["Name"]):
        problems.append(f"Task group name {group['Name']!r} is not valid")
    if group["Count"] < 0:
        problems.append("Task group count can't be negative")
    tasks = group.get("Tasks") or []
    if not tasks:
        problems.append("Missing tasks for task group")
    update = group.get("Update")
    if update and update.get("Canary", 0) < 0:
        problems.append("Canary count can not be less than zero")
    if update and update.get("MaxParallel", 0) < 0:
        problems.append("Max parallel can not be less than zero")
    if update and update["MaxParallel"] and update["HealthyDeadline"] <= update["MinHealthyTime"]:
        problems.append("Minimum healthy time must be less than healthy deadline")
    ports = {p["Label"] for n in group.get("Networks") or [] for p in _ports(n)}
    for service in group.get("Services") or []:
        problems.extend(_service_problems(service, ports))
    names: set[str] = set()
    for task in tasks:
        tname = task.get("Name") or ""
        if tname in names:
            problems.append(f"Task {tname!r} redefined")
        names.add(tname)
        for p in _task_problems(task, ports):
            problems.append(f"Task {tname or '?'} validation failed: {p}")
    return problems


def _ports(network: JSON) -> list[JSON]:
    return list(network.get("ReservedPorts") or []) + list(network.get("DynamicPorts") or [])


def _service_problems(service: JSON, ports: set[str]) -> list[str]:
    problems: list[str] = []
    if service.get("Provider") not in ("consul", "nomad"):
        problems.append(
            f"Service provider must be one of consul or nomad, got {service['Provider']!r}"
        )
    label = service.get("PortLabel")
    if label and not label.isdigit() and label not in ports:
        problems.append(f"Service {service.get('Name')!r}: port label {label!r} is not defined")
    for check in service.get("Checks") or []:
        if check.get("Type") in ("http", "tcp", "grpc") and not check.get("Interval"):
            problems.append(f"Check {check.get('Name') or check.get('Type')!r}: missing interval")
        if check.get("Type") == "http" and not check.get("Path"):
            problems.append("http checks require a path")
    return problems


def _task_problems(task: JSON, ports: set[str]) -> list[str]:
    problems: list[str] = []
    if not task.get("Name"):
        problems.append("Missing task name")
    if not task.get("Driver"):
        problems.append("Missing task driver")
    resources = task["Resources"]
    if resources["CPU"] < 1 and not resources.get("Cores"):
        problems.append(f"minimum CPU value is 1; got {resources['CPU']}")
    if resources["MemoryMB"] < 10:
        problems.append(f"minimum MemoryMB value is 10; got {resources['MemoryMB']}")
    for device in resources.get("Devices") or []:
        if not device.get("Name"):
            problems.append(
                "device name must be given as one of the following: "
                "type, vendor/type, or vendor/type/name"
            )
        if device["Count"] < 1:
            problems.append(f"device {device.get('Name')!r}: count must be at least 1")
    for artifact in task.get("Artifacts") or []:
        if not artifact.get("GetterSource"):
            problems.append("artifact: source must be specified")
    for service in task.get("Services") or []:
        problems.extend(_service_problems(service, ports))
    config = task.get("Config") or {}
    if task.get("Driver") == "docker" and not config.get("image"):
        problems.append('docker: Missing required argument "image"')
    for label in config.get("ports") or [] if isinstance(config.get("ports"), list) else []:
        if label not in ports:
            problems.append(
                f"docker: port {label!r} not found, has it been defined in group network?"
            )
    return problems


def spec_of(job: JSON) -> JSON:
    """The part of a job that a change to makes a new version."""
    return {k: v for k, v in job.items() if k not in VOLATILE_JOB_FIELDS}


def group_spec(group: JSON) -> JSON:
    """A group minus its count: equal specs mean an in-place update, not a replacement."""
    return {k: v for k, v in group.items() if k not in ("Count", "Update", "Scaling", "Meta")}


def duration_field(value: Any) -> int:
    """Accept a duration as nanoseconds or a Go duration string (ACL token TTLs)."""
    if isinstance(value, bool):
        raise ValueError("duration must be a number or a string")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("duration must be a number or a string")
