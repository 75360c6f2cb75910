"""Immutable views of the cluster that the Store hands to readers.

Every class is a frozen, slotted dataclass holding only plain values and tuples, so a
:class:`~mlctl.monitor.store.Snapshot` can share unchanged views between versions and
readers (the TUI, health rules, reconcilers) can keep one without copying or locking.
Times are aware UTC datetimes; indexes are Nomad's Raft indexes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

ModelKey = tuple[str, str]  #: (namespace, job id)

#: Allocation client statuses after which nothing more happens to it.
TERMINAL_CLIENT_STATUSES = frozenset({"complete", "failed", "lost"})


def frozen_map(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only mapping (a proxy over a private copy)."""
    return MappingProxyType(dict(data or {}))


@dataclass(frozen=True, slots=True)
class TaskEventView:
    """One task event (``TaskStates[task].Events[]``) in plain words."""

    task: str
    type: str
    message: str
    time: datetime | None
    exit_code: int = 0
    oom_killed: bool = False

    @property
    def is_crash(self) -> bool:
        """A failure of the task itself (not a user restart): non-zero exit, OOM kill,
        or a driver failure. Crash loops are counted from these, never from metrics."""
        if self.type == "Driver Failure":
            return True
        return self.type == "Terminated" and (self.exit_code != 0 or self.oom_killed)


@dataclass(frozen=True, slots=True)
class AllocView:
    """One allocation as the monitor needs it."""

    id: str
    namespace: str
    job_id: str
    group: str
    node_id: str
    node_name: str
    job_version: int
    desired_status: str
    client_status: str
    client_description: str
    deployment_id: str
    healthy: bool | None  #: ``DeploymentStatus.Healthy``: None while undecided/absent
    canary: bool
    restarts: int  #: sum of ``TaskStates[].Restarts``
    last_events: tuple[TaskEventView, ...]  #: the most recent task events, oldest first
    crash_times: tuple[datetime, ...]  #: when tasks crashed (recent ones, oldest first)
    oom_killed: bool  #: the latest termination was an OOM kill
    gpu_ids: tuple[str, ...]  #: device instance IDs held (``AllocatedResources``)
    cpu_mhz: int
    memory_mb: int
    created: datetime | None
    modified: datetime | None
    create_index: int
    modify_index: int
    events_key: tuple[Any, ...] = ()  #: identifies the task events it was built from

    @property
    def terminal(self) -> bool:
        return self.client_status in TERMINAL_CLIENT_STATUSES

    @property
    def live(self) -> bool:
        """Wanted and not finished: counts toward the group's running set."""
        return self.desired_status == "run" and not self.terminal

    @property
    def running(self) -> bool:
        return self.desired_status == "run" and self.client_status == "running"

    @property
    def is_healthy(self) -> bool:
        """Running and not known unhealthy: allocations outside a deployment have no
        ``DeploymentStatus``; once a deployment judged them, its verdict counts."""
        if not self.running:
            return False
        return self.healthy is not False if not self.deployment_id else self.healthy is True


@dataclass(frozen=True, slots=True)
class DeploymentView:
    """A model's latest deployment, summed over its groups."""

    id: str
    namespace: str
    job_id: str
    job_version: int
    status: str
    description: str
    desired_total: int
    placed: int
    healthy: int
    unhealthy: int
    canaries_desired: int
    canaries_placed: int
    canaries_healthy: int
    promoted: bool
    auto_revert: bool
    create_index: int
    modify_index: int
    modified: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ("running", "paused", "pending", "blocked")

    @property
    def awaiting_promotion(self) -> bool:
        """Canaries all placed and healthy, waiting for a manual promote."""
        return (
            self.status == "running"
            and self.canaries_desired > 0
            and not self.promoted
            and self.canaries_healthy >= self.canaries_desired
        )


@dataclass(frozen=True, slots=True)
class GpuInstanceView:
    """One GPU device instance on a node, and which allocation holds it."""

    id: str
    name: str  #: ``vendor/type/model``, e.g. ``nvidia/gpu/Tesla T4``
    memory_mib: int | None
    healthy: bool
    alloc_id: str | None = None


@dataclass(frozen=True, slots=True)
class NodeView:
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
    cpu_allocated: int
    memory_allocated: int
    gpus: tuple[GpuInstanceView, ...]
    modify_index: int

    @property
    def schedulable(self) -> bool:
        return self.status == "ready" and self.eligibility == "eligible" and not self.drain


@dataclass(frozen=True, slots=True)
class BlockedEvalView:
    """A blocked evaluation: Nomad could not place some allocations of a job."""

    id: str
    namespace: str
    job_id: str
    reason: str  #: plain words from :mod:`mlctl.explain`
    modify_index: int
    created: datetime | None


@dataclass(frozen=True, slots=True)
class EndpointView:
    """A Nomad service registration: where one allocation of a model answers."""

    service: str
    alloc_id: str
    address: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ProbeMetrics:
    """What probing a model's endpoints found, summed over its endpoints."""

    at: datetime
    endpoints: int
    reachable: int
    ready: int
    req_rate: float | None = None  #: requests per second since the previous probe
    error_rate: float | None = None  #: fraction of those answered with 5xx
    p50_ms: float | None = None
    p99_ms: float | None = None
    in_flight: float | None = None
    error: str = ""  #: why some endpoint could not be probed
    metrics_denied: int = 0  #: endpoints whose ``/metrics`` refused (401/403) our token

    @property
    def metrics_no_access(self) -> bool:
        """Figures are blank because servers refused to show them, not for lack of traffic."""
        return self.metrics_denied > 0 and self.req_rate is None

    @property
    def all_ready(self) -> bool:
        return self.endpoints > 0 and self.ready == self.endpoints


@dataclass(frozen=True, slots=True)
class GroupView:
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class ModelView:
    """A job (a model when mlctl deployed it) with everything the TUI's rows need."""

    namespace: str
    job_id: str
    name: str  #: ``Meta["mlctl.model"]``, else the job id
    managed: bool  #: deployed by mlctl
    group: str  #: the first task group (mlctl models have one: ``model``)
    groups: tuple[GroupView, ...]
    job_type: str
    version: int  #: Nomad's job version
    model_version: str  #: ``Meta["mlctl.version"]``
    desired: int  #: the group's ``Count``
    running: int
    healthy: int
    status: str
    stopped: bool
    deployment: DeploymentView | None
    allocations: tuple[AllocView, ...]
    endpoints: tuple[EndpointView, ...]
    probe: ProbeMetrics | None
    blocked: BlockedEvalView | None
    alert_settings: Mapping[str, Any] = field(default_factory=frozen_map)
    modify_index: int = 0
    failed_deployment: DeploymentView | None = None  #: the most recent failed deployment

    @property
    def key(self) -> ModelKey:
        return (self.namespace, self.job_id)

    @property
    def live_allocations(self) -> tuple[AllocView, ...]:
        return tuple(a for a in self.allocations if a.live)

    @property
    def gpus_in_use(self) -> int:
        return sum(len(a.gpu_ids) for a in self.allocations if a.live)


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert with Alertmanager's fields.

    ``fingerprint`` is Alertmanager's (FNV-1a 64 over the sorted labels), so the same
    alert has the same identity here, in Alertmanager and in any webhook consumer.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    fingerprint: str
    generator: str = "mlctl-monitor"

    @property
    def status(self) -> str:
        return "resolved" if self.ends_at is not None else "firing"

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``mlctl alerts -o json`` and the published state."""
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.ends_at.isoformat() if self.ends_at else None,
            "status": self.status,
            "fingerprint": self.fingerprint,
        }
