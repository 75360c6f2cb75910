"""A task's runtime environment (``NOMAD_*`` variables) and ``${...}`` interpolation.

Pure functions, following Nomad's "Runtime Environment Settings" and "Runtime Variable
Interpolation" references: task identifiers, resource limits, task directories, ports
(``NOMAD_PORT_<label>`` is the mapped ``to`` port when one is set, else the host port),
meta as ``NOMAD_META_<key>``, GPU instances as ``NVIDIA_VISIBLE_DEVICES``; node values
(``${attr.*}``, ``${meta.*}``, ``${node.*}``) and environment variables interpolate in
a task's config, env and artifacts.  An unknown ``${...}`` stays as written, as in Nomad.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

#: Host variables a task never inherits: Nomad's default ``env.denylist`` plus
#: mlctl's own secret and every client setting of the person who started the runtime.
DENIED_HOST_VARS = frozenset(
    {
        "CONSUL_TOKEN",
        "CONSUL_HTTP_TOKEN",
        "CONSUL_LICENSE",
        "NOMAD_TOKEN",
        "NOMAD_LICENSE",
        "VAULT_TOKEN",
        "VAULT_LICENSE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS",
    }
)
DENIED_HOST_PREFIXES = ("NOMAD_", "VAULT_", "MLCTL_")
_INTERPOLATION = re.compile(r"\$\{([^}]+)\}")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_]")
_UNSAFE_META = re.compile(r"[^A-Za-z0-9_.]")


@dataclass(frozen=True)
class TaskPaths:
    """The directories Nomad gives a task (absolute paths on the host)."""

    alloc_dir: str
    task_dir: str
    local_dir: str
    secrets_dir: str
    tmp_dir: str


def host_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What a raw_exec task inherits from the host: everything but the deny list."""
    return {
        key: value
        for key, value in environ.items()
        if key not in DENIED_HOST_VARS and not key.startswith(DENIED_HOST_PREFIXES)
    }


def _meta(job: JSON, group: JSON, task: JSON) -> dict[str, str]:
    merged: dict[str, str] = {}
    for layer in (job.get("Meta"), group.get("Meta"), task.get("Meta")):
        merged.update(layer or {})
    return merged


def _port_vars(ports: list[JSON], ip: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for port in ports:
        label = _UNSAFE_NAME.sub("_", port["Label"])
        host_port = int(port["Value"])
        mapped = int(port.get("To") or 0)
        inside = mapped if mapped > 0 else host_port
        env[f"NOMAD_IP_{label}"] = ip
        env[f"NOMAD_PORT_{label}"] = str(inside)
        env[f"NOMAD_ADDR_{label}"] = f"{ip}:{inside}"
        env[f"NOMAD_HOST_IP_{label}"] = ip
        env[f"NOMAD_HOST_PORT_{label}"] = str(host_port)
        env[f"NOMAD_HOST_ADDR_{label}"] = f"{ip}:{host_port}"
    return env


def nomad_variables(
    alloc: JSON,
    job: JSON,
    group: JSON,
    task: JSON,
    node: JSON,
    ports: list[JSON],
    devices: list[JSON],
    paths: TaskPaths,
) -> dict[str, str]:
    """The ``NOMAD_*`` (and GPU) variables of one task.  ``alloc`` has ID, Name, Index,
    Namespace; ``node`` is the node JSON the task runs on."""
    resources = task.get("Resources") or {}
    env = {
        "NOMAD_ALLOC_DIR": paths.alloc_dir,
        "NOMAD_TASK_DIR": paths.local_dir,
        "NOMAD_SECRETS_DIR": paths.secrets_dir,
        "NOMAD_MEMORY_LIMIT": str(resources.get("MemoryMB") or 0),
        "NOMAD_CPU_LIMIT": str(resources.get("CPU") or 0),
        "NOMAD_ALLOC_ID": alloc["ID"],
        "NOMAD_SHORT_ALLOC_ID": alloc["ID"][:8],
        "NOMAD_ALLOC_NAME": alloc["Name"],
        "NOMAD_ALLOC_INDEX": str(alloc["Index"]),
        "NOMAD_TASK_NAME": task["Name"],
        "NOMAD_GROUP_NAME": group["Name"],
        "NOMAD_JOB_ID": job["ID"],
        "NOMAD_JOB_NAME": job.get("Name") or job["ID"],
        "NOMAD_DC": node["Datacenter"],
        "NOMAD_NAMESPACE": alloc["Namespace"],
        "NOMAD_REGION": job.get("Region") or "global",
        "TMPDIR": paths.tmp_dir,
    }
    if job.get("ParentID"):
        env["NOMAD_JOB_PARENT_ID"] = job["ParentID"]
    if resources.get("MemoryMaxMB"):
        env["NOMAD_MEMORY_MAX_LIMIT"] = str(resources["MemoryMaxMB"])
    for key, value in _meta(job, group, task).items():
        safe = _UNSAFE_META.sub("_", key)
        env[f"NOMAD_META_{safe}"] = value
        env[f"NOMAD_META_{safe.upper()}"] = value
    ip = node["Attributes"].get("unique.network.ip-address", "127.0.0.1")
    env.update(_port_vars(ports, ip))
    gpu_ids = [i for grant in devices for i in grant.get("DeviceIDs") or []]
    if gpu_ids:
        # The nvidia device plugin's variable (for container runtimes) and CUDA's own:
        # a raw process sees only its instances either way.
        env["NVIDIA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
    return env


def node_value(name: str, node: JSON) -> str | None:
    """``attr.*``, ``meta.*`` and ``node.*`` interpolation targets of a node."""
    if name.startswith("attr."):
        value = node["Attributes"].get(name[5:])
        return None if value is None else str(value)
    if name.startswith("meta."):
        value = (node.get("Meta") or {}).get(name[5:])
        return None if value is None else str(value)
    fields = {
        "node.unique.id": node["ID"],
        "node.unique.name": node["Name"],
        "node.datacenter": node["Datacenter"],
        "node.class": node.get("NodeClass") or "",
        "node.pool": node.get("NodePool") or "default",
        "node.region": node.get("Region") or "global",
    }
    return fields.get(name)


def interpolate(text: str, env: Mapping[str, str], node: JSON) -> str:
    """Replace ``${NAME}`` from the task environment and ``${attr.x}``-style node values."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name.startswith("env."):
            name = name[4:]
        if name in env:
            return env[name]
        value = node_value(name, node)
        return match.group(0) if value is None else value

    return _INTERPOLATION.sub(replace, text)


def interpolate_value(value: Any, env: Mapping[str, str], node: JSON) -> Any:
    """Interpolate every string inside a driver config (lists and maps included)."""
    if isinstance(value, str):
        return interpolate(value, env, node)
    if isinstance(value, list):
        return [interpolate_value(item, env, node) for item in value]
    if isinstance(value, dict):
        return {key: interpolate_value(item, env, node) for key, item in value.items()}
    return value


def task_environment(
    host_env: Mapping[str, str], nomad_env: Mapping[str, str], task: JSON, node: JSON
) -> dict[str, str]:
    """Host variables, then ``NOMAD_*``, then the task's ``env`` block (interpolated)."""
    env = {**host_environment(host_env), **nomad_env}
    for key, value in (task.get("Env") or {}).items():
        env[key] = interpolate(str(value), {**env}, node)
    return env
