"""Schedules as the TUI shows them: the state now and the next start or stop (pure).

The stored documents come from Nomad Variables (read by the backend); the maths is the
schedule package's (:mod:`mlctl.schedule.view`), so the TUI and ``mlctl schedule list``
always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mlctl.schedule.spec import StoredSchedule
from mlctl.schedule.timeline import Transition
from mlctl.schedule.view import State, format_instant, state

from mlctl_tui.core.formatting import until

#: (namespace, model name) -> the stored schedule of that model.
Schedules = Mapping[tuple[str, str], StoredSchedule]


@dataclass(frozen=True, slots=True)
class ScheduleCell:
    """What the Models table shows about a model's schedule."""

    state: str  #: ``up 2``, ``down``, ``paused``, ``override 3``; empty without a schedule
    next_text: str  #: ``start in 3h05m`` / ``stop in 20m``
    next_at: datetime | None
    effective: int | None  #: the count the reconciler holds the model at, if any


NO_SCHEDULE = ScheduleCell("", "", None, None)


def next_change(current: State) -> tuple[str, Transition] | None:
    """The sooner of the next start and the next stop."""
    options = [
        (kind, change)
        for kind, change in (("start", current.next_start), ("stop", current.next_stop))
        if change is not None
    ]
    if not options:
        return None
    return min(options, key=lambda item: item[1].at)


def schedule_cell(doc: StoredSchedule | None, now: datetime) -> ScheduleCell:
    if doc is None:
        return NO_SCHEDULE
    current = state(doc, now)
    if current.paused:
        label = "paused"
    elif current.override is not None:
        label = f"override {current.override}"
    else:
        label = f"up {current.scheduled}" if current.scheduled else "down"
    change = next_change(current)
    if change is None or current.paused:
        return ScheduleCell(label, "", None, current.effective)
    kind, transition = change
    return ScheduleCell(
        label, f"{kind} {until(transition.at, now)}", transition.at, current.effective
    )


def describe_next(doc: StoredSchedule, now: datetime) -> str:
    """``next start Mon 2025-03-03 09:00 CET (08:00Z), next stop …`` for detail panes."""
    current = state(doc, now)
    parts = [f"now: {current.summary}"]
    if current.next_start is not None:
        parts.append("next start " + format_instant(current.next_start.at, current.zone))
    if current.next_stop is not None:
        parts.append("next stop " + format_instant(current.next_stop.at, current.zone))
    return "; ".join(parts)
