"""The JSON job schema: every field Nomad's API job accepts, with its type.

The simulator is deliberately stricter than a real agent: Nomad's JSON decoder
silently drops unknown fields, which hides typos such as ``MemoryMb``.  Here an
unknown field is a 400 naming the field and where it was, so mlctl's templates and
client cannot depend on a field Nomad would ignore.  Type mismatches are 400 in
both (Nomad: "Failed to decode request body").
"""

from __future__ import annotations

from typing import Any

S, I, B, D, F, A = "str", "int", "bool", "dur", "float", "any"  # noqa: E741 - type letters
Spec = Any


def L(item: Spec) -> tuple[str, Spec]:
    return ("list", item)


def M(item: Spec) -> tuple[str, Spec]:
    return ("map", item)


def obj(*names: str, **typed: Spec) -> dict[str, Spec]:
    """An object whose plain-listed fields are strings and keyword fields typed."""
    spec: dict[str, Spec] = dict.fromkeys(names, S)
    spec.update(typed)
    return spec


CONSTRAINT = obj("LTarget", "RTarget", "Operand")
AFFINITY = obj("LTarget", "RTarget", "Operand", Weight=I)
SPREAD = obj("Attribute", Weight=I, SpreadTarget=L(obj("Value", Percent=I)))
PORT = obj("Label", "HostNetwork", Value=I, To=I, IgnoreCollision=B)
NETWORK = obj(
    "Mode",
    "Device",
    "CIDR",
    "IP",
    "Hostname",
    MBits=I,
    DNS=obj(Servers=L(S), Searches=L(S), Options=L(S)),
    ReservedPorts=L(PORT),
    DynamicPorts=L(PORT),
    CNI=A,
)
DEVICE = obj("Name", Count=I, Constraints=L(CONSTRAINT), Affinities=L(AFFINITY))
RESOURCES = obj(
    CPU=I,
    Cores=I,
    MemoryMB=I,
    MemoryMaxMB=I,
    DiskMB=I,
    IOPS=I,
    SecretsMB=I,
    Networks=L(NETWORK),
    Devices=L(DEVICE),
    NUMA=A,
)
CHECK_RESTART = obj(Limit=I, Grace=D, IgnoreWarnings=B)
VOLUME_REQUEST = obj(
    "Name",
    "Type",
    "Source",
    "AccessMode",
    "AttachmentMode",
    ReadOnly=B,
    PerAlloc=B,
    Sticky=B,
    MountOptions=obj("FSType", MountFlags=L(S)),
)
VOLUME_MOUNT = obj("Volume", "Destination", "PropagationMode", "SELinuxLabel", ReadOnly=B)
CHECK = obj(
    "Name",
    "Type",
    "Command",
    "Path",
    "Protocol",
    "PortLabel",
    "AddressMode",
    "InitialStatus",
    "Notes",
    "TLSServerName",
    "Method",
    "GRPCService",
    "TaskName",
    "Body",
    "OnUpdate",
    Args=L(S),
    Expose=B,
    Advertise=S,
    Interval=D,
    Timeout=D,
    TLSSkipVerify=B,
    Header=M(L(S)),
    CheckRestart=CHECK_RESTART,
    GRPCUseTLS=B,
    SuccessBeforePassing=I,
    FailuresBeforeCritical=I,
    FailuresBeforeWarning=I,
)
SERVICE = obj(
    "Name",
    "PortLabel",
    "AddressMode",
    "Address",
    "TaskName",
    "OnUpdate",
    "Provider",
    "Cluster",
    "Kind",
    Tags=L(S),
    CanaryTags=L(S),
    EnableTagOverride=B,
    Checks=L(CHECK),
    CheckRestart=CHECK_RESTART,
    Connect=A,
    Meta=M(S),
    CanaryMeta=M(S),
    TaggedAddresses=M(S),
    Identity=A,
    Weights=A,
)
UPDATE = obj(
    "HealthCheck",
    Stagger=D,
    MaxParallel=I,
    MinHealthyTime=D,
    HealthyDeadline=D,
    ProgressDeadline=D,
    Canary=I,
    AutoRevert=B,
    AutoPromote=B,
)
RESTART = obj("Mode", Interval=D, Attempts=I, Delay=D, RenderTemplates=B)
RESCHEDULE = obj("DelayFunction", Attempts=I, Interval=D, Delay=D, MaxDelay=D, Unlimited=B)
MIGRATE = obj("HealthCheck", MaxParallel=I, MinHealthyTime=D, HealthyDeadline=D)
EPHEMERAL_DISK = obj(Sticky=B, Migrate=B, SizeMB=I)
ARTIFACT = obj(
    "GetterSource",
    "GetterMode",
    "RelativeDest",
    GetterOptions=M(S),
    GetterHeaders=M(S),
    GetterInsecure=B,
    Chown=B,
)
TEMPLATE = obj(
    "SourcePath",
    "DestPath",
    "EmbeddedTmpl",
    "ChangeMode",
    "ChangeSignal",
    "Perms",
    "LeftDelim",
    "RightDelim",
    ChangeScript=A,
    Splay=D,
    Uid=I,
    Gid=I,
    Envvars=B,
    VaultGrace=D,
    Wait=obj(Min=D, Max=D),
    ErrMissingKey=B,
    Once=B,
)
LOG_CONFIG = obj(MaxFiles=I, MaxFileSizeMB=I, Disabled=B, Enabled=B)
SCALING = obj(
    "ID",
    "Namespace",
    "Type",
    Target=M(S),
    Min=I,
    Max=I,
    Policy=A,
    Enabled=B,
    CreateIndex=I,
    ModifyIndex=I,
)
TASK = obj(
    "Name",
    "Driver",
    "User",
    "KillSignal",
    "Kind",
    Lifecycle=obj("Hook", Sidecar=B),
    Config=M(A),
    Constraints=L(CONSTRAINT),
    Affinities=L(AFFINITY),
    Env=M(S),
    Services=L(SERVICE),
    Resources=RESOURCES,
    RestartPolicy=RESTART,
    Meta=M(S),
    KillTimeout=D,
    LogConfig=LOG_CONFIG,
    Artifacts=L(ARTIFACT),
    Vault=A,
    Templates=L(TEMPLATE),
    DispatchPayload=obj("File"),
    VolumeMounts=L(VOLUME_MOUNT),
    Leader=B,
    ShutdownDelay=D,
    ScalingPolicies=L(SCALING),
    Identity=A,
    Identities=A,
    Actions=A,
    CSIPluginConfig=A,
    Consul=A,
    Schedule=A,
)
GROUP = obj(
    "Name",
    Count=I,
    Constraints=L(CONSTRAINT),
    Affinities=L(AFFINITY),
    Tasks=L(TASK),
    Spreads=L(SPREAD),
    Volumes=M(VOLUME_REQUEST),
    RestartPolicy=RESTART,
    ReschedulePolicy=RESCHEDULE,
    EphemeralDisk=EPHEMERAL_DISK,
    Update=UPDATE,
    Migrate=MIGRATE,
    Networks=L(NETWORK),
    Meta=M(S),
    Services=L(SERVICE),
    ShutdownDelay=D,
    StopAfterClientDisconnect=D,
    MaxClientDisconnect=D,
    Scaling=SCALING,
    Consul=A,
    PreventRescheduleOnLost=B,
    Disconnect=A,
)
JOB = obj(
    "Region",
    "Namespace",
    "ID",
    "Name",
    "Type",
    "NodePool",
    "DispatchIdempotencyToken",
    "ConsulToken",
    "VaultToken",
    "ConsulNamespace",
    "VaultNamespace",
    "NomadTokenID",
    "ParentID",
    "Status",
    "StatusDescription",
    Priority=I,
    AllAtOnce=B,
    Datacenters=L(S),
    Constraints=L(CONSTRAINT),
    Affinities=L(AFFINITY),
    TaskGroups=L(GROUP),
    Update=UPDATE,
    Multiregion=A,
    Spreads=L(SPREAD),
    Periodic=obj("Spec", "SpecType", "TimeZone", Enabled=B, Specs=L(S), ProhibitOverlap=B),
    ParameterizedJob=obj("Payload", MetaRequired=L(S), MetaOptional=L(S)),
    Dispatched=B,
    Payload=A,
    Reschedule=RESCHEDULE,
    Migrate=MIGRATE,
    Meta=M(S),
    Stop=B,
    Stable=B,
    Version=I,
    SubmitTime=I,
    CreateIndex=I,
    ModifyIndex=I,
    JobModifyIndex=I,
    UI=A,
    VersionTag=A,
)

