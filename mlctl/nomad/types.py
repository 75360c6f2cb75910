"""The parts of Nomad's JSON shapes that mlctl reads, as TypedDicts.

Field names and nesting follow hashicorp/nomad ``website/content/api-docs/*.mdx``.
Every dict is ``total=False``: Nomad omits or nulls fields freely across versions, so
readers use ``.get`` and treat a missing field like an empty one.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Constraint(TypedDict, total=False):
    LTarget: str
    RTarget: str
    Operand: str


class RequestedDevice(TypedDict, total=False):
    Name: str
    Count: int
    Constraints: list[Constraint] | None
    Affinities: list[dict[str, Any]] | None


class TaskResources(TypedDict, total=False):
    CPU: int
    MemoryMB: int
    Devices: list[RequestedDevice] | None


class Task(TypedDict, total=False):
    Name: str
    Driver: str
    Config: dict[str, Any]
    Resources: TaskResources
    Services: list[dict[str, Any]] | None
    Meta: dict[str, str] | None


class TaskGroup(TypedDict, total=False):
    Name: str
    Count: int
    Tasks: list[Task]
    Constraints: list[Constraint] | None
    Services: list[dict[str, Any]] | None
    Meta: dict[str, str] | None


class Job(TypedDict, total=False):
    ID: str
    Name: str
    Namespace: str
    Type: str
    Datacenters: list[str]
    NodePool: str
    Status: str
    Stop: bool
    Stable: bool
    Version: int
    SubmitTime: int
    Meta: dict[str, str] | None
    TaskGroups: list[TaskGroup]
    Constraints: list[Constraint] | None
    JobModifyIndex: int
    ModifyIndex: int


class JobStub(TypedDict, total=False):
    """An entry of ``GET /v1/jobs`` (``meta=true`` adds ``Meta``)."""

    ID: str
    Name: str
    Namespace: str
    Type: str
    Status: str
    Stop: bool
    Meta: dict[str, str] | None
    JobSummary: dict[str, Any]
    SubmitTime: int
    ModifyIndex: int


class JobVersions(TypedDict, total=False):
    Versions: list[Job]
    Diffs: list[dict[str, Any]] | None


class AllocMetric(TypedDict, total=False):
    """Why the scheduler could (not) place a group: ``FailedTGAllocs[group]``."""

    NodesEvaluated: int
    NodesFiltered: int
    NodesInPool: int
    NodesAvailable: dict[str, int] | None
    ClassFiltered: dict[str, int] | None
    ConstraintFiltered: dict[str, int] | None
    NodesExhausted: int
    ClassExhausted: dict[str, int] | None
    DimensionExhausted: dict[str, int] | None
    QuotaExhausted: list[str] | None
    ResourcesExhausted: dict[str, Any] | None
    CoalescedFailures: int


class DesiredUpdates(TypedDict, total=False):
    Ignore: int
    Place: int
    Migrate: int
    Stop: int
    InPlaceUpdate: int
    DestructiveUpdate: int
    Canary: int
    Preemptions: int


class FieldDiff(TypedDict, total=False):
    Type: str
    Name: str
    Old: str
    New: str
    Annotations: list[str] | None


class ObjectDiff(TypedDict, total=False):
    Type: str
    Name: str
    Fields: list[FieldDiff] | None
    Objects: list[ObjectDiff] | None


class TaskDiff(TypedDict, total=False):
    Type: str
    Name: str
    Fields: list[FieldDiff] | None
    Objects: list[ObjectDiff] | None
    Annotations: list[str] | None


class TaskGroupDiff(TypedDict, total=False):
    Type: str
    Name: str
    Fields: list[FieldDiff] | None
    Objects: list[ObjectDiff] | None
    Tasks: list[TaskDiff] | None
    Updates: dict[str, int] | None


class JobDiff(TypedDict, total=False):
    Type: str
    ID: str
    Fields: list[FieldDiff] | None
    Objects: list[ObjectDiff] | None
    TaskGroups: list[TaskGroupDiff] | None


class PlanAnnotations(TypedDict, total=False):
    DesiredTGUpdates: dict[str, DesiredUpdates] | None


class PlanResponse(TypedDict, total=False):
    Diff: JobDiff | None
    FailedTGAllocs: dict[str, AllocMetric] | None
    Annotations: PlanAnnotations | None
    JobModifyIndex: int
    Warnings: str
    CreatedEvals: list[dict[str, Any]] | None


class WriteResponse(TypedDict, total=False):
    """What register, stop, revert and scale answer."""

    EvalID: str
    EvalCreateIndex: int
    JobModifyIndex: int
    Warnings: str
    Index: int


class DeploymentGroup(TypedDict, total=False):
    AutoRevert: bool
    AutoPromote: bool
    Promoted: bool
    PlacedCanaries: list[str] | None
    DesiredCanaries: int
    DesiredTotal: int
    PlacedAllocs: int
    HealthyAllocs: int
    UnhealthyAllocs: int


class Deployment(TypedDict, total=False):
    ID: str
    JobID: str
    Namespace: str
    JobVersion: int
    Status: str
    StatusDescription: str
    TaskGroups: dict[str, DeploymentGroup]
    ModifyIndex: int


class TaskEvent(TypedDict, total=False):
    Type: str
    Time: int
    DisplayMessage: str
    Message: str
    DriverError: str
    ExitCode: int
    Signal: int
    KillError: str
    SetupError: str
    DownloadError: str
    ValidationError: str
    RestartReason: str
    Details: dict[str, str] | None


class TaskState(TypedDict, total=False):
    State: str
    Failed: bool
    Restarts: int
    Events: list[TaskEvent] | None


class AllocDeploymentStatus(TypedDict, total=False):
    Healthy: bool | None
    Canary: bool
    Timestamp: str


class AllocatedDevice(TypedDict, total=False):
    Vendor: str
    Type: str
    Name: str
    DeviceIDs: list[str]


class Allocation(TypedDict, total=False):
    """An allocation stub (job allocations list) or a full allocation (read)."""

    ID: str
    Name: str
    NodeID: str
    NodeName: str
    JobID: str
    JobVersion: int
    TaskGroup: str
    DeploymentID: str
    DesiredStatus: str
    ClientStatus: str
    ClientDescription: str
    TaskStates: dict[str, TaskState] | None
    DeploymentStatus: AllocDeploymentStatus | None
    AllocatedResources: dict[str, Any] | None
    PreviousAllocation: str  #: the allocation this one replaced in its slot ("" if none)
    NextAllocation: str
    CreateTime: int
    ModifyIndex: int


class NodeDeviceInstance(TypedDict, total=False):
    ID: str
    Healthy: bool
    HealthDescription: str


class NodeDeviceResource(TypedDict, total=False):
    Vendor: str
    Type: str
    Name: str
    Instances: list[NodeDeviceInstance] | None
    Attributes: dict[str, Any] | None


class Node(TypedDict, total=False):
    ID: str
    Name: str
    Datacenter: str
    NodeClass: str
    NodePool: str
    Status: str
    SchedulingEligibility: str
    Drain: bool
    Address: str
    NodeResources: dict[str, Any] | None
    Attributes: dict[str, str] | None


class ServiceRegistration(TypedDict, total=False):
    ID: str
    ServiceName: str
    Namespace: str
    JobID: str
    AllocID: str
    NodeID: str
    Address: str
    Port: int
    Tags: list[str] | None


class Evaluation(TypedDict, total=False):
    ID: str
    Status: str
    StatusDescription: str
    DeploymentID: str
    BlockedEval: str
    FailedTGAllocs: dict[str, AllocMetric] | None
    JobID: str
    CreateIndex: int
