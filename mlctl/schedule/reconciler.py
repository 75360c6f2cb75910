"""The reconciler: reads stored schedules, compares with the jobs, scales through Nomad.

It is level-triggered (see :mod:`mlctl.schedule.plan`) and keeps no state that matters:
its caches only save work, so a restarted or second monitor converges the same way.
It runs inside the monitor (``Monitor.add_reconciler``), which hands it the jobs from
its Store and wakes it at each window edge (:attr:`PassResult.next_wake`);
:func:`jobs_from_nomad` reads the same facts over REST for a run without the monitor.

Each pass writes what happened to the event log callback ``log(kind, **fields)`` as
kind ``schedule`` with an ``event`` field: ``transition`` (the count a schedule wants
changed), ``scaled``, ``deferred`` (Nomad refused while a deployment runs: retried next
pass), ``failed``, ``unhealthy`` (wanted up, not healthy after the grace) and ``healthy``
(that ended), ``invalid`` (a stored schedule that cannot be read), each with ``model``
and ``namespace``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mlctl.errors import Conflict, MlctlError, NotFound
from mlctl.nomad.client import NomadClient
from mlctl.schedule import store
from mlctl.schedule.plan import (
    DEFAULT_GRACE,
    JobLike,
    JobView,
    ScaleAction,
    Scheduled,
    Unhealthy,
    plan_scaling,
    target_of,
    unhealthy,
)
from mlctl.schedule.problems import ScheduleInvalid
from mlctl.schedule.timeline import iso_utc, next_transitions

log = logging.getLogger(__name__)

EventLog = Callable[..., object]
Key = tuple[str, str]


def _no_log(kind: str, **fields: Any) -> None:
    log.info("%s %s", kind, fields)


def _job_id(model: str) -> str:
    from mlctl.render.model_job import job_id_for_name

    return job_id_for_name(model)


ClientSource = NomadClient | Callable[[], NomadClient]


def _resolve(source: ClientSource) -> NomadClient:
    """A client: the one given, or a fresh one from a factory (the monitor's carries its
    current token)."""
    return source() if callable(source) else source


class ScheduleSource:
    """The stored schedules, re-read only when a variable's ModifyIndex changed."""

    def __init__(
        self, client: ClientSource, namespace: str = "*", on_error: EventLog = _no_log
    ) -> None:
        self._client = client
        self.namespace = namespace
        self.on_error = on_error
        self._known: dict[Key, tuple[int, Scheduled | None]] = {}

    @property
    def client(self) -> NomadClient:
        return _resolve(self._client)

    def refresh(self) -> list[Scheduled]:
        seen: dict[Key, tuple[int, Scheduled | None]] = {}
        client = self.client
        for meta in client.variables.list(store.PREFIX + "/", self.namespace):
            model = store.model_of(meta.get("Path", ""))
            namespace = meta.get("Namespace") or client.namespace
            if model is None:
                continue
            key, index = (namespace, model), int(meta.get("ModifyIndex") or 0)
            cached = self._known.get(key)
            seen[key] = (
                cached if cached and cached[0] == index else (index, self._load(client, key))
            )
        self._known = seen
        return [item for _, item in seen.values() if item is not None]

    def _load(self, client: NomadClient, key: Key) -> Scheduled | None:
        namespace, model = key
        try:
            entry = store.read(client, model, namespace)
        except ScheduleInvalid as error:
            self.on_error(
                "schedule", event="invalid", namespace=namespace, model=model, error=error.message
            )
            return None
        if entry is None:
            return None
        return Scheduled.of(namespace, model, _job_id(model), entry.doc)


class TargetCache:
    """What each schedule wants, kept until its next transition: a pass over thousands
    of schedules then costs a dictionary lookup each, not a walk through their windows."""

    def __init__(self) -> None:
        # key -> (the Scheduled it was computed for, target, valid from, valid until)
        self._cached: dict[Key, tuple[Scheduled, int | None, float, float]] = {}
        self._targets: dict[Key, int | None] = {}

    def targets(self, items: Iterable[Scheduled], now: datetime) -> dict[Key, int | None]:
        at = now.timestamp()
        cached, fresh = self._cached, {}
        targets: dict[Key, int | None] = {}
        for item in items:
            key = item.key
            hit = cached.get(key)
            if hit is None or hit[0] is not item or not hit[2] <= at < hit[3]:
                until = _valid_until(item, now)
                hit = (item, target_of(item, now), at, until.timestamp() if until else _NEVER)
            fresh[key] = hit
            targets[key] = hit[1]
        self._cached, self._targets = fresh, targets
        return targets

    def next_change(self) -> datetime | None:
        """The earliest instant any cached count stops being valid: when to wake next."""
        soonest = min((hit[3] for hit in self._cached.values()), default=_NEVER)
        return None if soonest == _NEVER else datetime.fromtimestamp(soonest, UTC)


_NEVER = float("inf")


def _valid_until(item: Scheduled, now: datetime) -> datetime | None:
    if item.doc.paused:
        return None
    upcoming = next_transitions(item.schedule, now, 1)
    ends = [t.at for t in upcoming]
    if item.override_holds(now) and item.override_until is not None:
        ends.append(item.override_until)
    return min(ends) if ends else None


