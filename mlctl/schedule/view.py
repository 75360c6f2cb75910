"""What a schedule looks like right now, for ``schedule list/show`` and the TUI (pure).

Times are shown in the schedule's own zone (the first window's) and in UTC:
``Mon 2024-04-01 09:00 CEST (07:00Z)``; JSON carries ISO 8601 UTC strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from mlctl.schedule.rules import CronPair, OneOff, Weekly
from mlctl.schedule.spec import StoredSchedule
from mlctl.schedule.timeline import Schedule, Transition, desired, iso_utc, next_transitions

#: Transitions looked at to find the next start and the next stop.
_LOOKAHEAD = 8


@dataclass(frozen=True)
class State:
    """A stored schedule evaluated at one instant."""

    scheduled: int  #: what the windows want now
    paused: bool
    override: int | None  #: a manual count in force, if any
    override_until: datetime | None  #: when the schedule takes over again (None: never)
    next_start: Transition | None  #: next increase of the count
    next_stop: Transition | None  #: next decrease
    zone: tzinfo

    @property
    def effective(self) -> int | None:
        """The count the reconciler holds the model at (None: it leaves it alone)."""
        if self.paused:
            return None
        return self.override if self.override is not None else self.scheduled

    @property
    def summary(self) -> str:
        if self.paused:
            return "paused"
        if self.override is not None:
            until = format_instant(self.override_until, self.zone) if self.override_until else "-"
            return f"override {self.override} until {until}"
        return f"up {self.scheduled}" if self.scheduled else "down"


def schedule_zone(schedule: Schedule) -> tzinfo:
    """The zone a schedule is shown in: its first window's."""
    for window in schedule.windows:
        rule = window.rule
        if isinstance(rule, Weekly | CronPair):
            return rule.zone
        if isinstance(rule, OneOff) and rule.opens.tzinfo is not None:
            return rule.opens.tzinfo
    return UTC


def override_until(schedule: Schedule, doc: StoredSchedule) -> tuple[bool, datetime | None]:
    """(whether an override exists, the first transition after it was set)."""
    if doc.override is None:
        return False, None
    after = next_transitions(schedule, doc.override.since, 1)
    return True, after[0].at if after else None


def override_active(schedule: Schedule, doc: StoredSchedule, now: datetime) -> bool:
    """An override holds from when it was set until the schedule's next transition."""
    exists, until = override_until(schedule, doc)
    return exists and (until is None or now < until)


def state(doc: StoredSchedule, now: datetime) -> State:
    schedule = doc.schedule()
    zone = schedule_zone(schedule)
    current = desired(schedule, now)
    start = stop = None
    previous = current
    for change in next_transitions(schedule, now, _LOOKAHEAD):
        if change.replicas > previous and start is None:
            start = change
        if change.replicas < previous and stop is None:
            stop = change
        previous = change.replicas
    override: int | None = None
    until: datetime | None = None
    if doc.override is not None and override_active(schedule, doc, now):
        override = doc.override.replicas
        until = override_until(schedule, doc)[1]
    return State(current, doc.paused, override, until, start, stop, zone)


def format_instant(at: datetime | None, zone: tzinfo) -> str:
    """``Mon 2024-04-01 09:00 CEST (07:00Z)``."""
    if at is None:
        return "-"
    local = at.astimezone(zone)
    utc = at.astimezone(UTC)
    same_day = local.date() == utc.date()
    utc_text = utc.strftime("%H:%MZ") if same_day else utc.strftime("%Y-%m-%d %H:%MZ")
    return f"{local.strftime('%a %Y-%m-%d %H:%M %Z')} ({utc_text})"


def list_row(namespace: str, model: str, doc: StoredSchedule, now: datetime) -> dict[str, object]:
    """One row of ``mlctl schedule list``."""
    current = state(doc, now)
    return {
        "model": model,
        "namespace": namespace,
        "windows": [spec.label for spec in doc.windows],
        "state": current.summary,
        "scheduled": current.scheduled,
        "effective": current.effective,
        "paused": current.paused,
        "override": doc.override.model_dump() if doc.override else None,
        "override_active": current.override is not None,
        "override_until": iso_utc(current.override_until) if current.override_until else None,
        "next_start": _transition(current.next_start, current.zone),
        "next_stop": _transition(current.next_stop, current.zone),
    }


def _transition(change: Transition | None, zone: tzinfo) -> dict[str, object] | None:
    if change is None:
        return None
    return {**change.to_dict(), "local": format_instant(change.at, zone)}


def window_rows(doc: StoredSchedule, now: datetime) -> list[dict[str, object]]:
    """``schedule show``: each window, numbered as ``schedule rm --window K`` takes it."""
    schedule = doc.schedule()
    rows = []
    for number, (spec, window) in enumerate(zip(doc.windows, schedule.windows, strict=True), 1):
        rows.append(
            {
                "window": number,
                "label": spec.label,
                "kind": "down" if spec.down else "up",
                "replicas": 0 if spec.down else schedule.replicas_of(window),
                "open_now": window.rule.is_open(now),
                "spec": spec.to_dict(),
            }
        )
    return rows
