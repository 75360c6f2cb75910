"""The reconciler's decision, pure: which models to scale, to what, and why.

Level-triggered: every pass compares what each schedule wants *now* with the job's
count and proposes a scaling only where they differ, so a monitor that starts
mid-window, restarts after missing an edge, or runs twice converges without skipping
or flapping. Models are left alone when their schedule is paused, while a manual
override holds (``mlctl scale`` during a window, until the next transition), when the
job is stopped or not deployed, or when it is already at the count.

It also reports models that should be up but are not healthy within a grace period,
which the monitor raises as an alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from mlctl.schedule.spec import StoredSchedule
from mlctl.schedule.timeline import Schedule, Transition, desired, last_change, next_transitions

#: How long a model that should be up may take to become healthy before it is an alert.
DEFAULT_GRACE = timedelta(minutes=5)
_PREFIX = "mlctl schedule"


class JobLike(Protocol):
    """What the reconciler reads about a job; the monitor's ``ModelView`` has these."""

    @property
    def group(self) -> str: ...
    @property
    def desired(self) -> int: ...  # the group's Count in the job (what Nomad runs)
    @property
    def healthy(self) -> int: ...
    @property
    def stopped(self) -> bool: ...


@dataclass(frozen=True)
class JobView:
    """A :class:`JobLike` read over REST (see :func:`mlctl.schedule.reconciler.jobs_from_nomad`)."""

    namespace: str
    job_id: str
    group: str
    desired: int  #: the group's Count in the job (what Nomad is asked to run)
    healthy: int
    stopped: bool = False


@dataclass(frozen=True)
class Scheduled:
    """A stored schedule, compiled once, and whose job it drives."""

    namespace: str
    model: str
    job_id: str
    doc: StoredSchedule
    schedule: Schedule
    #: The first transition after the override was set (None: none, or no override).
    override_until: datetime | None = None
    #: ``(namespace, job_id)``, the key of the job in the monitor's Store.
    key: tuple[str, str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.namespace, self.job_id))

    @classmethod
    def of(cls, namespace: str, model: str, job_id: str, doc: StoredSchedule) -> Scheduled:
        schedule = doc.schedule()
        until = None
        if doc.override is not None:
            after = next_transitions(schedule, doc.override.since, 1)
            until = after[0].at if after else None
        return cls(namespace, model, job_id, doc, schedule, until)

    def override_holds(self, now: datetime) -> bool:
        if self.doc.override is None or now < self.doc.override.since:
            return False
        return self.override_until is None or now < self.override_until


@dataclass(frozen=True)
class ScaleAction:
    namespace: str
    model: str
    job_id: str
    group: str
    current: int
    target: int
    reason: str  #: recorded by Nomad with the scaling event

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.job_id)


@dataclass(frozen=True)
class Unhealthy:
    """A model its schedule wants up that has not been healthy for longer than the grace."""

    namespace: str
    model: str
    wanted: int
    healthy: int
    since: datetime


def reason(schedule: Schedule, now: datetime, target: int) -> str:
    """``mlctl schedule: window Mon-Fri 09:00-18:00 Europe/Berlin opened`` and the like."""
    change = last_change(schedule, now)
    if change is None:
        return f"{_PREFIX}: outside every window ({target} replicas)"
    window, opened = change
    if window.down:
        verb = "began" if opened else "ended"
        return f"{_PREFIX}: maintenance window {window.rule.label} {verb}"
    verb = "opened" if opened else "closed"
    return f"{_PREFIX}: window {window.rule.label} {verb}"


def target_of(item: Scheduled, now: datetime) -> int | None:
    """The count to hold the model at now; None when the reconciler must leave it alone."""
    if item.doc.paused or item.override_holds(now):
        return None
    return desired(item.schedule, now)


def plan_scaling(
    schedules: Iterable[Scheduled],
    jobs: Mapping[tuple[str, str], JobLike],
    now: datetime,
    *,
    targets: Mapping[tuple[str, str], int | None] | None = None,
) -> list[ScaleAction]:
    """The scalings that bring every scheduled model to its count at ``now``.

    ``targets`` may carry counts already computed for this instant (a cache); missing
    ones are computed with :func:`target_of`.
    """
    actions = []
    known = targets or {}
    for item in schedules:
        key = item.key
        job = jobs.get(key)
        if job is None or job.stopped:
            continue
        target = known[key] if key in known else target_of(item, now)
        if target is None or target == job.desired:
            continue
        actions.append(
            ScaleAction(
                item.namespace,
                item.model,
                item.job_id,
                job.group,
                job.desired,
                target,
                reason(item.schedule, now, target),
            )
        )
    return actions


def up_since(item: Scheduled, now: datetime) -> datetime | None:
    """Since when the schedule has wanted the model up (at least one replica), if it does."""
    if desired(item.schedule, now) == 0:
        return None
    return _edge_before(item.schedule, now)


def _edge_before(schedule: Schedule, now: datetime) -> datetime | None:
    latest: datetime | None = None
    for window in schedule.windows:
        edge = window.rule.last_edge(now)
        if edge is not None and (latest is None or edge[0] > latest):
            latest = edge[0]
    return latest


def unhealthy(
    schedules: Iterable[Scheduled],
    jobs: Mapping[tuple[str, str], JobLike],
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
    *,
    targets: Mapping[tuple[str, str], int | None] | None = None,
) -> list[Unhealthy]:
    """Models whose schedule has wanted them up for longer than ``grace`` without that
    many healthy allocations (the scaling failed, or the allocations never got healthy)."""
    found = []
    known = targets or {}
    for item in schedules:
        key = item.key
        target = known[key] if key in known else target_of(item, now)
        if not target:
            continue
        job = jobs.get(key)
        healthy = job.healthy if job is not None and not job.stopped else 0
        if healthy >= target:
            continue
        since = up_since(item, now)
        if since is not None and now - since > grace:
            found.append(Unhealthy(item.namespace, item.model, target, healthy, since))
    return found


def next_wake(schedules: Iterable[Scheduled], now: datetime) -> datetime | None:
    """The earliest upcoming transition (or override end) of any schedule: when to wake."""
    soonest: datetime | None = None
    for item in schedules:
        upcoming: list[Transition] = next_transitions(item.schedule, now, 1)
        candidates = [t.at for t in upcoming]
        if item.override_until is not None and item.override_until > now:
            candidates.append(item.override_until)
        for at in candidates:
            if soonest is None or at < soonest:
                soonest = at
    return soonest