_GO_TYPES = {S: "string", I: "int", B: "bool", D: "time.Duration", F: "float64"}


def check(value: Any, spec: Spec, path: str, problems: list[str]) -> None:
    """Append one problem per unknown field or wrongly typed value under ``path``."""
    if value is None or spec == A:
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            problems.append(f"json: cannot unmarshal {_kind(value)} into {path} (object)")
            return
        for key, item in value.items():
            if key not in spec:
                problems.append(f'json: unknown field "{key}" in {path}')
                continue
            check(item, spec[key], f"{path}.{key}", problems)
        return
    if isinstance(spec, tuple):
        kind, item_spec = spec
        if kind == "list":
            if not isinstance(value, list):
                problems.append(f"json: cannot unmarshal {_kind(value)} into {path} (array)")
                return
            for i, item in enumerate(value):
                check(item, item_spec, f"{path}[{i}]", problems)
        else:
            if not isinstance(value, dict):
                problems.append(f"json: cannot unmarshal {_kind(value)} into {path} (map)")
                return
            for key, item in value.items():
                check(item, item_spec, f"{path}[{key!r}]", problems)
        return
    ok = {
        S: isinstance(value, str),
        I: isinstance(value, int) and not isinstance(value, bool),
        D: isinstance(value, int) and not isinstance(value, bool),
        B: isinstance(value, bool),
        F: isinstance(value, int | float) and not isinstance(value, bool),
    }[spec]
    if not ok:
        problems.append(
            f"json: cannot unmarshal {_kind(value)} into Go struct field {path} "
            f"of type {_GO_TYPES[spec]}"
        )


def fill_nulls(value: Any, spec: Spec) -> Any:
    """Give every known object key a value (null when unset), as Go's encoder does."""
    if isinstance(spec, dict) and isinstance(value, dict):
        return {key: fill_nulls(value.get(key), sub) for key, sub in spec.items()}
    if isinstance(spec, tuple) and spec[0] == "list" and isinstance(value, list):
        return [fill_nulls(item, spec[1]) for item in value]
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"
