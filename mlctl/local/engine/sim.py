"""``NomadSim``: the simulator as one object — state, ticker, HTTP server and steering."""

from __future__ import annotations

import functools
import threading
from typing import Any

from . import (
    routes_acl,
    routes_acl_auth,
    routes_allocs,
    routes_cluster,
    routes_events,
    routes_jobs,
    routes_sim,
)
from .acl_auth import AclAuth
from .acl_store import AclStore
from .alloc import Alloc
from .clock import SimClock
from .cluster import Cluster
from .drivers import Drivers
from .event_buffer import DEFAULT_SIZE as DEFAULT_EVENT_BUFFER
from .faults import Fault, Faults
from .http import Router, SimHTTPServer
from .lifecycle import Lifecycle
from .scheduler import stop_alloc
from .store import Store
from .topology import NodeSpec, default_cluster
from .variables import Variables

JSON = dict[str, Any]
TICK_SECONDS = 0.02  # real time between lifecycle ticks
MODES = ("healthy", "unhealthy", "fail", "oom")


def _check_mode(mode: str) -> None:
    if mode in MODES or mode.startswith("fail:"):
        return
    if mode.startswith("exit:") and mode[5:].lstrip("-").isdigit():
        return
    raise ValueError(
        f"unknown behaviour {mode!r}: use healthy, unhealthy, fail[:message], oom or exit:<code>"
    )


