"""Pick a node for one allocation of a task group, or explain why none fits.

Feasibility then ranking, as Nomad's scheduler does: nodes outside the job's
datacenters / node pool, down, ineligible or draining are not evaluated; constraint
and device-presence failures count as filtered; nodes that lack free cpu, memory,
GPU instances or ports count as exhausted with the dimension Nomad reports
("cpu", "memory", "devices: no devices match request", "network: ...").  Among
feasible nodes the fullest one wins (Nomad's default binpack).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import constraints as cons

JSON = dict[str, Any]
DEVICE_EXHAUSTED = "devices: no devices match request"


@dataclass
class NodeUsage:
    """Resources already promised to non-terminal allocations on one node."""

    cpu: int = 0
    memory: int = 0
    gpu_ids: set[str] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)
    jobs: Counter[str] = field(default_factory=Counter)  # job key -> allocs (distinct_hosts)


@dataclass
class Offer:
    """A successful placement: node plus the concrete devices and ports handed out."""

    node: JSON
    cpu: int
    memory: int
    devices: dict[str, list[JSON]]  # task -> [{Vendor, Type, Name, DeviceIDs}]
    ports: list[JSON]  # [{Label, Value, To, HostIP}]
    metric: Metric | None = None  # how the node was chosen (the allocation's Metrics)


@dataclass
class Metric:
    """Nomad's AllocationMetric for a failed placement."""

    nodes_evaluated: int = 0
    nodes_filtered: int = 0
    nodes_in_pool: int = 0
    nodes_available: dict[str, int] = field(default_factory=dict)
    class_filtered: Counter[str] = field(default_factory=Counter)
    constraint_filtered: Counter[str] = field(default_factory=Counter)
    nodes_exhausted: int = 0
    class_exhausted: Counter[str] = field(default_factory=Counter)
    dimension_exhausted: Counter[str] = field(default_factory=Counter)
    coalesced_failures: int = 0
    scores: dict[str, float] = field(default_factory=dict)  # "<node id>.binpack" -> score

    def to_api(self) -> JSON:
        return {
            "NodesEvaluated": self.nodes_evaluated,
            "NodesFiltered": self.nodes_filtered,
            "NodesInPool": self.nodes_in_pool,
            "NodesAvailable": self.nodes_available,
            "ClassFiltered": dict(self.class_filtered) or None,
            "ConstraintFiltered": dict(self.constraint_filtered) or None,
            "NodesExhausted": self.nodes_exhausted,
            "ClassExhausted": dict(self.class_exhausted) or None,
            "DimensionExhausted": dict(self.dimension_exhausted) or None,
            "QuotaExhausted": None,
            "ResourcesExhausted": None,
            "Scores": dict(self.scores) or None,
            "ScoreMetaData": None,
            "AllocationTime": 41_000,
            "CoalescedFailures": self.coalesced_failures,
        }


def group_ask(group: JSON) -> tuple[int, int]:
    tasks = group.get("Tasks") or []
    return (
        sum(t["Resources"]["CPU"] for t in tasks),
        sum(t["Resources"]["MemoryMB"] for t in tasks),
    )


def place(
    job: JSON,
    group: JSON,
    nodes: list[JSON],
    usage: dict[str, NodeUsage],
    port_ok: Callable[[int], bool] = lambda port: True,
) -> Offer | Metric:
    """Choose a node for one allocation, or return the metric explaining the failure.

    ``port_ok`` vets dynamic ports on the host (a real client must not hand out a port
    another program already listens on)."""
    metric = Metric()
    pool = job.get("NodePool") or "default"
    in_pool = [n for n in nodes if pool == "all" or n["NodePool"] == pool]
    metric.nodes_in_pool = len(in_pool)
    datacenters = job.get("Datacenters") or ["*"]
    ready = [
        n
        for n in in_pool
        if n["Status"] == "ready" and cons.datacenter_matches(n["Datacenter"], datacenters)
    ]
    for node in ready:
        metric.nodes_available[node["Datacenter"]] = (
            metric.nodes_available.get(node["Datacenter"], 0) + 1
        )
    candidates = [n for n in ready if n["SchedulingEligibility"] == "eligible" and not n["Drain"]]
    job_key = f"{job['Namespace']}/{job['ID']}"
    best: tuple[float, Offer] | None = None
    for node in candidates:
        metric.nodes_evaluated += 1
        reason = _filter_reason(job, group, node, usage.get(node["ID"], NodeUsage()), job_key)
        if reason is not None:
            metric.nodes_filtered += 1
            metric.class_filtered[node["NodeClass"]] += 1 if node["NodeClass"] else 0
            metric.constraint_filtered[reason] += 1
            continue
        offer_or_dim = _fit(group, node, usage.get(node["ID"], NodeUsage()), port_ok)
        if isinstance(offer_or_dim, str):
            metric.nodes_exhausted += 1
            if node["NodeClass"]:
                metric.class_exhausted[node["NodeClass"]] += 1
            metric.dimension_exhausted[offer_or_dim] += 1
            continue
        score = _binpack_score(node, usage.get(node["ID"], NodeUsage()), offer_or_dim)
        metric.scores[f"{node['ID']}.binpack"] = round(score, 6)
        if best is None or score > best[0]:
            best = (score, offer_or_dim)
    metric.class_filtered = Counter({k: v for k, v in metric.class_filtered.items() if v})
    if best is None:
        return metric
    best[1].metric = metric
    return best[1]


