"""A fixed cluster for pictures of the TUI: snapshot tests and the README's screenshots.

Everything is deterministic — IDs, times (a fixed clock), metrics — so the same code
draws the same screen every time. The backend is in memory: it answers reads with fixed
data and records the actions it is asked to run (the pictures never touch a network).
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from mlctl_tui.services.logs import Ended, LogTarget, Sink

from mlctl.monitor.alerts import fingerprint
from mlctl.monitor.clock import ManualClock
from mlctl.monitor.notes import AlertNote
from mlctl.monitor.store import KINDS, Store
from mlctl.monitor.views import Alert, EndpointView, ProbeMetrics
from mlctl.schedule.spec import StoredSchedule
from mlctl.settings import Settings

NOW = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)  # a Tuesday
ADDRESS = "https://nomad.example.org:4646"


def ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def uid(prefix: str, n: int) -> str:
    """A stable, realistic-looking UUID."""
    digest = hashlib.sha256(f"{prefix}-{n}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


GPU = {
    "gpu-1": [
        "GPU-7f3a1c2e-0b4d-4e8f-a1b2-c3d4e5f60001",
        "GPU-7f3a1c2e-0b4d-4e8f-a1b2-c3d4e5f60002",
    ],
    "gpu-2": [
        "GPU-9c8b7a6d-1e2f-4a3b-8c9d-0e1f2a3b0003",
        "GPU-9c8b7a6d-1e2f-4a3b-8c9d-0e1f2a3b0004",
    ],
}
NODES = {"gpu-1": uid("a1", 1), "gpu-2": uid("a1", 2), "cpu-1": uid("a1", 3)}


def job(
    name: str,
    namespace: str,
    count: int,
    version: int,
    model_version: str,
    *,
    stop: bool = False,
    gpus: int = 0,
    index: int = 100,
) -> dict[str, Any]:
    devices = [{"Name": "nvidia/gpu", "Count": gpus}] if gpus else None
    return {
        "ID": f"mlctl-{name}",
        "Name": f"mlctl-{name}",
        "Namespace": namespace,
        "Type": "service",
        "Status": "dead" if stop else "running",
        "Stop": stop,
        "Version": version,
        "Meta": {"mlctl.model": name, "mlctl.version": model_version, "managed-by": "mlctl"},
        "TaskGroups": [
            {
                "Name": "model",
                "Count": count,
                "Services": [{"Name": name, "Provider": "nomad"}],
                "Tasks": [
                    {
                        "Name": "server",
                        "Resources": {"CPU": 1000, "MemoryMB": 4096, "Devices": devices},
                    }
                ],
            }
        ],
        "ModifyIndex": index,
        "JobModifyIndex": index,
        "CreateIndex": 10,
    }


def event(kind: str, at: datetime, message: str, exit_code: int = 0) -> dict[str, Any]:
    details = {"exit_code": str(exit_code)} if kind == "Terminated" else {}
    return {
        "Type": kind,
        "Time": ns(at),
        "DisplayMessage": message,
        "Details": details,
        "ExitCode": exit_code,
    }


STARTED = [
    event("Received", NOW - timedelta(hours=26), "Task received by client"),
    event("Driver", NOW - timedelta(hours=26), "Downloading image"),
    event("Started", NOW - timedelta(hours=26), "Task started by client"),
]


def alloc(
    n: int,
    name: str,
    namespace: str,
    node: str,
    *,
    version: int = 0,
    status: str = "running",
    desired: str = "run",
    healthy: bool | None = True,
    canary: bool = False,
    gpus: list[str] | None = None,
    restarts: int = 0,
    events: list[dict[str, Any]] | None = None,
    age_hours: float = 26,
    deployment: str = "",
) -> dict[str, Any]:
    created = NOW - timedelta(hours=age_hours)
    devices = [{"Name": "Tesla T4", "DeviceIDs": gpus}] if gpus else None
    return {
        "ID": uid("c0", n),
        "Namespace": namespace,
        "JobID": f"mlctl-{name}",
        "TaskGroup": "model",
        "NodeID": NODES[node],
        "NodeName": node,
        "JobVersion": version,
        "DesiredStatus": desired,
        "ClientStatus": status,
        "ClientDescription": "",
        "DeploymentID": deployment or uid("d0", n),
        "DeploymentStatus": {"Healthy": healthy, "Canary": canary},
        "TaskStates": {
            "server": {"State": status, "Restarts": restarts, "Events": events or STARTED}
        },
        "AllocatedResources": {
            "Tasks": {
                "server": {
                    "Cpu": {"CpuShares": 1000},
                    "Memory": {"MemoryMB": 4096},
                    "Devices": devices,
                }
            }
        },
        "CreateIndex": 20 + n,
        "ModifyIndex": 40 + n,
        "CreateTime": ns(created),
        "ModifyTime": ns(created),
    }


def deployment(
    n: int,
    name: str,
    namespace: str,
    version: int,
    status: str,
    *,
    desired: int,
    placed: int,
    healthy: int,
    canaries: int = 0,
    placed_canaries: int = 0,
    promoted: bool = False,
    description: str = "",
) -> dict[str, Any]:
    return {
        "ID": uid("d0", n),
        "Namespace": namespace,
        "JobID": f"mlctl-{name}",
        "JobVersion": version,
        "Status": status,
        "StatusDescription": description
        or {
            "successful": "Deployment completed successfully",
            "running": "Deployment is running",
        }.get(status, ""),
        "TaskGroups": {
            "model": {
                "DesiredTotal": desired,
                "PlacedAllocs": placed,
                "HealthyAllocs": healthy,
                "UnhealthyAllocs": 0,
                "DesiredCanaries": canaries,
                "PlacedCanaries": [uid("c0", 90 + i) for i in range(placed_canaries)],
                "Promoted": promoted,
                "AutoRevert": True,
            }
        },
        "CreateIndex": 30 + n,
        "ModifyIndex": 60 + n,
        "ModifyTime": ns(NOW - timedelta(hours=1)),
    }


def node(
    name: str, *, eligibility: str = "eligible", drain: bool = False, status: str = "ready"
) -> dict[str, Any]:
    gpus = GPU.get(name, [])
    devices = (
        [
            {
                "Vendor": "nvidia",
                "Type": "gpu",
                "Name": "Tesla T4",
                "Attributes": {"memory": {"Int": 15360, "Unit": "MiB"}},
                "Instances": [{"ID": g, "Healthy": not g.endswith("0004")} for g in gpus],
            }
        ]
        if gpus
        else None
    )
    return {
        "ID": NODES[name],
        "Name": name,
        "Datacenter": "dc1",
        "Status": status,
        "SchedulingEligibility": eligibility,
        "Drain": drain,
        "NodePool": "default",
        "NodeClass": "gpu" if gpus else "cpu",
        "NodeResources": {
            "Cpu": {"CpuShares": 16000},
            "Memory": {"MemoryMB": 65536},
            "Devices": devices,
        },
        "ModifyIndex": 5,
    }


CRASHES = [
    event("Started", NOW - timedelta(minutes=9), "Task started by client"),
    *[
        event(
            "Terminated",
            NOW - timedelta(minutes=8 - i),
            "Exit Code: 1, Exit Message: \"ModuleNotFoundError: No module named 'transformers'\"",
            exit_code=1,
        )
        for i in range(3)
    ],
    event("Restarting", NOW - timedelta(minutes=5), "Task restarting in 15s"),
]

BLOCKED_EVAL = {
    "ID": uid("e0", 1),
    "Namespace": "default",
    "JobID": "mlctl-llama",
    "Status": "blocked",
    "FailedTGAllocs": {
        "model": {
            "NodesEvaluated": 3,
            "NodesFiltered": 1,
            "NodesExhausted": 2,
            "DimensionExhausted": {"devices: no devices match request": 2},
            "ConstraintFiltered": {"missing devices": 1},
        }
    },
    "QueuedAllocations": {"model": 1},
    "ModifyIndex": 70,
    "CreateTime": ns(NOW),
}


def build_store() -> Store:
    """The demo cluster: five models over two namespaces, three nodes, two alerts."""
    store = Store()
    listing = {
        "jobs": [
            job("iris", "default", 2, 3, "1.2.0", gpus=1),
            job("llama", "default", 1, 0, "0.9.0", gpus=4),
            job("legacy", "default", 1, 1, "0.3.1", stop=True),
            job("bert", "team-a", 3, 5, "2.1.0"),
            job("churn", "team-a", 2, 2, "1.0.4"),
        ],
        "allocs": [
            alloc(
                1,
                "iris",
                "default",
                "gpu-1",
                version=3,
                gpus=GPU["gpu-1"][:1],
                deployment=uid("d0", 1),
            ),
            alloc(
                2,
                "iris",
                "default",
                "gpu-2",
                version=3,
                gpus=GPU["gpu-2"][:1],
                deployment=uid("d0", 1),
            ),
            alloc(3, "bert", "team-a", "cpu-1", version=4, deployment=uid("d0", 3)),
            alloc(4, "bert", "team-a", "cpu-1", version=4, deployment=uid("d0", 3)),
            alloc(5, "bert", "team-a", "cpu-1", version=4, deployment=uid("d0", 3)),
            alloc(
                6,
                "bert",
                "team-a",
                "gpu-1",
                version=5,
                canary=True,
                age_hours=0.2,
                deployment=uid("d0", 4),
            ),
            alloc(
                7,
                "churn",
                "team-a",
                "cpu-1",
                version=2,
                healthy=False,
                restarts=3,
                events=CRASHES,
                age_hours=0.2,
                deployment=uid("d0", 5),
            ),
            alloc(
                8,
                "churn",
                "team-a",
                "gpu-2",
                version=2,
                status="failed",
                healthy=False,
                restarts=10,
                events=CRASHES,
                age_hours=0.5,
                deployment=uid("d0", 5),
            ),
        ],
        "deployments": [
            deployment(1, "iris", "default", 3, "successful", desired=2, placed=2, healthy=2),
            deployment(
                4,
                "bert",
                "team-a",
                5,
                "running",
                desired=3,
                placed=1,
                healthy=1,
                canaries=1,
                placed_canaries=1,
            ),
            deployment(5, "churn", "team-a", 2, "running", desired=2, placed=2, healthy=0),
        ],
        "evals": [BLOCKED_EVAL],
        "nodes": [node("gpu-1"), node("gpu-2"), node("cpu-1", eligibility="ineligible")],
    }
    for kind in KINDS:
        store.resync(kind, listing[kind], 80)
    store.set_endpoints(
        ("default", "mlctl-iris"),
        [
            EndpointView("iris", uid("c0", 1), "10.0.1.21", 24817),
            EndpointView("iris", uid("c0", 2), "10.0.1.22", 31203),
        ],
    )
    store.set_probe(
        ("default", "mlctl-iris"),
        ProbeMetrics(
            NOW, 2, 2, 2, req_rate=42.5, error_rate=0.002, p50_ms=8.1, p99_ms=35.0, in_flight=1
        ),
    )
    store.set_probe(
        ("team-a", "mlctl-bert"),
        ProbeMetrics(NOW, 4, 4, 4, req_rate=310.0, error_rate=0.0, p50_ms=21.0, p99_ms=88.0),
    )
    store.set_alerts(
        [
            alert(
                "ModelCrashLooping",
                "critical",
                "churn",
                "team-a",
                "churn is crash-looping on cpu-1",
                NOW - timedelta(minutes=6),
            ),
            alert(
                "ModelPlacementBlocked",
                "warning",
                "llama",
                "default",
                "Nomad cannot place llama",
                NOW - timedelta(minutes=2),
            ),
            alert(
                "ModelUnderReplicated",
                "warning",
                "iris",
                "default",
                "iris has 1 of 2 healthy allocations",
                NOW - timedelta(hours=3),
                ends=NOW - timedelta(hours=2),
            ),
        ]
    )
    store.set_connection(True, "stream")
    return store


def alert(
    name: str,
    severity: str,
    model: str,
    namespace: str,
    summary: str,
    starts: datetime,
    ends: datetime | None = None,
) -> Alert:
    labels = {
        "alertname": name,
        "severity": severity,
        "model": model,
        "namespace": namespace,
        "job": f"mlctl-{model}",
    }
    return Alert(
        labels, {"summary": summary, "description": summary}, starts, ends, fingerprint(labels)
    )


SCHEDULES = {
    ("default", "iris"): StoredSchedule.model_validate(
        {
            "windows": [
                {"window": "Mon-Fri 08:00-20:00 Europe/Berlin"},
                {"window": "Sat 10:00-14:00 Europe/Berlin", "replicas": 1},
            ],
            "replicas": 2,
            "updated_by": "alice",
            "updated_at": "2025-03-01T09:12:00Z",
        }
    ),
    ("team-a", "bert"): StoredSchedule.model_validate(
        {
            "windows": [
                {"start": "0 5 * * 1-5", "stop": "30 22 * * 1-5", "tz": "America/New_York"},
                {
                    "from": "2025-03-08T00:00:00+00:00",
                    "until": "2025-03-09T06:00:00+00:00",
                    "down": True,
                },
            ],
            "replicas": 3,
            "updated_by": "bob",
            "updated_at": "2025-02-27T16:40:00Z",
        }
    ),
}

HISTORY = [
    {
        "version": 3,
        "current": True,
        "submitted": "2025-03-03 14:02:11Z",
        "model_version": "1.2.0",
        "bundle_sha256": "9f2c1e7a4b3d5c6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f",
        "deployed_by": "alice",
        "stable": True,
        "replicas": 2,
    },
    {
        "version": 2,
        "current": False,
        "submitted": "2025-02-28 09:45:03Z",
        "model_version": "1.1.0",
        "bundle_sha256": "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091",
        "deployed_by": "alice",
        "stable": True,
        "replicas": 2,
    },
    {
        "version": 1,
        "current": False,
        "submitted": "2025-02-20 17:30:55Z",
        "model_version": "1.0.0",
        "bundle_sha256": "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc",
        "deployed_by": "bob",
        "stable": False,
        "replicas": 1,
    },
]

LOG_LINES = [
    '{"time":"2025-03-04T10:29:58Z","method":"POST","path":"/predict","status":200,"duration_ms":7.9}',
    '{"time":"2025-03-04T10:29:59Z","method":"POST","path":"/v2/models/iris/infer","status":200,"duration_ms":5.2}',
    '{"time":"2025-03-04T10:30:00Z","method":"POST","path":"/predict","status":400,"duration_ms":0.8}',
    '{"time":"2025-03-04T10:30:01Z","method":"GET","path":"/readyz","status":200,"duration_ms":0.1}',
]


class DemoFollow:
    """Hands fixed lines to the sink, then waits until stopped (like a quiet log).

    Followers deliver in the order they were created (each waits for the one before), so
    a merged view of several allocations is the same picture every time."""

    def __init__(
        self, target: LogTarget, sink: Sink, ended: Ended, after: threading.Event | None
    ) -> None:
        self.target, self._sink, self._ended = target, sink, ended
        self._stop = threading.Event()
        self._after = after
        self.delivered = threading.Event()

    def run(self) -> None:
        if self._after is not None:
            self._after.wait(10)
        if self.target.stream == "stdout":
            self._sink(self.target.source, "stdout", ("\n".join(LOG_LINES) + "\n").encode())
        self.delivered.set()
        self._stop.wait()
        self._ended(self.target.source, self.target.stream, "")

    def stop(self) -> None:
        self._stop.set()


class DemoBackend:
    """In-memory backend with fixed answers; actions are recorded, not run."""

    address = ADDRESS

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._last_follow: DemoFollow | None = None

    def actor(self) -> str:
        return "alice"

    def token_self(self) -> dict[str, Any]:
        return {"Type": "management", "Name": "alice"}

    def policy_rules(self, name: str) -> str:
        return ""

    def schedules(self) -> dict[tuple[str, str], StoredSchedule]:
        return dict(SCHEDULES)

    def notes(self) -> dict[str, AlertNote]:
        crash = alert("ModelCrashLooping", "critical", "churn", "team-a", "", NOW)
        return {
            crash.fingerprint: AlertNote(
                crash.fingerprint,
                "team-a",
                crash.labels,
                acked_by="bob",
                acked_at=NOW - timedelta(minutes=4),
            )
        }

    def history(self, namespace: str, model: str) -> list[dict[str, Any]]:
        return [dict(v) for v in HISTORY]

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any) -> str:
            self.calls.append((name, args))
            return f"{name}: done"

        if name in {
            "scale",
            "start_target",
            "start",
            "stop",
            "restart_model",
            "restart_allocs",
            "stop_alloc",
            "promote",
            "rollback",
            "drain",
            "set_eligibility",
            "save_window",
            "remove_window",
            "set_paused",
            "save_note",
            "delete_note",
        }:
            if name == "start_target":
                return lambda *args: (2, "the bundle's replicas")
            return record
        raise AttributeError(name)

    def follow_log(self, namespace: str, target: LogTarget, sink: Sink, ended: Ended) -> DemoFollow:
        after = self._last_follow.delivered if self._last_follow is not None else None
        self._last_follow = DemoFollow(target, sink, ended, after)
        return self._last_follow


def demo_app(readonly: bool = False) -> Any:
    """The TUI on the demo cluster, with a clock that stands still."""
    from mlctl_tui.app import Intervals, make_app
    from mlctl_tui.services.audit import AuditTrail

    settings = Settings(nomad_addr=ADDRESS)
    clock = ManualClock(NOW)
    hour = 3600.0
    return make_app(
        settings,
        build_store(),
        backend=DemoBackend(),
        readonly=readonly,
        clock=clock,
        audit=AuditTrail(None, clock),
        intervals=Intervals(clock=hour, schedules=hour, notes=hour),
    )


async def settled(pilot: Any) -> None:
    """Wait until the app's background reads (who, abilities, schedules, notes) are in."""
    from tests.tui.support import wait_for

    app = pilot.app
    await wait_for(
        pilot,
        lambda: bool(
            app.view.actor
            and app.view.schedules
            and app.view.notes
            and app.view.abilities.source != "checking…"
        ),
        "the demo's background reads",
    )
    await pilot.pause()
