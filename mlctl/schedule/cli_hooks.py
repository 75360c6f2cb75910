"""The schedule's part in commands that others own (``mlctl scale``, ``mlctl deploy``).

Kept here so those commands need one call each and the schedule logic stays in one
package.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlctl.errors import MlctlError
from mlctl.nomad.client import NomadClient
from mlctl.output import note
from mlctl.schedule import service
from mlctl.schedule.timeline import iso_utc
from mlctl.schedule.view import format_instant, state


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
