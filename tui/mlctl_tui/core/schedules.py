"""Schedules as the TUI shows them: the state now and the next start or stop (pure).

The stored documents come from Nomad Variables (read by the backend); the maths is the
schedule package's (:mod:`mlctl.schedule.view`), so the TUI and ``mlctl schedule list``
always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from mlctl.monitor.views import ModelView
from mlctl.schedule.spec import StoredSchedule
from mlctl.schedule.timeline import Transition
from mlctl.schedule.view import State, format_instant, state
from mlctl.schedule.view import window_rows as view_window_rows
from mlctl_tui.core.formatting import until
from mlctl_tui.core.table import Column, TableRow

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


SCHEDULE_COLUMNS = (
    Column("model", "MODEL", 16),
    Column("namespace", "NAMESPACE", 10),
    Column("windows", "WINDOWS", 7, "right"),
    Column("state", "STATE NOW", 16),
    Column("next_start", "NEXT START", 38),
    Column("next_stop", "NEXT STOP", 38),
    Column("by", "CHANGED BY", 0),
)

WINDOW_COLUMNS = (
    Column("number", "#", 2, "right"),
    Column("window", "WINDOW", 64),
    Column("kind", "KIND", 4),
    Column("replicas", "REPLICAS", 8, "right"),
    Column("open", "OPEN NOW", 8),
)


def schedule_rows(
    models: Iterable[ModelView], schedules: Schedules, now: datetime
) -> list[TableRow]:
    """Every model, scheduled or not (a model without a schedule can get one here)."""
    rows = []
    for model in models:
        doc = schedules.get((model.namespace, model.name))
        key = f"{model.namespace}/{model.job_id}"
        if doc is None:
            cells = (model.name, model.namespace, "-", "not scheduled", "-", "-", "-")
            rows.append(
                TableRow(
                    key, cells, (model.name, model.namespace, 0, "", None, None, ""), "stopped"
                )
            )
            continue
        current = state(doc, now)
        start, stop = current.next_start, current.next_stop
        cells = (
            model.name,
            model.namespace,
            str(len(doc.windows)),
            current.summary,
            format_instant(start.at, current.zone) if start else "-",
            format_instant(stop.at, current.zone) if stop else "-",
            f"{doc.updated_by} {doc.updated_at}".strip() or "-",
        )
        sort_values = (
            model.name,
            model.namespace,
            len(doc.windows),
            current.summary,
            start.at.timestamp() if start else None,
            stop.at.timestamp() if stop else None,
            doc.updated_at,
        )
        style = "stopped" if current.paused else ("healthy" if current.scheduled else "")
        rows.append(TableRow(key, cells, sort_values, style))
    return rows


def window_rows(doc: StoredSchedule, now: datetime) -> list[TableRow]:
    return [
        TableRow(
            str(row["window"]),
            (
                str(row["window"]),
                str(row["label"]),
                str(row["kind"]),
                str(row["replicas"]),
                "yes" if row["open_now"] else "no",
            ),
            (),
            "healthy"
            if row["open_now"] and row["kind"] == "up"
            else ("degraded" if row["open_now"] else ""),
        )
        for row in view_window_rows(doc, now)
    ]


def transition_lines(transitions: Iterable[Transition], zone: tzinfo) -> list[str]:
    return [f"{format_instant(t.at, zone)} → {t.replicas} replicas" for t in transitions]
