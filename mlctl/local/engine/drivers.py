"""Task drivers: how the engine's one client runs the tasks of an allocation.

The engine (scheduler, deployments, restart and reschedule policies) is the same for
every driver; a driver only starts, watches and stops tasks and says since when an
allocation is ready.  Two kinds exist:

- :class:`SimulatedRunner` — the steerable behaviour the test suite uses (no process
  runs; ``healthy``, ``unhealthy``, ``fail``, ``oom`` and ``exit:N`` modes);
- :class:`mlctl.local.engine.rawexec.RawExecRunner` — real processes, as Nomad's
  ``raw_exec`` driver runs them (``mlctl local``).

:class:`Drivers` maps each task ``driver`` name to its runner and says which drivers
the node fingerprints (the node attributes ``driver.<name>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .alloc import Alloc, task_event

if TYPE_CHECKING:
    from .lifecycle import Lifecycle

JSON = dict[str, Any]
CRASH_AFTER = 5.0  # simulated seconds an "oom"/"exit:N" task runs before it dies
DEFAULT_PULL_ERROR = (
    "Failed to pull `{image}`: Error response from daemon: manifest for {image} not found: "
    "manifest unknown: manifest unknown"
)


class TaskRunner(Protocol):
    """What the lifecycle asks of a driver.  Called with ``store.lock`` held."""

    name: str
    start_delay: float
    """Simulated seconds between an allocation's creation and its first start."""

    def start(self, lc: Lifecycle, alloc: Alloc, now: float) -> None:
        """Start (or restart) the tasks of ``alloc`` that are not running."""

    def poll(self, lc: Lifecycle, alloc: Alloc, now: float) -> None:
        """Notice tasks that ended and report them with ``lc.terminate``."""

    def ready_since(self, alloc: Alloc, now: float) -> float | None:
        """Since when every task runs and every check passes; None while not so."""

    def stop(self, lc: Lifecycle, alloc: Alloc) -> bool:
        """Kill the tasks of a stopped allocation; True when they are already dead."""

    def restart(self, lc: Lifecycle, alloc: Alloc, tasks: list[str]) -> None:
        """Restart running tasks in place (``/v1/client/allocation/:id/restart``)."""

    def signal(self, alloc: Alloc, tasks: list[str], signal: str) -> None:
        """Send a signal to running tasks (``/v1/client/allocation/:id/signal``)."""


def log_line(alloc: Alloc, task: str, stream: str, line: str) -> None:
    """Append a line to the in-memory log of a simulated task."""
    alloc.logs.setdefault((task, stream), bytearray()).extend(line.encode() + b"\n")


def task_image(alloc: Alloc, task: str) -> str:
    for t in alloc.group()["Tasks"]:
        if t["Name"] == task:
            return str((t.get("Config") or {}).get("image") or t["Driver"])
    return "unknown"


class SimulatedRunner:
    """No process runs: tasks behave as the test steered them (``alloc.behaviour``)."""

    name = "simulated"
    start_delay = 1.0

    def start(self, lc: Lifecycle, alloc: Alloc, now: float) -> None:
        now_ns = lc.cluster.now_ns()
        mode = alloc.behaviour
        for name, state in alloc.task_states.items():
            events = state["Events"]
            if alloc.phase == "received":
                lc.setup_events(alloc, name, now_ns)
            events.append(
                task_event(
                    "Driver",
                    "Downloading image",
                    now_ns,
                    {"image": task_image(alloc, name)},
                    DriverMessage="Downloading image",
                )
            )
            if mode == "fail" or mode.startswith("fail:"):
                message = (
                    mode[5:]
                    if mode.startswith("fail:")
                    else DEFAULT_PULL_ERROR.format(image=task_image(alloc, name))
                )
                events.append(
                    task_event(
                        "Driver Failure",
                        message,
                        now_ns,
                        {"driver_error": message},
                        DriverError=message,
                    )
                )
                log_line(alloc, name, "stderr", f"driver: {message}")
                lc.task_failed(alloc, name, now)
                continue
            lc.task_started(alloc, name, now_ns)
            log_line(alloc, name, "stdout", f"[{alloc.name}] task {name} started (sim)")
            log_line(alloc, name, "stdout", f"[{alloc.name}] listening on 0.0.0.0:{_port(alloc)}")
        if lc.all_running(alloc):
            lc.alloc_running(alloc, now)
            alloc.next_at = now + CRASH_AFTER
        lc.cluster.touch_alloc(alloc)

    def poll(self, lc: Lifecycle, alloc: Alloc, now: float) -> None:
        mode = alloc.behaviour
        if alloc.phase != "running" or now < alloc.next_at:
            return
        if mode == "oom" or mode.startswith("exit:"):
            code = 137 if mode == "oom" else int(mode.split(":", 1)[1])
            for task in alloc.task_states:
                lc.terminate(alloc, task, code, oom=mode == "oom")

    def ready_since(self, alloc: Alloc, now: float) -> float | None:
        return alloc.running_since if alloc.behaviour == "healthy" else None

    def stop(self, lc: Lifecycle, alloc: Alloc) -> bool:
        return True

    def restart(self, lc: Lifecycle, alloc: Alloc, tasks: list[str]) -> None:
        now_ns = lc.cluster.now_ns()
        for name in tasks:
            state = alloc.task_states[name]
            lc.restart_signaled(alloc, name, now_ns)
            state["Events"].append(task_event("Started", "Task started by client", now_ns))
            state["Restarts"] += 1
            state["LastRestart"] = now_ns

    def signal(self, alloc: Alloc, tasks: list[str], signal: str) -> None:
        return None


def _port(alloc: Alloc) -> int:
    ports = alloc.offer.ports
    return int(ports[0]["To"] or ports[0]["Value"]) if ports else 0


@dataclass
class DriverInfo:
    """One driver as the node reports it under ``Drivers`` and ``driver.<name>``."""

    detected: bool
    healthy: bool
    description: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Drivers:
    """Which runner runs each task driver, and what the node fingerprints."""

    runners: dict[str, TaskRunner]
    info: dict[str, DriverInfo]
    fallback: TaskRunner | None = None
    """Runs any driver name not in ``runners`` (the simulator runs them all)."""

    def runner(self, driver: str) -> TaskRunner:
        found = self.runners.get(driver) or self.fallback
        if found is None:
            raise KeyError(f"no runner for task driver {driver!r}")
        return found

    def for_alloc(self, alloc: Alloc) -> TaskRunner:
        """The runner of an allocation: its first task's (a group uses one driver)."""
        return self.runner(alloc.group()["Tasks"][0]["Driver"])

    def node_attributes(self) -> dict[str, str]:
        attrs: dict[str, str] = {}
        for name, info in self.info.items():
            if info.detected and info.healthy:
                attrs[f"driver.{name}"] = "1"
                attrs.update(info.attributes)
        return attrs


def simulated() -> Drivers:
    """The test suite's drivers: every task is simulated; the node says it has docker."""
    return Drivers(
        runners={},
        info={
            "docker": DriverInfo(
                True,
                True,
                "Healthy",
                {"driver.docker.version": "24.0.7"},
            )
        },
        fallback=SimulatedRunner(),
    )
