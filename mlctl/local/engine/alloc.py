"""An allocation: Nomad's JSON shape plus the simulator's private lifecycle fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .placement import Offer

JSON = dict[str, Any]
TERMINAL = ("complete", "failed", "lost")

EVENT_FIELDS = (
    "Message",
    "FailsTask",
    "RestartReason",
    "SetupError",
    "DriverError",
    "ExitCode",
    "Signal",
    "KillTimeout",
    "KillError",
    "KillReason",
    "StartDelay",
    "DownloadError",
    "ValidationError",
    "DiskLimit",
    "FailedSibling",
    "VaultError",
    "TaskSignalReason",
    "TaskSignal",
    "DriverMessage",
    "GenericSource",
)


def task_event(
    kind: str, message: str, time_ns: int, details: JSON | None = None, **fields: Any
) -> JSON:
    """A TaskEvent with every field Nomad sends (zero values where unused)."""
    event: JSON = {
        "Type": kind,
        "Time": time_ns,
        "DisplayMessage": message,
        "Details": {k: str(v) for k, v in (details or {}).items()},
    }
    zero: JSON = {
        "FailsTask": False,
        "ExitCode": 0,
        "Signal": 0,
        "KillTimeout": 0,
        "StartDelay": 0,
        "DiskLimit": 0,
    }
    for name in EVENT_FIELDS:
        event[name] = fields.get(name, zero.get(name, ""))
    return event


@dataclass
class Alloc:
    """One allocation; ``to_api``/``stub`` give the two JSON shapes the API returns."""

    id: str
    namespace: str
    eval_id: str
    name: str
    index: int
    node: JSON
    job: JSON
    task_group: str
    offer: Offer
    create_index: int
    create_time: int
    created_at: float  # simulated seconds
    behaviour: str = "healthy"
    desired_status: str = "run"
    desired_description: str = ""
    client_status: str = "pending"
    client_description: str = "No tasks have started"
    task_states: dict[str, JSON] = field(default_factory=dict)
    deployment_id: str | None = None
    deployment_status: JSON | None = None
    canary: bool = False
    previous_allocation: str | None = None
    next_allocation: str | None = None
    reschedule_tracker: JSON | None = None
    followup_eval_id: str = ""
    desired_transition: JSON = field(
        default_factory=lambda: {
            "Migrate": None,
            "Reschedule": None,
            "ForceReschedule": None,
            "NoShutdownDelay": None,
        }
    )
    modify_index: int = 0
    alloc_modify_index: int = 0
    modify_time: int = 0
    # lifecycle (private)
    phase: str = "received"
    next_at: float = 0.0
    running_since: float | None = None
    finished_at: float | None = None
    forced_health: bool | None = None
    health_deadline: float = 0.0
    logs: dict[tuple[str, str], bytearray] = field(default_factory=dict)
    restart_windows: dict[str, list[float]] = field(default_factory=dict)
    """Per task: [start of the restart interval window, restarts in it] (restart policy)."""
    handles: dict[str, JSON] = field(default_factory=dict)
    """Per task, a real driver's handle (pid, process start time, log and cgroup paths):
    persisted so a restarted runtime re-adopts the processes."""
    services_registered: bool = False
    """Whether ServiceRegistration events were emitted and not yet deregistered."""
    checks: dict[str, JSON] = field(default_factory=dict)
    """Latest result of each service check (``GET /v1/allocation/:id/checks``)."""

    @property
    def job_id(self) -> str:
        return str(self.job["ID"])

    @property
    def job_version(self) -> int:
        return int(self.job["Version"])

    @property
    def terminal(self) -> bool:
        return self.client_status in TERMINAL

    @property
    def live(self) -> bool:
        """Counts toward the group's running set: wanted and not finished."""
        return self.desired_status == "run" and not self.terminal

    def group(self) -> JSON:
        return next(g for g in self.job["TaskGroups"] if g["Name"] == self.task_group)

    def allocated_resources(self) -> JSON:
        tasks = {}
        for task in self.group()["Tasks"]:
            tasks[task["Name"]] = {
                "Cpu": {"CpuShares": task["Resources"]["CPU"], "ReservedCores": None},
                "Memory": {
                    "MemoryMB": task["Resources"]["MemoryMB"],
                    "MemoryMaxMB": task["Resources"].get("MemoryMaxMB") or 0,
                },
                "Networks": None,
                "Devices": self.offer.devices.get(task["Name"]) or None,
            }
        dynamic = [
            {"Label": p["Label"], "Value": p["Value"], "To": p["To"], "HostNetwork": "default"}
            for p in self.offer.ports
        ]
        return {
            "Tasks": tasks,
            "TaskLifecycles": dict.fromkeys(tasks),
            "Shared": {
                "DiskMB": (self.group().get("EphemeralDisk") or {}).get("SizeMB", 300),
                "Networks": [
                    {
                        "Mode": "host",
                        "Device": "",
                        "CIDR": "",
                        "IP": "127.0.0.1",
                        "MBits": 0,
                        "DynamicPorts": dynamic or None,
                        "ReservedPorts": None,
                    }
                ]
                if self.offer.ports
                else None,
                "Ports": self.offer.ports or None,
            },
        }

    def legacy_resources(self) -> JSON:
        """The pre-0.9 ``Resources``/``SharedResources``/``TaskResources`` views Nomad
        still returns next to ``AllocatedResources``."""
        disk = (self.group().get("EphemeralDisk") or {}).get("SizeMB", 300)
        networks = self.allocated_resources()["Shared"]["Networks"]
        tasks = {
            task["Name"]: {
                "CPU": task["Resources"]["CPU"],
                "MemoryMB": task["Resources"]["MemoryMB"],
                "DiskMB": 0,
                "Networks": None,
                "Devices": task["Resources"].get("Devices"),
            }
            for task in self.group()["Tasks"]
        }
        return {
            "Resources": {
                "CPU": self.offer.cpu,
                "MemoryMB": self.offer.memory,
                "DiskMB": disk,
                "Networks": networks,
            },
            "SharedResources": {"CPU": 0, "MemoryMB": 0, "DiskMB": disk, "Networks": networks},
            "TaskResources": tasks,
        }

    def _metrics(self) -> JSON:
        """The placement's AllocationMetric (what was evaluated, filtered and scored)."""
        if self.offer.metric is not None:
            return self.offer.metric.to_api()
        return {
            "NodesEvaluated": 1,
            "NodesFiltered": 0,
            "NodesInPool": 1,
            "NodesAvailable": {self.node["Datacenter"]: 1},
            "ClassFiltered": None,
            "ConstraintFiltered": None,
            "NodesExhausted": 0,
            "ClassExhausted": None,
            "DimensionExhausted": None,
            "QuotaExhausted": None,
            "ResourcesExhausted": None,
            "Scores": None,
            "ScoreMetaData": None,
            "AllocationTime": 41_000,
            "CoalescedFailures": 0,
        }

    def _common(self) -> JSON:
        return {
            "ID": self.id,
            "EvalID": self.eval_id,
            "Name": self.name,
            "Namespace": self.namespace,
            "NodeID": self.node["ID"],
            "NodeName": self.node["Name"],
            "JobID": self.job_id,
            "TaskGroup": self.task_group,
            "DesiredStatus": self.desired_status,
            "DesiredDescription": self.desired_description,
            "DesiredTransition": self.desired_transition,
            "ClientStatus": self.client_status,
            "ClientDescription": self.client_description,
            "TaskStates": self.task_states or None,
            "DeploymentStatus": self.deployment_status,
            "FollowupEvalID": self.followup_eval_id,
            "RescheduleTracker": self.reschedule_tracker,
            "PreemptedAllocations": None,
            "PreemptedByAllocation": "",
            "PreviousAllocation": self.previous_allocation or "",
            "NextAllocation": self.next_allocation or "",
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
            "CreateTime": self.create_time,
            "ModifyTime": self.modify_time,
        }

    def stub(self, with_resources: bool = False) -> JSON:
        """``AllocationListStub`` as in list endpoints."""
        out = self._common()
        out.update(
            {
                "JobType": self.job["Type"],
                "JobVersion": self.job_version,
                "AllocatedResources": self.allocated_resources() if with_resources else None,
                "NodeName": self.node["Name"],
            }
        )
        return out

    def to_api(self, with_job: bool = True) -> JSON:
        """The full ``Allocation`` (``GET /v1/allocation/:id``)."""
        out = self._common()
        out.update(
            {
                "Job": self.job if with_job else None,
                "JobVersion": self.job_version,
                "AllocatedResources": self.allocated_resources(),
                **self.legacy_resources(),
                "Metrics": self._metrics(),
                "DeploymentID": self.deployment_id or "",
                "AllocModifyIndex": self.alloc_modify_index,
                "NetworkStatus": {"InterfaceName": "", "Address": "127.0.0.1", "DNS": None},
                "SignedIdentities": None,
            }
        )
        return out
