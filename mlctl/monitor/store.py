"""The Store: the monitor's picture of the cluster, pure and free of I/O.

Contract (the schedule reconciler and the TUI build on it):

- Writers (the follower, the prober, the alert engine) call :meth:`Store.apply_event`,
  :meth:`Store.apply`, :meth:`Store.remove`, :meth:`Store.resync`,
  :meth:`Store.set_endpoints`, :meth:`Store.set_probe`, :meth:`Store.set_alerts` and
  :meth:`Store.set_connection`. Every object is deduplicated by its ``ModifyIndex``:
  a copy that is not newer than what the Store holds is ignored, so replaying events,
  or a snapshot that overlaps the stream, never applies anything twice.
- :meth:`Store.resync` replaces one kind from a REST listing taken at index ``L``:
  objects missing from it are gone, and any later copy with ``ModifyIndex <= L`` of an
  object the listing did not contain is ignored (it was deleted before the listing).
  So after any gap in the event stream, a resync makes the Store exact again.
- Readers call :meth:`Store.snapshot` and get an immutable, internally consistent
  :class:`Snapshot`. It is cheap: unchanged views are shared between snapshots, only
  models and nodes touched since the previous snapshot are rebuilt, and an unchanged
  Store returns the same object. ``Snapshot.version`` grows with every change.
- :meth:`Store.subscribe` registers ``callback(snapshot)``; it is called (outside the
  Store's lock) by :meth:`Store.publish`, which writers call after a batch of changes.
  It returns a function that unsubscribes.

Thread-safe: one lock guards the tables; no method does I/O or reads a clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from mlctl.monitor import convert
from mlctl.monitor.convert import EvalRecord, JobRecord, NodeRecord
from mlctl.monitor.views import (
    Alert,
    AllocView,
    DeploymentView,
    EndpointView,
    GpuInstanceView,
    ModelKey,
    ModelView,
    NodeView,
    ProbeMetrics,
)

JSON = dict[str, Any]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Object kinds the Store follows, as named in resync calls.
KINDS = ("jobs", "allocs", "deployments", "evals", "nodes")
_EMPTY: Mapping[Any, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of the whole cluster at one Store version."""

    version: int
    index: int  #: highest Nomad index applied
    models: Mapping[ModelKey, ModelView]
    nodes: Mapping[str, NodeView]
    allocations: Mapping[str, AllocView]
    alerts: tuple[Alert, ...]
    connected: bool
    disconnected_since: datetime | None
    mode: str  #: ``connecting``, ``stream`` or ``polling``
    synced: bool  #: a full snapshot of the cluster has been loaded at least once
    last_error: str = ""

    def model(self, name: str, namespace: str = "default") -> ModelView | None:
        """A model by its name (or job id) in ``namespace``."""
        direct = self.models.get((namespace, name))
        if direct is not None:
            return direct
        return next(
            (m for m in self.models.values() if m.namespace == namespace and m.name == name),
            None,
        )

    def alerts_for(self, key: ModelKey) -> tuple[Alert, ...]:
        namespace, job_id = key
        return tuple(
            a
            for a in self.alerts
            if a.labels.get("namespace") == namespace and a.labels.get("job") == job_id
        )

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.ends_at is None)


@dataclass
class _Table(Generic[K, V]):
    """Objects of one kind with their last seen ModifyIndex (tombstones included)."""

    items: dict[K, V] = field(default_factory=dict)
    seen: dict[K, int] = field(default_factory=dict)
    floor: int = 0  #: index of the last full listing

    def accepts(self, key: K, modify_index: int) -> bool:
        known = self.seen.get(key)
        if known is not None:
            return modify_index > known
        return modify_index > self.floor


Subscriber = Callable[[Snapshot], None]


