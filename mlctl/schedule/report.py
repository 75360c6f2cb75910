"""Schedule compliance (``mlctl schedule report``), pure: did the model follow its schedule?

For each period its schedule wanted it up: when it became healthy after the period
opened, when it stopped answering after the period closed (if the schedule then wanted
0), and the fraction of the period it answered its probes. The answers come from the
monitor's probe history, which its event log keeps compactly: a ``probe`` event each
time a model's probed state changes (``endpoints``, ``reachable``, ``ready`` counts), so
the state holds from one event to the next.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mlctl.schedule.timeline import Schedule, desired, iso_utc, next_transitions

#: Transitions fetched per step while walking a report's range.
_BATCH = 64


@dataclass(frozen=True)
class Period:
    """A stretch of time the schedule wanted the model up."""

    opened: datetime
    closed: datetime | None  #: None: still open at the end of the report
    replicas: int  #: the most it wanted during the period
    clipped: bool  #: it had opened before the report's start


def up_periods(schedule: Schedule, since: datetime, until: datetime) -> list[Period]:
    """The periods with a desired count above 0 that overlap [since, until)."""
    periods: list[Period] = []
    current = desired(schedule, since)
    start: datetime | None = since if current > 0 else None
    most, clipped = current, current > 0
    at = since
    while at < until:
        batch = next_transitions(schedule, at, _BATCH)
        for change in batch:
            if change.at >= until:
                batch = []
                break
            if change.replicas > 0 and start is None:
                start, most = change.at, change.replicas
            elif change.replicas > 0:
                most = max(most, change.replicas)
            elif start is not None:
                periods.append(Period(start, change.at, most, clipped))
                start, clipped = None, False
        if len(batch) < _BATCH:
            break
        at = batch[-1].at
    if start is not None:
        periods.append(Period(start, None, most, clipped))
    return periods


class Answers:
    """When a model answered its probes: a step function built from probe events."""

    def __init__(self, events: Iterable[Mapping[str, Any]]) -> None:
        points: list[tuple[datetime, bool]] = []
        for event in events:
            at = _time(event.get("time"))
            if at is None:
                continue
            points.append((at, int(event.get("ready") or 0) > 0))
        points.sort(key=lambda p: p[0])
        self.times = [p[0] for p in points]
        self.states = [p[1] for p in points]

    def at(self, moment: datetime) -> bool | None:
        """Whether it answered at ``moment`` (None: no probe had reported yet)."""
        index = bisect.bisect_right(self.times, moment) - 1
        return self.states[index] if index >= 0 else None

    def first(self, state: bool, start: datetime, end: datetime | None) -> datetime | None:
        """The first instant in [start, end) when the answer is ``state``."""
        if self.at(start) is state:
            return start
        index = bisect.bisect_right(self.times, start)
        for at, value in zip(self.times[index:], self.states[index:], strict=True):
            if end is not None and at >= end:
                return None
            if value is state:
                return at
        return None

    def answered(self, start: datetime, end: datetime) -> timedelta | None:
        """How long it answered within [start, end); None when nothing was probed there."""
        if not self.times or self.times[0] >= end:
            return None
        total = timedelta(0)
        cursor, state = start, self.at(start)
        index = bisect.bisect_right(self.times, start)
        for at, value in zip(self.times[index:], self.states[index:], strict=True):
            if at >= end:
                break
            if state:
                total += at - cursor
            cursor, state = at, value
        if state:
            total += end - cursor
        return total


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _seconds(later: datetime | None, earlier: datetime) -> float | None:
    return None if later is None else round((later - earlier).total_seconds(), 3)


def report(
    schedule: Schedule,
    probe_events: Iterable[Mapping[str, Any]],
    since: datetime,
    until: datetime,
) -> list[dict[str, Any]]:
    """One row per period the schedule wanted the model up, oldest first."""
    answers = Answers(probe_events)
    rows = []
    for period in up_periods(schedule, since, until):
        end = period.closed or until
        healthy_at = answers.first(True, period.opened, end)
        stops = period.closed is not None and desired(schedule, period.closed) == 0
        stopped_at = answers.first(False, period.closed, None) if stops and period.closed else None
        answered = answers.answered(period.opened, end)
        length = (end - period.opened).total_seconds()
        rows.append(
            {
                "opened": iso_utc(period.opened),
                "closed": iso_utc(period.closed) if period.closed else None,
                "replicas": period.replicas,
                "opened_before_report": period.clipped,
                "healthy_at": iso_utc(healthy_at) if healthy_at else None,
                "healthy_after_s": _seconds(healthy_at, period.opened),
                "stopped_at": iso_utc(stopped_at) if stopped_at else None,
                "stopped_after_s": _seconds(stopped_at, period.closed) if period.closed else None,
                "answered_fraction": (
                    round(answered.total_seconds() / length, 4)
                    if answered is not None and length > 0
                    else None
                ),
            }
        )
    return rows
