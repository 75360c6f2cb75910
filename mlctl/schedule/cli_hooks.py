"""The schedule's part in commands that others own (``mlctl scale``, ``mlctl deploy``).

Kept here so those commands need one call each and the schedule logic stays in one
package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlctl.bundle.schema import BundleConfig
from mlctl.errors import AuthError, MlctlError, PermissionDenied
from mlctl.nomad.client import NomadClient
from mlctl.output import note
from mlctl.schedule import service, store
from mlctl.schedule.spec import Override, StoredSchedule
from mlctl.schedule.timeline import desired, iso_utc, next_transitions
from mlctl.schedule.view import State, format_instant, state


def after_manual_scale(
    client: NomadClient, model: str, replicas: int, *, by: str, now: datetime | None = None
) -> dict[str, Any]:
    """After ``mlctl scale``: a scheduled model keeps the manual count until the schedule's
    next transition (the reconciler sees the override). Returns fields for ``-o json``."""
    now = now or datetime.now(UTC)
    try:
        doc = service.record_override(client, model, replicas, by=by, now=now)
    except MlctlError as error:
        note(
            f"warning: {model}: could not record the manual count on its schedule "
            f"({error.one_line()}); the monitor may scale it back"
        )
        return {"override_recorded": False}
    if doc is None:
        return {}
    current = state(doc, now)
    until = format_instant(current.override_until, current.zone)
    if doc.paused:
        note(f"{model}: its schedule is paused; the count stays {replicas} until it resumes")
    else:
        note(f"{model}: scheduled; keeping {replicas} replicas until the next transition ({until})")
    until_utc = iso_utc(current.override_until) if current.override_until else None
    return {"override_recorded": True, "override_until": until_utc}


@dataclass(frozen=True)
class ScheduledDeploy:
    """What a deploy of a scheduled model registers, and the schedule it then stores."""

    model: str
    count: int  #: the replica count to register
    note: str  #: one line for people
    doc: StoredSchedule
    changed: bool  #: whether the stored schedule must be written
    override: bool  #: --replicas on a scheduled model: record it as an override


def for_deploy(
    client: NomadClient,
    config: BundleConfig,
    flag_replicas: int | None,
    *,
    now: datetime | None = None,
) -> ScheduledDeploy | None:
    """The count a deploy registers for a scheduled model (None: not scheduled, or paused:
    the usual rules apply). Reads the stored schedule; writes nothing."""
    now = now or datetime.now(UTC)
    try:
        entry = store.read(client, config.name)
    except (PermissionDenied, AuthError):
        if config.schedule is not None:
            raise
        return None  # may not read schedules: deploy as if unscheduled (the monitor corrects)
    current = entry.doc if entry else None
    if config.schedule is None and current is None:
        return None
    doc = _merged(current, config)
    if doc.paused:
        return None
    changed = current is None or not _same(current, doc)
    schedule = doc.schedule()
    view = state(doc, now)
    if flag_replicas is not None:
        upcoming = next_transitions(schedule, now, 1)
        until = format_instant(upcoming[0].at if upcoming else None, view.zone)
        line = f"scheduled; --replicas {flag_replicas} holds until {until}"
        return ScheduledDeploy(config.name, flag_replicas, line, doc, changed, True)
    count = view.override if view.override is not None else desired(schedule, now)
    return ScheduledDeploy(config.name, count, _deploy_note(count, view), doc, changed, False)


def _deploy_note(count: int, view: State) -> str:
    """One line for people (the deploy command puts the model's name in front)."""
    if view.override is not None:
        until = format_instant(view.override_until, view.zone)
        return f"scheduled; keeping the manual count of {count} until {until}"
    if count == 0:
        start = format_instant(view.next_start.at if view.next_start else None, view.zone)
        return (
            "scheduled and outside its windows: registered with 0 replicas, not started; "
            f"the monitor starts it at {start}"
        )
    stop = format_instant(view.next_stop.at if view.next_stop else None, view.zone)
    return f"scheduled: registered with {count} replicas until {stop}"


def _merged(current: StoredSchedule | None, config: BundleConfig) -> StoredSchedule:
    """The schedule after this deploy: the bundle's windows (when it has a section) with
    the bundle's replicas as the default; pause and override carried over."""
    if config.schedule is None:
        assert current is not None
        return current.model_copy(update={"replicas": config.replicas})
    fresh = StoredSchedule(
        windows=config.schedule.windows,
        idle_replicas=config.schedule.idle_replicas,
        replicas=config.replicas,
    )
    if current is not None:
        fresh = fresh.model_copy(update={"paused": current.paused, "override": current.override})
    return fresh


def _same(old: StoredSchedule, new: StoredSchedule) -> bool:
    ignore = {"updated_by", "updated_at"}
    return old.model_dump(exclude=ignore) == new.model_dump(exclude=ignore)


def store_for_deploy(
    client: NomadClient, plan: ScheduledDeploy, *, by: str, now: datetime | None = None
) -> None:
    """Write the schedule a deploy decided on (check-and-set), and the override that a
    --replicas flag on a scheduled model is."""
    now = now or datetime.now(UTC)
    override = Override(replicas=plan.count, at=iso_utc(now), by=by) if plan.override else None
    if not plan.changed and override is None:
        return

    def change(doc: StoredSchedule | None) -> StoredSchedule:
        base = plan.doc
        if doc is not None:  # keep what others changed meanwhile in pause and override
            base = base.model_copy(update={"paused": doc.paused, "override": doc.override})
        if override is not None:
            base = base.model_copy(update={"override": override})
        return store.stamp(base, by, now)

    store.update(client, plan.model, change)
