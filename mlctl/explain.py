"""Placement failures in plain words, from Nomad's ``AllocMetric``.

When a plan or an evaluation cannot place a task group, Nomad reports counters
(``FailedTGAllocs[group]``): how many nodes it evaluated, why it filtered some
(``ConstraintFiltered``, ``ClassFiltered``) and which resource ran out on the rest
(``DimensionExhausted``: ``cpu``, ``memory``, ``devices: no devices match request`` …).
This module turns them, plus what the group asked for, into one sentence a data
scientist can act on. Pure functions: no I/O, tested on the documented shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlctl.nomad.types import AllocMetric, Constraint, RequestedDevice, TaskGroup

#: Nomad's ``FilterConstraintDevices``: no device on the node matches name and constraints.
MISSING_DEVICES = "missing devices"
#: Nomad's ``FilterConstraintDrivers``: the task driver (docker) is not healthy on the node.
MISSING_DRIVERS = "missing drivers"
#: Nomad's ``FilterConstraintHostVolumes``: a requested host volume is not on the node.
MISSING_HOST_VOLUMES = "missing compatible host volumes"


@dataclass(frozen=True)
class DeviceAsk:
    name: str
    count: int
    constraints: tuple[str, ...] = ()

    def describe(self) -> str:
        """``1 free nvidia/gpu with memory >= 16384 MiB``."""
        text = f"{self.count} free {self.name}"
        return f"{text} with {' and '.join(self.constraints)}" if self.constraints else text


@dataclass(frozen=True)
class GroupAsk:
    """What one allocation of a group needs: the sum over its tasks."""

    cpu: int = 0
    memory: int = 0
    devices: tuple[DeviceAsk, ...] = ()


@dataclass(frozen=True)
class Explanation:
    group: str
    summary: str
    reasons: list[str] = field(default_factory=list)
    hint: str = ""
    unplaced: int = 1
    """Allocations of the group the scheduler could not place (CoalescedFailures + 1)."""
    wanted: int | None = None
    """The group's count, when the job is known: "1 of 3" tells a partial placement."""

    @property
    def how_many(self) -> str:
        """``1 of 3 allocations cannot be placed``."""
        noun = "allocation" if (self.wanted or self.unplaced) == 1 else "allocations"
        if self.wanted is not None and self.wanted >= self.unplaced:
            return f"{self.unplaced} of {self.wanted} {noun} cannot be placed"
        return f"{self.unplaced} {noun} cannot be placed"

    @property
    def text(self) -> str:
        body = f"group {self.group}: {self.how_many}: {self.summary}"
        return f"{body}: {', '.join(self.reasons)}" if self.reasons else body


def _constraint_words(constraint: Constraint) -> str:
    target = constraint.get("LTarget", "")
    for prefix in ("${device.attr.", "${device."):
        if target.startswith(prefix) and target.endswith("}"):
            target = target[len(prefix) : -1]
            break
    return f"{target} {constraint.get('Operand', '=')} {constraint.get('RTarget', '')}".strip()


def _device_ask(device: RequestedDevice) -> DeviceAsk:
    return DeviceAsk(
        name=device.get("Name", "device"),
        count=int(device.get("Count") or 1),
        constraints=tuple(_constraint_words(c) for c in device.get("Constraints") or []),
    )


def ask_of(group: TaskGroup) -> GroupAsk:
    """The per-allocation resources a task group asks for."""
    cpu = memory = 0
    devices: list[DeviceAsk] = []
    for task in group.get("Tasks") or []:
        resources = task.get("Resources") or {}
        cpu += int(resources.get("CPU") or 0)
        memory += int(resources.get("MemoryMB") or 0)
        devices.extend(_device_ask(d) for d in resources.get("Devices") or [])
    return GroupAsk(cpu=cpu, memory=memory, devices=tuple(devices))


def _nodes(count: int) -> str:
    return f"{count} node" if count == 1 else f"{count} nodes"


def _dimension_words(dimension: str, ask: GroupAsk) -> str:
    if dimension.startswith("devices"):
        return "devices exhausted"
    if dimension == "cpu":
        return f"CPU exhausted (needs {ask.cpu} MHz)" if ask.cpu else "CPU exhausted"
    if dimension == "memory":
        return f"memory exhausted (needs {ask.memory} MiB)" if ask.memory else "memory exhausted"
    if dimension == "cores":
        return "no free reserved CPU cores"
    return dimension  # e.g. "network: port collision" is already plain