class Store:
    """See the module docstring for the contract."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._jobs: _Table[ModelKey, JobRecord] = _Table()
        self._allocs: _Table[str, AllocView] = _Table()
        self._deployments: _Table[str, DeploymentView] = _Table()
        self._evals: _Table[str, EvalRecord] = _Table()
        self._nodes: _Table[str, NodeRecord] = _Table()
        self._latest_deployment: dict[ModelKey, str] = {}
        self._failed_deployment: dict[ModelKey, DeploymentView] = {}
        self._allocs_by_job: dict[ModelKey, set[str]] = {}
        self._allocs_by_node: dict[str, set[str]] = {}
        self._blocked_by_job: dict[ModelKey, set[str]] = {}
        self._endpoints: dict[ModelKey, tuple[EndpointView, ...]] = {}
        self._probes: dict[ModelKey, ProbeMetrics] = {}
        self._alerts: tuple[Alert, ...] = ()
        self._models: dict[ModelKey, ModelView] = {}
        self._node_views: dict[str, NodeView] = {}
        self._dirty_models: set[ModelKey] = set()
        self._dirty_nodes: set[str] = set()
        self._allocs_changed = True
        self._index = 0
        self._version = 0
        self._connected = False
        self._disconnected_since: datetime | None = None
        self._mode = "connecting"
        self._synced: set[str] = set()
        self._last_error = ""
        self._snapshot: Snapshot | None = None
        self._allocs_map: Mapping[str, AllocView] = _EMPTY
        self._subscribers: list[Subscriber] = []
        self._published_version = -1
        self._publishing = threading.Lock()

    # ------------------------------------------------------------------ reading

    @property
    def index(self) -> int:
        """The highest Nomad index applied (where a resumed stream starts)."""
        with self._lock:
            return self._index

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def snapshot(self) -> Snapshot:
        """The current state; the same object until something changes."""
        with self._lock:
            if self._snapshot is not None and self._snapshot.version == self._version:
                return self._snapshot
            self._rebuild()
            if self._allocs_changed:
                self._allocs_map = MappingProxyType(dict(self._allocs.items))
                self._allocs_changed = False
            self._snapshot = Snapshot(
                version=self._version,
                index=self._index,
                models=MappingProxyType(dict(self._models)),
                nodes=MappingProxyType(dict(self._node_views)),
                allocations=self._allocs_map,
                alerts=self._alerts,
                connected=self._connected,
                disconnected_since=self._disconnected_since,
                mode=self._mode,
                synced=set(KINDS) <= self._synced,
                last_error=self._last_error,
            )
            return self._snapshot

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(snapshot)`` after each published batch of changes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self) -> Snapshot | None:
        """Tell subscribers about changes since the last publish; returns the snapshot
        they were given (None when nothing changed). A failing subscriber is skipped
        so it cannot stop the writer; its exception is re-raised after all ran."""
        with self._publishing:  # subscribers see snapshots in order, one batch at a time
            with self._lock:
                if self._version == self._published_version:
                    return None
                self._published_version = self._version
                subscribers = list(self._subscribers)
            snapshot = self.snapshot()
            errors: list[BaseException] = []
            for callback in subscribers:
                try:
                    callback(snapshot)
                except Exception as error:  # one bad reader must not stall the monitor
                    errors.append(error)
        if errors:
            raise errors[0]
        return snapshot

    # ------------------------------------------------------------------ writing

    def apply_event(self, event: JSON) -> bool:
        """Apply one event of ``/v1/event/stream`` (its ``Topic``/``Type``/``Payload``)."""
        topic = event.get("Topic")
        payload = event.get("Payload") or {}
        index = int(event.get("Index") or 0)
        with self._lock:
            self._index = max(self._index, index)
            if topic == "Allocation" and "Allocation" in payload:
                return self.apply("allocs", payload["Allocation"])
            if topic == "Job" and "Job" in payload:
                return self.apply("jobs", payload["Job"])
            if topic == "Deployment" and "Deployment" in payload:
                return self.apply("deployments", payload["Deployment"])
            if topic == "Evaluation" and "Evaluation" in payload:
                return self.apply("evals", payload["Evaluation"])
            if topic in ("Node", "NodeDrain") and "Node" in payload:
                node = payload["Node"]
                if event.get("Type") == "NodeDeregistration":
                    return self.remove("nodes", str(node.get("ID") or ""), index)
                return self.apply("nodes", node)
        return False

    def apply(self, kind: str, obj: JSON) -> bool:
        """Upsert one Nomad object of ``kind`` unless the Store already has it as new."""
        modify_index = int(obj.get("ModifyIndex") or 0)
        with self._lock:
            applied = self._APPLY[kind](self, obj, modify_index)
            if applied:
                self._index = max(self._index, modify_index)
                self._version += 1
            return applied

    def remove(self, kind: str, key: Any, index: int) -> bool:
        """Forget an object deleted at ``index`` (a tombstone keeps stale copies out)."""
        with self._lock:
            table = self._table(kind)
            if key in table.seen and table.seen[key] >= index:
                return False
            return self._drop(kind, key, index)

    def _drop(self, kind: str, key: Any, index: int) -> bool:
        table = self._table(kind)
        table.seen[key] = max(index, table.seen.get(key, 0))
        old = table.items.pop(key, None)
        if old is None:
            return False
        self._forget(kind, key, old)
        self._version += 1
        return True

    def resync(self, kind: str, objects: Iterable[JSON], list_index: int) -> int:
        """Make ``kind`` exactly the listing taken at ``list_index``; returns changes."""
        with self._lock:
            table = self._table(kind)
            changes = 0
            present: set[Any] = set()
            for obj in objects:
                present.add(self._key_of(kind, obj))
                changes += self.apply(kind, obj)
            for key in [k for k in table.items if k not in present]:
                if table.seen.get(key, 0) <= list_index:
                    changes += self._drop(kind, key, list_index)
            table.floor = max(table.floor, list_index)
            for key in [k for k, i in table.seen.items() if i <= table.floor]:
                if key not in table.items:
                    del table.seen[key]  # the floor rule now covers it
            self._index = max(self._index, list_index)
            if kind not in self._synced:
                self._synced.add(kind)
                self._version += 1
            return changes

    def set_endpoints(self, key: ModelKey, endpoints: Iterable[EndpointView]) -> bool:
        """Where the model's allocations answer (from its service registrations)."""
        value = tuple(sorted(endpoints, key=lambda e: (e.alloc_id, e.service, e.port)))
        with self._lock:
            if self._endpoints.get(key, ()) == value:
                return False
            if value:
                self._endpoints[key] = value
            else:
                self._endpoints.pop(key, None)
            self._touch_model(key)
            return True

    def set_probe(self, key: ModelKey, metrics: ProbeMetrics | None) -> None:
        with self._lock:
            if metrics is None:
                self._probes.pop(key, None)
            else:
                self._probes[key] = metrics
            self._touch_model(key)

    def set_alerts(self, alerts: Iterable[Alert]) -> None:
        value = tuple(alerts)
        with self._lock:
            if value != self._alerts:
                self._alerts = value
                self._version += 1

    def set_connection(
        self, connected: bool, mode: str, at: datetime | None = None, error: str = ""
    ) -> None:
        """Record the link to Nomad; ``at`` is when it was lost (kept until reconnected)."""
        with self._lock:
            since = None if connected else (self._disconnected_since or at)
            state = (connected, mode, since, error)
            if state == (self._connected, self._mode, self._disconnected_since, self._last_error):
                return
            self._connected, self._mode, self._disconnected_since, self._last_error = state
            self._version += 1

    def endpoints(self, key: ModelKey) -> tuple[EndpointView, ...]:
        with self._lock:
            return self._endpoints.get(key, ())

    def job(self, key: ModelKey) -> JobRecord | None:
        with self._lock:
            return self._jobs.items.get(key)

    def job_keys(self) -> list[ModelKey]:
        with self._lock:
            return list(self._jobs.items)

    def job_index(self, key: ModelKey) -> int | None:
        """The ModifyIndex the Store holds for a job (None: unknown)."""
        with self._lock:
            return self._jobs.seen.get(key) if key in self._jobs.items else None

    def alloc_running(self, alloc_id: str) -> bool | None:
        """Whether the Store's copy of an allocation is running (None: unknown)."""
        with self._lock:
            alloc = self._allocs.items.get(alloc_id)
            return None if alloc is None else alloc.running

    # ------------------------------------------------------------------ per-kind upserts

    def _apply_alloc(self, obj: JSON, modify_index: int) -> bool:
        key = str(obj.get("ID") or "")
        if not self._allocs.accepts(key, modify_index):
            return False
        old = self._allocs.items.get(key)
        view = convert.merge_crash_history(old, convert.alloc_view(obj, old))
        self._allocs.seen[key] = modify_index
        self._allocs.items[key] = view
        job_key = (view.namespace, view.job_id)
        self._allocs_by_job.setdefault(job_key, set()).add(key)
        if old is not None and old.node_id != view.node_id:
            self._allocs_by_node.get(old.node_id, set()).discard(key)
            self._dirty_nodes.add(old.node_id)
        self._allocs_by_node.setdefault(view.node_id, set()).add(key)
        self._dirty_nodes.add(view.node_id)
        self._dirty_models.add(job_key)
        self._allocs_changed = True
        return True

    def _apply_job(self, obj: JSON, modify_index: int) -> bool:
        record = convert.job_record(obj)
        if not self._jobs.accepts(record.key, modify_index):
            return False
        self._jobs.seen[record.key] = modify_index
        self._jobs.items[record.key] = record
        self._dirty_models.add(record.key)
        return True

    def _apply_deployment(self, obj: JSON, modify_index: int) -> bool:
        key = str(obj.get("ID") or "")
        if not self._deployments.accepts(key, modify_index):
            return False
        view = convert.deployment_view(obj)
        self._deployments.seen[key] = modify_index
        job_key = (view.namespace, view.job_id)
        failed = self._failed_deployment.get(job_key)
        if view.status == "failed" and (failed is None or failed.create_index <= view.create_index):
            self._failed_deployment[job_key] = view
            self._dirty_models.add(job_key)
        latest_id = self._latest_deployment.get(job_key)
        latest = self._deployments.items.get(latest_id) if latest_id else None
        if latest is not None and latest.id != key and latest.create_index > view.create_index:
            return False  # an older deployment: seen, but not what the model shows
        if latest is not None and latest.id != key:
            del self._deployments.items[latest.id]
        self._deployments.items[key] = view
        self._latest_deployment[job_key] = key
        self._dirty_models.add(job_key)
        return True

    def _apply_eval(self, obj: JSON, modify_index: int) -> bool:
        key = str(obj.get("ID") or "")
        if not self._evals.accepts(key, modify_index):
            return False
        self._evals.seen[key] = modify_index
        record = convert.eval_record(obj)
        job_key = (str(obj.get("Namespace") or "default"), str(obj.get("JobID") or ""))
        if record is None:
            if self._evals.items.pop(key, None) is not None:
                self._blocked_by_job.get(job_key, set()).discard(key)
                self._dirty_models.add(job_key)
            return True
        self._evals.items[key] = record
        self._blocked_by_job.setdefault(job_key, set()).add(key)
        self._dirty_models.add(job_key)
        return True

    def _apply_node(self, obj: JSON, modify_index: int) -> bool:
        record = convert.node_record(obj)
        if not self._nodes.accepts(record.id, modify_index):
            return False
        self._nodes.seen[record.id] = modify_index
        self._nodes.items[record.id] = record
        self._dirty_nodes.add(record.id)
        return True

    _APPLY: dict[str, Callable[[Store, JSON, int], bool]] = {
        "allocs": _apply_alloc,
        "jobs": _apply_job,
        "deployments": _apply_deployment,
        "evals": _apply_eval,
        "nodes": _apply_node,
    }

    # ------------------------------------------------------------------ helpers

    def _table(self, kind: str) -> _Table[Any, Any]:
        tables: dict[str, _Table[Any, Any]] = {
            "jobs": self._jobs,
            "allocs": self._allocs,
            "deployments": self._deployments,
            "evals": self._evals,
            "nodes": self._nodes,
        }
        if kind not in tables:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        return tables[kind]

    @staticmethod
    def _key_of(kind: str, obj: JSON) -> Any:
        if kind == "jobs":
            return (str(obj.get("Namespace") or "default"), str(obj.get("ID") or ""))
        return str(obj.get("ID") or "")

    def _forget(self, kind: str, key: Any, old: Any) -> None:
        if kind == "allocs":
            job_key = (old.namespace, old.job_id)
            self._allocs_by_job.get(job_key, set()).discard(key)
            self._allocs_by_node.get(old.node_id, set()).discard(key)
            self._dirty_models.add(job_key)
            self._dirty_nodes.add(old.node_id)
            self._allocs_changed = True
        elif kind == "jobs":
            self._dirty_models.add(key)
        elif kind == "deployments":
            job_key = (old.namespace, old.job_id)
            if self._latest_deployment.get(job_key) == key:
                del self._latest_deployment[job_key]
            self._dirty_models.add(job_key)
        elif kind == "evals":
            job_key = (old.namespace, old.job_id)
            self._blocked_by_job.get(job_key, set()).discard(key)
            self._dirty_models.add(job_key)
        elif kind == "nodes":
            self._dirty_nodes.add(key)

    def _touch_model(self, key: ModelKey) -> None:
        self._dirty_models.add(key)
        self._version += 1

    # ------------------------------------------------------------------ view building

    def _rebuild(self) -> None:
        for key in self._dirty_models:
            job = self._jobs.items.get(key)
            if job is None:
                self._models.pop(key, None)
            else:
                self._models[key] = self._model_view(job)
        self._dirty_models.clear()
        for node_id in self._dirty_nodes:
            record = self._nodes.items.get(node_id)
            if record is None:
                self._node_views.pop(node_id, None)
            else:
                self._node_views[node_id] = self._node_view(record)
        self._dirty_nodes.clear()

    def _model_view(self, job: JobRecord) -> ModelView:
        key = job.key
        allocs = sorted(
            (self._allocs.items[a] for a in self._allocs_by_job.get(key, ())),
            key=lambda a: (a.create_index, a.id),
        )
        group = job.groups[0] if job.groups else None
        mine = [a for a in allocs if group is None or a.group == group.name]
        deployment_id = self._latest_deployment.get(key)
        blocked_ids = sorted(
            self._blocked_by_job.get(key, ()),
            key=lambda e: self._evals.items[e].modify_index,
        )
        blocked = (
            convert.blocked_view(self._evals.items[blocked_ids[-1]], job) if blocked_ids else None
        )
        return ModelView(
            namespace=job.namespace,
            job_id=job.id,
            name=job.name,
            managed=job.managed,
            group=group.name if group else "",
            groups=job.groups,
            job_type=job.job_type,
            version=job.version,
            model_version=job.model_version,
            desired=0 if job.stop else (group.count if group else 0),
            running=sum(1 for a in mine if a.running),
            healthy=sum(1 for a in mine if a.is_healthy),
            status=job.status,
            stopped=job.stop,
            deployment=self._deployments.items.get(deployment_id) if deployment_id else None,
            allocations=tuple(allocs),
            endpoints=self._endpoints.get(key, ()),
            probe=self._probes.get(key),
            blocked=blocked,
            alert_settings=MappingProxyType(dict(job.alert_settings)),
            modify_index=job.modify_index,
            failed_deployment=self._failed_deployment.get(key),
        )

    def _node_view(self, record: NodeRecord) -> NodeView:
        cpu = memory = 0
        holders: dict[str, str] = {}
        for alloc_id in self._allocs_by_node.get(record.id, ()):
            alloc = self._allocs.items[alloc_id]
            if alloc.terminal or alloc.desired_status != "run":
                continue
            cpu += alloc.cpu_mhz
            memory += alloc.memory_mb
            for gpu in alloc.gpu_ids:
                holders[gpu] = alloc.id
        gpus = tuple(
            GpuInstanceView(g.id, g.name, g.memory_mib, g.healthy, holders.get(g.id))
            for g in record.gpus
        )
        return NodeView(
            id=record.id,
            name=record.name,
            datacenter=record.datacenter,
            status=record.status,
            eligibility=record.eligibility,
            drain=record.drain,
            pool=record.pool,
            node_class=record.node_class,
            cpu_total=record.cpu_total,
            memory_total=record.memory_total,
            cpu_allocated=cpu,
            memory_allocated=memory,
            gpus=gpus,
            modify_index=record.modify_index,
        )