@dataclass
class PassResult:
    actions: list[ScaleAction] = field(default_factory=list)
    scaled: list[ScaleAction] = field(default_factory=list)
    deferred: list[ScaleAction] = field(default_factory=list)
    failed: list[tuple[ScaleAction, str]] = field(default_factory=list)
    unhealthy: list[Unhealthy] = field(default_factory=list)
    next_wake: datetime | None = None


class Reconciler:
    """One reconciler; call :meth:`run_pass` every interval and at :attr:`PassResult.next_wake`."""

    def __init__(
        self,
        client: ClientSource,
        *,
        namespace: str = "*",
        grace: timedelta = DEFAULT_GRACE,
        event_log: EventLog = _no_log,
    ) -> None:
        self._client = client
        self.grace = grace
        self.event_log = event_log
        self.source = ScheduleSource(client, namespace, event_log)
        self.cache = TargetCache()
        self._last_target: dict[Key, int | None] = {}
        self._unhealthy: set[Key] = set()
        #: What the last pass found wanted up but not healthy (the monitor alerts on it).
        self.last_unhealthy: list[Unhealthy] = []

    def run_pass(self, jobs: Mapping[Key, JobLike], now: datetime) -> PassResult:
        items = self.source.refresh()
        targets = self.cache.targets(items, now)
        self._log_transitions(items, targets, now)
        result = PassResult(actions=plan_scaling(items, jobs, now, targets=targets))
        for action in result.actions:
            self._apply(action, result, now)
        result.unhealthy = unhealthy(items, jobs, now, self.grace, targets=targets)
        self._log_unhealthy(result.unhealthy, now)
        self.last_unhealthy = result.unhealthy
        result.next_wake = self.cache.next_change()
        return result

    def _log_transitions(
        self, items: list[Scheduled], targets: Mapping[Key, int | None], now: datetime
    ) -> None:
        current = {item.key: targets.get(item.key) for item in items}
        for item in items:
            before = self._last_target.get(item.key, "new")
            after = current[item.key]
            if before != after:
                wants = "is left alone" if after is None else f"wants {after} replicas"
                self.event_log(
                    "schedule",
                    event="transition",
                    message=f"the schedule {wants}"
                    + ("" if before in ("new", None) else f" (was {before})"),
                    at=iso_utc(now),
                    namespace=item.namespace,
                    model=item.model,
                    previous=None if before == "new" else before,
                    replicas=after,
                    paused=item.doc.paused,
                    override=item.override_holds(now),
                )
        self._last_target = current

    def _apply(self, action: ScaleAction, result: PassResult, now: datetime) -> None:
        fields = {
            "at": iso_utc(now),
            "namespace": action.namespace,
            "model": action.model,
            "previous": action.current,
            "replicas": action.target,
            "reason": action.reason,
        }
        change = f"{action.current} -> {action.target} replicas"
        retry = "retried at the next pass"
        try:
            _resolve(self._client).jobs.scale(
                action.job_id, action.group, action.target, action.reason, action.namespace
            )
        except Conflict as error:  # Nomad refuses while a deployment runs: next pass
            result.deferred.append(action)
            message = f"scaling {change} deferred ({error.message}); {retry}"
            self.event_log("schedule", event="deferred", message=message, **fields)
            return
        except MlctlError as error:
            result.failed.append((action, error.message))
            message = f"scaling {change} failed: {error.message}; {retry}"
            self.event_log("schedule", event="failed", message=message, **fields)
            return
        result.scaled.append(action)
        message = f"scaled {change}: {action.reason}"
        self.event_log("schedule", event="scaled", message=message, **fields)

    def _log_unhealthy(self, found: list[Unhealthy], now: datetime) -> None:
        keys = {(u.namespace, u.model) for u in found}
        for item in found:
            if (item.namespace, item.model) not in self._unhealthy:
                self.event_log(
                    "schedule",
                    event="unhealthy",
                    message=f"wanted up with {item.wanted} replicas since "
                    f"{iso_utc(item.since)}, {item.healthy} healthy",
                    at=iso_utc(now),
                    namespace=item.namespace,
                    model=item.model,
                    wanted=item.wanted,
                    healthy=item.healthy,
                    since=iso_utc(item.since),
                )
        for namespace, model in self._unhealthy - keys:
            self.event_log(
                "schedule",
                event="healthy",
                message="healthy again as its schedule wants",
                at=iso_utc(now),
                namespace=namespace,
                model=model,
            )
        self._unhealthy = keys


def jobs_from_nomad(client: NomadClient, items: Iterable[Scheduled]) -> dict[Key, JobView]:
    """The jobs of ``items`` read over REST (for a run without the monitor's Store)."""
    views: dict[Key, JobView] = {}
    for item in items:
        try:
            job = client.jobs.read(item.job_id, namespace=item.namespace)
        except NotFound:
            continue
        groups = job.get("TaskGroups") or []
        if not groups:
            continue
        group = groups[0]
        allocs, _ = client.jobs.allocations(item.job_id, namespace=item.namespace)
        healthy = sum(
            1
            for alloc in allocs
            if alloc.get("ClientStatus") == "running"
            and alloc.get("DesiredStatus") == "run"
            and (alloc.get("DeploymentStatus") or {}).get("Healthy") is not False
        )
        views[item.key] = JobView(
            item.namespace,
            item.job_id,
            str(group.get("Name") or ""),
            int(group.get("Count") or 0),
            healthy,
            bool(job.get("Stop")),
        )
    return views