def _filter_words(reason: str, ask: GroupAsk) -> str:
    if reason == MISSING_DEVICES:
        wanted = [
            d.name + (f" with {' and '.join(d.constraints)}" if d.constraints else "")
            for d in ask.devices
        ]
        return f"has no {' or '.join(wanted)}" if wanted else "has no matching device"
    if reason == MISSING_DRIVERS:
        return "task driver (docker) not available"
    if reason == MISSING_HOST_VOLUMES:
        return "lacks a requested host volume (or it is read-only)"
    return f"constraint {reason}"


def _amount(what: str, value: int, unit: str) -> str:
    return f"{value} {unit} {what}" if value else f"enough {what}"


def _summary(metric: AllocMetric, ask: GroupAsk) -> tuple[str, str]:
    dims = metric.get("DimensionExhausted") or {}
    filters = metric.get("ConstraintFiltered") or {}
    device_problem = any(k.startswith("devices") for k in dims) or MISSING_DEVICES in filters
    if device_problem and ask.devices:
        wanted = " and ".join(d.describe() for d in ask.devices)
        return (
            f"no node has {wanted}",
            "free GPUs (see mlctl nodes), lower resources.gpu.count or memory, or add GPU nodes",
        )
    if dims:
        parts = [
            _amount("CPU", ask.cpu, "MHz") if "cpu" in dims else "",
            _amount("memory", ask.memory, "MiB") if "memory" in dims else "",
        ]
        wanted = " and ".join(p for p in parts if p) or "enough free resources"
        return (
            f"no node has {wanted} free",
            "lower resources.cpu/memory or --replicas, stop other models, or add nodes",
        )
    return (
        "no node matches the job's requirements",
        "check datacenters, node_pool and constraints against mlctl nodes",
    )


def explain_placement(
    group: str, metric: AllocMetric, ask: GroupAsk | None = None, wanted: int | None = None
) -> Explanation:
    """Why ``group`` could not be placed, from its ``AllocMetric``; ``wanted`` is its count."""
    ask = ask or GroupAsk()
    evaluated = int(metric.get("NodesEvaluated") or 0)
    filtered = int(metric.get("NodesFiltered") or 0)
    available = metric.get("NodesAvailable") or {}
    # Nomad reports the first failed placement in full and counts the rest alike.
    unplaced = int(metric.get("CoalescedFailures") or 0) + 1
    if evaluated == 0:
        where = ", ".join(f"{dc}: {n}" for dc, n in sorted(available.items())) or "none"
        pool = int(metric.get("NodesInPool") or 0)
        return Explanation(
            group,
            "no ready client node in the job's datacenters and node pool",
            [f"{_nodes(pool)} in the pool, ready per datacenter: {where}"],
            "check MLCTL_DATACENTERS / MLCTL_NODE_POOL and that clients are up (mlctl nodes)",
            unplaced,
            wanted,
        )
    summary, hint = _summary(metric, ask)
    reasons: list[str] = []
    considered = max(evaluated - filtered, int(metric.get("NodesExhausted") or 0))
    for dimension, count in sorted((metric.get("DimensionExhausted") or {}).items()):
        reasons.append(f"{_dimension_words(dimension, ask)} on {count} of {_nodes(considered)}")
    for reason, count in sorted((metric.get("ConstraintFiltered") or {}).items()):
        reasons.append(f"{_nodes(count)} filtered: {_filter_words(reason, ask)}")
    for node_class, count in sorted((metric.get("ClassFiltered") or {}).items()):
        reasons.append(f"{_nodes(count)} of class {node_class} filtered")
    for quota in metric.get("QuotaExhausted") or []:
        reasons.append(f"quota exhausted: {quota}")
    for dc, count in sorted(available.items()):
        if count == 0:
            reasons.append(f"no ready node in datacenter {dc}")
    return Explanation(group, summary, reasons, hint, unplaced, wanted)


def explain_failures(
    failed: Mapping[str, AllocMetric] | None, groups: list[TaskGroup] | None = None
) -> list[Explanation]:
    """One explanation per failed group, using each group's ask when the job is known."""
    by_name = {g.get("Name", ""): g for g in groups or []}
    explained = []
    for name, metric in sorted((failed or {}).items()):
        group = by_name.get(name)
        ask = ask_of(group) if group is not None else None
        count = group.get("Count") if group is not None else None
        wanted = int(count) if count is not None else None
        explained.append(explain_placement(name, metric, ask, wanted))
    return explained
