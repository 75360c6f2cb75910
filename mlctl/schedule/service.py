"""What people do to schedules: add and remove windows, pause, resume, override.

Used by the CLI and the TUI alike. Each operation is one check-and-set change of the
stored document (:mod:`mlctl.schedule.store`); nothing here decides replica counts,
which stays with :mod:`mlctl.schedule.timeline` and the reconciler.
"""

from __future__ import annotations

from datetime import datetime

from mlctl.errors import Conflict, NotFound
from mlctl.nomad.client import NomadClient
from mlctl.schedule import store
from mlctl.schedule.spec import Override, StoredSchedule, WindowSpec
from mlctl.schedule.timeline import iso_utc


def _missing(model: str, namespace: str) -> NotFound:
    return NotFound(
        f"model {model} has no schedule in namespace {namespace}",
        hint=f"add one with: mlctl schedule add {model} --window 'Mon-Fri 09:00-18:00 UTC'",
    )


def live_count(client: NomadClient, model: str) -> int | None:
    """The model's current group count, or None when it is not deployed."""
    from mlctl.render.model_job import job_id_for_name

    try:
        job = client.jobs.read(job_id_for_name(model))
    except NotFound:
        return None
    return sum(int(group.get("Count") or 0) for group in job.get("TaskGroups") or [])


def add_window(
    client: NomadClient,
    model: str,
    window: WindowSpec,
    *,
    by: str,
    now: datetime,
    replicas: int | None = None,
    idle_replicas: int | None = None,
) -> StoredSchedule:
    """Add ``window``; a new schedule's default replicas is ``replicas``, else the live
    count (when the model runs), else 1."""
    fallback = replicas
    if fallback is None and store.read(client, model) is None:
        fallback = live_count(client, model) or 1

    def change(doc: StoredSchedule | None) -> StoredSchedule:
        if doc is not None and window in doc.windows:
            raise Conflict(f"{model} already has window {window.label!r}")
        if doc is None:
            doc = StoredSchedule(windows=[window], replicas=fallback or 1)
        else:
            doc = doc.model_copy(update={"windows": [*doc.windows, window]})
        if idle_replicas is not None:
            doc = doc.model_copy(update={"idle_replicas": idle_replicas})
        return _valid(store.stamp(doc, by, now))

    result = store.update(client, model, change)
    assert result is not None
    return result


def _valid(doc: StoredSchedule) -> StoredSchedule:
    """Re-validate a document built with model_copy (which skips validation)."""
    return StoredSchedule.model_validate(doc.model_dump(by_alias=True))


def find_window(doc: StoredSchedule, which: str) -> int:
    """The index of a window named by its number in ``schedule show`` (1-based) or label."""
    if which.isdigit() and 1 <= int(which) <= len(doc.windows):
        return int(which) - 1
    for index, spec in enumerate(doc.windows):
        if which in (spec.label, spec.window):
            return index
    raise NotFound(
        f"no window {which!r}",
        hint="give its number or text as mlctl schedule show lists them",
    )


def remove(
    client: NomadClient, model: str, which: str | None, *, by: str, now: datetime
) -> StoredSchedule | None:
    """Remove one window (or, with ``which=None``, the whole schedule). Removing the last
    window removes the schedule; the model then keeps whatever count it has."""

    def change(doc: StoredSchedule | None) -> StoredSchedule | None:
        if doc is None:
            raise _missing(model, client.namespace)
        if which is None:
            return None
        index = find_window(doc, which)
        windows = [w for i, w in enumerate(doc.windows) if i != index]
        if not windows:
            return None
        return store.stamp(doc.model_copy(update={"windows": windows}), by, now)

    return store.update(client, model, change)


def set_paused(
    client: NomadClient, model: str, paused: bool, *, by: str, now: datetime
) -> StoredSchedule:
    """Pause (the reconciler leaves the model alone) or resume a schedule."""

    def change(doc: StoredSchedule | None) -> StoredSchedule | store.Unchanged:
        if doc is None:
            raise _missing(model, client.namespace)
        if doc.paused == paused:
            return store.UNCHANGED
        return store.stamp(doc.model_copy(update={"paused": paused, "override": None}), by, now)

    result = store.update(client, model, change)
    assert result is not None
    return result


def record_override(
    client: NomadClient, model: str, replicas: int, *, by: str, now: datetime
) -> StoredSchedule | None:
    """Note a manual scale of a scheduled model, so the reconciler keeps that count until
    the schedule's next transition. No-op (None) for a model without a schedule."""
    override = Override(replicas=replicas, at=iso_utc(now), by=by)

    def change(doc: StoredSchedule | None) -> StoredSchedule | store.Unchanged:
        if doc is None:
            return store.UNCHANGED
        return store.stamp(doc.model_copy(update={"override": override}), by, now)

    return store.update(client, model, change)