class NomadSim:
    """A strict in-memory Nomad server.  ``start()`` binds 127.0.0.1 and starts the ticker."""

    def __init__(
        self,
        nodes: list[NodeSpec] | None = None,
        acl: bool = False,
        time_scale: float = 50.0,
        region: str = "global",
        verbose: bool = False,
        drivers: Drivers | None = None,
        clock: SimClock | None = None,
        tick_seconds: float = TICK_SECONDS,
        reconcile_every: float = 0.0,
        bootstrap: bool = True,
        idle_tick_seconds: float | None = None,
        event_buffer_size: int = DEFAULT_EVENT_BUFFER,
        event_heartbeat: float = 30.0,
    ) -> None:
        """``drivers`` run the tasks (default: every task simulated); ``clock`` replaces
        the scaled clock (``mlctl local`` runs on wall time); ``tick_seconds`` and
        ``reconcile_every`` trade reaction time for idle CPU; ``bootstrap=False`` skips
        the ACL bootstrap (state restored from disk has its tokens); with
        ``idle_tick_seconds`` an engine with nothing in flight ticks that seldom;
        ``event_buffer_size`` (Raft indexes kept for resuming event streams, Nomad's
        default 100) and ``event_heartbeat`` (simulated seconds between ``{}`` lines,
        Nomad's 30) shape the event stream."""
        self.clock = clock or SimClock(time_scale)
        self.store = Store(self.clock, event_buffer_size)
        self.event_heartbeat = event_heartbeat
        self.faults = Faults()
        self.cluster = Cluster(self.store, region)
        self.acls = AclStore(self.cluster, acl)
        self.acl_auth = AclAuth(self.acls)  # roles, auth methods, binding rules, login
        self.variables = Variables(self.cluster)
        self.lifecycle = Lifecycle(self.cluster, drivers, reconcile_every)
        self.tick_seconds = tick_seconds
        self.idle_tick_seconds = idle_tick_seconds
        self.router = Router()
        for module in (
            routes_jobs,
            routes_allocs,
            routes_cluster,
            routes_acl,
            routes_acl_auth,
            routes_events,
            routes_sim,
        ):
            module.register(self.router)
        self.verbose = verbose
        self.stopped = threading.Event()
        self.management_token: str | None = None
        self._server: SimHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        with self.store.lock:
            for spec in default_cluster() if nodes is None else nodes:
                self.cluster.add_node(spec)
            if acl and bootstrap:  # a restored runtime brings its own tokens
                self.management_token = self.acls.bootstrap()["SecretID"]

    # ------------------------------------------------------------------ running

    @property
    def address(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    def start(self, port: int = 0, host: str = "127.0.0.1") -> NomadSim:
        self._server = SimHTTPServer((host, port), self)
        serve = threading.Thread(
            target=self._server.serve_forever, name="nomad-sim-http", daemon=True
        )
        tick = threading.Thread(target=self._tick_loop, name="nomad-sim-ticker", daemon=True)
        self._threads = [serve, tick]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        with self.store.changed:
            self.store.changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> NomadSim:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick_loop(self) -> None:
        if self.idle_tick_seconds is None:
            while not self.stopped.wait(self.tick_seconds):
                self.lifecycle.tick()
                self._expire_locks()
            return
        # Adaptive: every tick_seconds while something is in flight, else sleep up to
        # idle_tick_seconds and wake as soon as a request changes the state.
        store = self.store
        while not self.stopped.is_set():
            self.lifecycle.tick()
            self._expire_locks()
            seen = store.index
            pause = self.tick_seconds if self.lifecycle.busy() else self.idle_tick_seconds
            pause = min(pause, self._until_lock_deadline())
            with store.changed:
                store.changed.wait_for(functools.partial(self._moved, seen), timeout=pause)
            if store.index != seen:
                self.stopped.wait(self.tick_seconds / 4)  # let a burst of changes land

    def _expire_locks(self) -> None:
        """Variable locks lose their TTL and delay on the engine's clock, unasked."""
        with self.store.lock:
            self.variables.expire()

    def _until_lock_deadline(self) -> float:
        """Real seconds until the next variable-lock timer fires (inf: none)."""
        with self.store.lock:
            deadline = self.variables.timers.next_deadline()
        if deadline is None:
            return float("inf")
        return max(self.tick_seconds, self.clock.real_seconds(deadline - self.clock.now()))

    def _moved(self, seen: int) -> bool:
        return self.store.index != seen or self.stopped.is_set()

    def tick(self) -> None:
        """Run one lifecycle step now (tests that advance time call this to see effects at once)."""
        self.lifecycle.tick(force=True)

    # ------------------------------------------------------------------ steering

    def add_node(self, spec: NodeSpec) -> JSON:
        with self.store.lock:
            return self.cluster.add_node(spec)

    def _node(self, ref: str) -> JSON:
        node = self.cluster.node_by_name_or_id(ref)
        if node is None:
            raise KeyError(f"no node {ref!r}")
        return node

    def remove_node(self, ref: str) -> None:
        """Deregister a node; its allocations are lost and get replaced elsewhere."""
        with self.store.lock:
            node = self._node(ref)
            self._lose_allocs(node)
            del self.cluster.nodes[node["ID"]]
            self.store.bump("nodes")
            self.cluster.emit("Node", "NodeDeregistration", node["ID"], "", {"Node": node})

    def set_node_status(self, ref: str, status: str) -> None:
        """Take a node ``down`` (its allocations become lost) or bring it back ``ready``."""
        if status not in ("down", "ready", "disconnected", "initializing"):
            raise ValueError(f"unknown node status {status!r}")
        with self.store.lock:
            node = self._node(ref)
            node["Status"] = status
            node["StatusUpdatedAt"] = self.cluster.now_ns() // 1_000_000_000
            if status == "down":
                self._lose_allocs(node)
            self.cluster.touch_node(node, "NodeEvent")

    def _lose_allocs(self, node: JSON) -> None:
        for alloc in list(self.cluster.allocs.values()):
            if alloc.node["ID"] == node["ID"] and not alloc.terminal:
                stop_alloc(self.cluster, alloc, "alloc is lost since its node is down")
                alloc.client_status = "lost"
                alloc.client_description = "alloc is lost since its node is down"
                alloc.desired_status = "run"
                alloc.desired_transition["Reschedule"] = True
                self.cluster.touch_alloc(alloc)

    def _alloc(self, alloc_id: str) -> Alloc:
        alloc = self.cluster.allocs.get(alloc_id)
        if alloc is None:
            raise KeyError(f"no allocation {alloc_id!r}")
        return alloc

    def set_alloc_health(self, alloc_id: str, healthy: bool) -> None:
        """Decide a deployment allocation's health (as if its checks passed or failed)."""
        with self.store.lock:
            alloc = self._alloc(alloc_id)
            alloc.forced_health = healthy
            if alloc.deployment_status is not None:
                alloc.deployment_status = {**alloc.deployment_status, "Healthy": None}

    def fail_task(
        self, alloc_id: str, task: str | None = None, exit_code: int = 1, oom: bool = False
    ) -> None:
        """Make a running task die now; the restart policy then applies."""
        with self.store.lock:
            alloc = self._alloc(alloc_id)
            if alloc.phase != "running":
                raise ValueError(f"allocation {alloc_id} is not running")
            names = [task] if task else list(alloc.task_states)
            for name in names:
                if name not in alloc.task_states:
                    raise KeyError(f"no task {name!r} in allocation")
                self.lifecycle.terminate(alloc, name, 137 if oom else exit_code, oom=oom)

    def write_log(self, alloc_id: str, task: str | None, stream: str, text: str) -> None:
        if stream not in ("stdout", "stderr"):
            raise ValueError("stream must be stdout or stderr")
        with self.store.lock:
            alloc = self._alloc(alloc_id)
            name = task or next(iter(alloc.task_states))
            alloc.logs.setdefault((name, stream), bytearray()).extend(text.encode())

    def set_behaviour(
        self,
        mode: str,
        job: str | None = None,
        version: int | None = None,
        image: str | None = None,
        namespace: str = "default",
    ) -> None:
        """How future allocations of a job / job version / image behave:
        ``healthy`` (default), ``unhealthy``, ``fail`` / ``fail:<driver message>``, ``oom``,
        ``exit:<code>``."""
        _check_mode(mode)
        with self.store.lock:
            self.cluster.behaviour.set(
                mode, job=job, version=version, image=image, namespace=namespace
            )

    def cut_event_streams(self, mid_line: bool = False) -> None:
        """End every open event stream (``mid_line``: inside a frame, connection dropped)."""
        self.store.cut_streams(mid_line)

    def stall_event_streams(self, stalled: bool = True) -> None:
        """Open event streams go silent, heartbeats included, without disconnecting."""
        self.store.stall_streams(stalled)

    def inject_fault(
        self,
        status: int = 500,
        message: str = "rpc error: No cluster leader",
        prefix: str = "/v1/",
        count: int | None = None,
        seconds: float | None = None,
        method: str | None = None,
    ) -> None:
        """Answer requests under ``prefix`` (only ``method`` ones, if given) with
        ``status`` for ``count`` requests or ``seconds`` of simulated time (neither:
        until :meth:`clear_faults`)."""
        until = self.clock.now() + seconds if seconds is not None else None
        self.faults.add(Fault(prefix, status, message, count, until, method))

    def clear_faults(self) -> None:
        self.faults.clear()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward and let timers fire."""
        if seconds < 0:
            raise ValueError("cannot go back in time")
        self.clock.advance(seconds)
        self.lifecycle.tick(force=True)
        self._expire_locks()

    # ------------------------------------------------------------ inspection helpers for tests

    def allocations(self, job_id: str, namespace: str = "default") -> list[Alloc]:
        with self.store.lock:
            return sorted(
                self.cluster.job_allocs((namespace, job_id)), key=lambda a: a.create_index
            )
