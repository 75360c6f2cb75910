"""The engine as ``mlctl local`` runs it: real drivers, the host as its node, state on disk.

:func:`build_runtime` assembles it: the ``raw_exec`` runner (real processes), Docker
detected and reported (tasks with the ``docker`` driver are not run by mlctl local),
this machine fingerprinted as the one node, ACLs on with a management token, wall
clock time, and the SQLite state restored when there is one — after which tasks
whose processes survived are re-adopted and the others started again.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from .alloc import task_event
from .cgroups import Cgroups
from .clock import SimClock
from .drivers import DriverInfo, Drivers
from .gc import Thresholds, collect
from .host import host_gpus, host_node
from .persist import StateDB
from .rawexec import RawExecRunner, kill_process
from .sim import NomadSim
from .topology import GpuSpec

TICK_SECONDS = 0.1  # while tasks start, restart or wait for a health verdict
IDLE_TICK_SECONDS = 1.0  # otherwise (and at once when a request changes something)
RECONCILE_EVERY = 1.0
DOCKER_SOCKET = Path("/var/run/docker.sock")


@dataclass
class Runtime:
    """A built engine and what ``mlctl local status`` reports about it."""

    sim: NomadSim
    runner: RawExecRunner
    state: StateDB
    limits: str
    gpus: str
    docker: str
    restored: bool

    def close(self) -> None:
        self.runner.close()
        with self.sim.store.lock:
            self.state.save(self.sim, everything=True)
        self.state.close()


def docker_info(environ: dict[str, str]) -> DriverInfo:
    """Is a Docker daemon reachable?  mlctl local reports it but runs raw_exec tasks only."""
    host = environ.get("DOCKER_HOST", f"unix://{DOCKER_SOCKET}")
    if not host.startswith("unix://"):
        return DriverInfo(False, False, f"Docker at {host} is not checked (unix sockets only)")
    path = host[len("unix://") :]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        return DriverInfo(
            False, False, f"Failed to connect to docker daemon at {host}: {exc.strerror}"
        )
    if b" 200 " not in answer:
        return DriverInfo(False, False, f"Docker at {host} did not answer /_ping")
    return DriverInfo(
        True,
        False,
        "Docker daemon found, but mlctl local runs raw_exec tasks only (use a Nomad cluster)",
    )


def port_available(port: int) -> bool:
    """Nobody on this host listens on ``port`` (tasks bind 127.0.0.1).

    With SO_REUSEADDR, as servers bind: connections of a process that just died
    (TIME_WAIT) do not make the port look taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def build_runtime(
    data_dir: Path,
    *,
    acl: bool = True,
    gpus: tuple[list[GpuSpec], str] | None = None,
    environ: dict[str, str] | None = None,
    cgroups: Cgroups | None = None,
    verbose: bool = False,
) -> Runtime:
    """An engine over ``data_dir`` (created 0700); not yet serving (call ``sim.start``)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_dir.chmod(0o700)
    env = dict(os.environ if environ is None else environ)
    state = StateDB(data_dir / "state.db")
    restored = state.has_state()
    start_wall = float(state.meta("clock_start_wall") or 0) or None
    raw = DriverInfo(True, True, "Healthy", {"driver.raw_exec": "1"})
    drivers = Drivers(runners={}, info={"raw_exec": raw, "docker": docker_info(env)})
    found_gpus, gpu_note = gpus if gpus is not None else host_gpus()
    sim = NomadSim(
        nodes=[],
        acl=acl,
        clock=SimClock.wall(start_wall),
        drivers=drivers,
        tick_seconds=TICK_SECONDS,
        idle_tick_seconds=IDLE_TICK_SECONDS,
        reconcile_every=RECONCILE_EVERY,
        verbose=verbose,
        bootstrap=not restored,
    )
    runner = RawExecRunner(data_dir, sim.store.lock, cgroups, env)
    drivers.runners["raw_exec"] = runner
    runner.read_variable = lambda namespace, path: _variable_items(sim, namespace, path)
    sim.cluster.port_available = port_available
    sim.lifecycle.collector = lambda: collect(sim.cluster, Thresholds(), runner.alloc_dir)
    node = host_node(drivers, data_dir, found_gpus)
    with sim.store.lock:
        if restored:
            state.restore(sim)
            _refresh_node(sim, node)
            _resume(sim, runner)
        else:
            sim.cluster.add_node(node)
        sim.store.on_commit = lambda: state.save(sim)
        state.save(sim, everything=True)
    return Runtime(
        sim=sim,
        runner=runner,
        state=state,
        limits=runner.cgroups.describe(),
        gpus=gpu_note,
        docker=drivers.info["docker"].description,
        restored=restored,
    )


def _refresh_node(sim: NomadSim, fresh: object) -> None:
    """Keep the node's ID (allocations point at it) but take today's fingerprint."""
    from .topology import NodeSpec, node_json

    assert isinstance(fresh, NodeSpec)
    cluster = sim.cluster
    if not cluster.nodes:
        cluster.add_node(fresh)
        return
    node = next(iter(cluster.nodes.values()))
    new = node_json(fresh, node["ID"], node["CreateIndex"], cluster.now_ns())
    keep = {
        "ID",
        "CreateIndex",
        "SchedulingEligibility",
        "Drain",
        "DrainStrategy",
        "LastDrain",
        "Events",
    }
    for key, value in new.items():
        if key not in keep:
            node[key] = value
    node["Status"] = "ready"
    cluster.touch_node(node, "NodeRegistration")


def _resume(sim: NomadSim, runner: RawExecRunner) -> None:
    """Re-adopt surviving task processes; restart those that died with the runtime."""
    cluster = sim.cluster
    lifecycle = sim.lifecycle
    now = cluster.store.clock.now()
    now_ns = cluster.now_ns()
    for alloc in list(cluster.allocs.values()):
        if alloc.terminal or alloc.desired_status != "run":
            for name, handle in list(alloc.handles.items()):
                _kill_leftover(handle)  # a stop the runtime did not see to its end
                alloc.handles.pop(name, None)
            continue
        if alloc.phase == "received":
            continue
        if lifecycle.runner(alloc) is not runner:
            continue
        lost = runner.adopt(lifecycle, alloc)
        if alloc.phase == "starting":
            lost = [n for n, s in alloc.task_states.items() if (alloc.id, n) not in runner.procs]
        if not lost:
            continue
        for name in lost:
            state = alloc.task_states[name]
            state["State"] = "pending"
            reason = "Restarting after the local runtime restarted"
            state["Events"].append(
                task_event(
                    "Restarting", reason, now_ns, {"restart_reason": reason}, RestartReason=reason
                )
            )
        alloc.running_since = None
        alloc.phase = "restarting"
        alloc.next_at = now
        cluster.touch_alloc(alloc)


def _kill_leftover(handle: dict[str, object]) -> None:
    from .rawexec import Proc, _alive

    pid, created = int(str(handle["pid"])), float(str(handle["create_time"]))
    if _alive(pid, created):
        with contextlib.suppress(OSError):
            kill_process(Proc(pid, created), 9, 0.0)


def _variable_items(sim: NomadSim, namespace: str, path: str) -> dict[str, str] | None:
    with sim.store.lock:
        variable = sim.variables.get(namespace, path)
        return dict(variable["Items"]) if variable else None