def _filter_reason(job: JSON, group: JSON, node: JSON, used: NodeUsage, job_key: str) -> str | None:
    for task in group.get("Tasks") or []:
        if f"driver.{task['Driver']}" not in node["Attributes"]:
            return "missing drivers"
    all_constraints = list(job.get("Constraints") or []) + list(group.get("Constraints") or [])
    for task in group.get("Tasks") or []:
        all_constraints += list(task.get("Constraints") or [])
    for constraint in all_constraints:
        if constraint.get("Operand") == "distinct_hosts":
            if str(constraint.get("RTarget", "true")).lower() != "false" and used.jobs[job_key]:
                return "distinct_hosts"
            continue
        if not cons.satisfied(constraint, node):
            return cons.describe(constraint)
    for task in group.get("Tasks") or []:
        for request in task["Resources"].get("Devices") or []:
            if not _matching_devices(request, node):
                return "missing devices"
    if not _host_volumes_fit(group, node):
        return MISSING_HOST_VOLUMES
    return None


#: Nomad's FilterConstraintHostVolumes.
MISSING_HOST_VOLUMES = "missing compatible host volumes"


def _host_volumes_fit(group: JSON, node: JSON) -> bool:
    """Every ``type = "host"`` volume exists on the node; a writable request needs a
    writable host volume (Nomad's HostVolumeChecker)."""
    offered = node.get("HostVolumes") or {}
    for request in (group.get("Volumes") or {}).values():
        if request.get("Type") != "host":
            continue
        volume = offered.get(request.get("Source"))
        if volume is None or (volume.get("ReadOnly") and not request.get("ReadOnly")):
            return False
    return True


def _matching_devices(request: JSON, node: JSON) -> list[JSON]:
    out = []
    for device in node["NodeResources"].get("Devices") or []:
        if not cons.device_name_matches(request["Name"], device):
            continue
        if all(cons.satisfied(c, node, device) for c in request.get("Constraints") or []):
            out.append(device)
    return out


def _fit(group: JSON, node: JSON, used: NodeUsage, port_ok: Callable[[int], bool]) -> Offer | str:
    cpu, memory = group_ask(group)
    resources = node["NodeResources"]
    reserved = node["ReservedResources"]
    if used.cpu + cpu > resources["Cpu"]["CpuShares"] - reserved["Cpu"]["CpuShares"]:
        return "cpu"
    if used.memory + memory > resources["Memory"]["MemoryMB"] - reserved["Memory"]["MemoryMB"]:
        return "memory"
    taken = set(used.gpu_ids)
    devices: dict[str, list[JSON]] = {}
    for task in group.get("Tasks") or []:
        for request in task["Resources"].get("Devices") or []:
            grant = _assign(request, node, taken)
            if grant is None:
                return DEVICE_EXHAUSTED
            taken.update(grant["DeviceIDs"])
            devices.setdefault(task["Name"], []).append(grant)
    ports = _assign_ports(group, node, used.ports, port_ok)
    if isinstance(ports, str):
        return ports
    return Offer(node=node, cpu=cpu, memory=memory, devices=devices, ports=ports)


def _assign(request: JSON, node: JSON, taken: set[str]) -> JSON | None:
    for device in _matching_devices(request, node):
        free = [i["ID"] for i in device["Instances"] if i["Healthy"] and i["ID"] not in taken]
        if len(free) >= request["Count"]:
            return {
                "Vendor": device["Vendor"],
                "Type": device["Type"],
                "Name": device["Name"],
                "DeviceIDs": free[: request["Count"]],
            }
    return None


def _assign_ports(
    group: JSON, node: JSON, used: set[int], port_ok: Callable[[int], bool]
) -> list[JSON] | str:
    ports: list[JSON] = []
    taken = set(used)
    low = node["NodeResources"].get("MinDynamicPort", 20000)
    high = node["NodeResources"].get("MaxDynamicPort", 32000)
    for network in group.get("Networks") or []:
        for port in network.get("ReservedPorts") or []:
            if port["Value"] in taken:
                return f"network: reserved port collision {port['Label']}={port['Value']}"
            taken.add(port["Value"])
            ports.append(
                {
                    "Label": port["Label"],
                    "Value": port["Value"],
                    "To": port.get("To") or 0,
                    "HostIP": "127.0.0.1",
                }
            )
        for port in network.get("DynamicPorts") or []:
            value = next(
                (p for p in range(low, high + 1) if p not in taken and port_ok(p)), None
            )
            if value is None:
                return "network: dynamic port selection failed"
            taken.add(value)
            to = port.get("To") or 0
            ports.append(
                {
                    "Label": port["Label"],
                    "Value": value,
                    "To": value if to == -1 else to,
                    "HostIP": "127.0.0.1",
                }
            )
    return ports


def _binpack_score(node: JSON, used: NodeUsage, offer: Offer) -> float:
    resources = node["NodeResources"]
    cpu_frac = (used.cpu + offer.cpu) / max(1, resources["Cpu"]["CpuShares"])
    mem_frac = (used.memory + offer.memory) / max(1, resources["Memory"]["MemoryMB"])
    return float(cpu_frac + mem_frac)
