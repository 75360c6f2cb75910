"""A schedule, the replica count it wants at any instant, and when that count changes.

``desired(schedule, t)`` is a pure function of the windows and an aware instant:

- a ``down`` window (maintenance) that is open wins over everything: 0 replicas;
- otherwise the open up-windows give the largest of their replicas (a window without
  its own ``replicas`` uses the schedule's, i.e. the bundle's);
- outside every window the model runs ``idle_replicas`` (0 by default).

``next_transitions(schedule, t, n)`` lists the next ``n`` instants where that number
changes; the CLI, the TUI and the reconciler's wake-ups all use it. Pausing a schedule
and manual overrides are the reconciler's business, not this module's.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mlctl.schedule.rules import Rule

#: How far ahead next_transitions looks before concluding nothing will change.
HORIZON = timedelta(days=5 * 366)
#: At most this many window edges are examined per next_transitions call.
MAX_EDGES = 20_000


@dataclass(frozen=True)
class Window:
    """One window of a schedule: when (``rule``), how many replicas, and whether it is
    a maintenance (``down``) window."""

    rule: Rule
    replicas: int | None = None
    down: bool = False

    @property
    def label(self) -> str:
        return ("down " if self.down else "") + self.rule.label


@dataclass(frozen=True)
class Schedule:
    windows: tuple[Window, ...]
    replicas: int = 1  #: for windows that do not name their own
    idle_replicas: int = 0  #: outside every window

    def replicas_of(self, window: Window) -> int:
        return self.replicas if window.replicas is None else window.replicas


@dataclass(frozen=True)
class Transition:
    """The desired count becomes ``replicas`` at ``at`` (aware UTC)."""

    at: datetime
    replicas: int

    def to_dict(self) -> dict[str, object]:
        return {"at": iso_utc(self.at), "replicas": self.replicas}


def iso_utc(instant: datetime) -> str:
    """``2025-03-31T07:00:00Z``: ISO 8601 in UTC, the form every JSON output uses."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _require_aware(t: datetime) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("schedule times must be aware datetimes (with a time zone)")


def open_windows(schedule: Schedule, t: datetime) -> list[Window]:
    """The windows open at ``t``."""
    _require_aware(t)
    return [window for window in schedule.windows if window.rule.is_open(t)]


def desired(schedule: Schedule, t: datetime) -> int:
    """The replica count ``schedule`` wants at instant ``t``."""
    _require_aware(t)
    best: int | None = None
    for window in schedule.windows:
        if not window.rule.is_open(t):
            continue
        if window.down:
            return 0
        count = schedule.replicas_of(window)
        best = count if best is None else max(best, count)
    return schedule.idle_replicas if best is None else best


def _count(schedule: Schedule, states: list[bool]) -> int:
    """desired() from each window's open/closed state."""
    best: int | None = None
    for window, is_open in zip(schedule.windows, states, strict=True):
        if not is_open:
            continue
        if window.down:
            return 0
        count = schedule.replicas_of(window)
        best = count if best is None else max(best, count)
    return schedule.idle_replicas if best is None else best


def _changes(schedule: Schedule, t: datetime) -> Iterator[tuple[datetime, int, bool]]:
    """Every window's changes after ``t`` as ``(instant, window index, open after)``.

    heapq.merge is stable, so a window's own changes at one instant keep their order
    (the last one holds, see :mod:`mlctl.schedule.rules`).
    """
    streams = [_tagged(window, index, t) for index, window in enumerate(schedule.windows)]
    return heapq.merge(*streams, key=lambda change: change[0])


def _tagged(window: Window, index: int, t: datetime) -> Iterator[tuple[datetime, int, bool]]:
    for at, is_open in window.rule.changes_after(t):
        yield at, index, is_open


def next_transitions(schedule: Schedule, t: datetime, n: int) -> list[Transition]:
    """The next ``n`` changes of the desired count after ``t`` (fewer if the schedule
    settles: nothing changes within five years).

    Walks the windows' edges in time order, keeping each window's state, so an edge
    costs one state update rather than a fresh desired() evaluation.
    """
    _require_aware(t)
    found: list[Transition] = []
    if n <= 0:
        return found
    states = [window.rule.is_open(t) for window in schedule.windows]
    current = _count(schedule, states)
    horizon = t + HORIZON
    pending: datetime | None = None
    for examined, (at, index, is_open) in enumerate(_changes(schedule, t)):
        if pending is not None and at != pending:
            current = _settle(schedule, states, pending, current, found)
            if len(found) >= n:
                return found
        if at > horizon or examined >= MAX_EDGES:
            return found
        states[index] = is_open
        pending = at
    if pending is not None:
        _settle(schedule, states, pending, current, found)
    return found[:n]


def _settle(
    schedule: Schedule, states: list[bool], at: datetime, current: int, found: list[Transition]
) -> int:
    """Record a transition at ``at`` when the count after it differs; the new count."""
    count = _count(schedule, states)
    if count != current:
        found.append(Transition(at.astimezone(UTC), count))
    return count


def last_change(schedule: Schedule, t: datetime) -> tuple[Window, bool] | None:
    """The window whose edge at or before ``t`` is the latest, and whether it opened.

    This is what a scaling decided at ``t`` is attributed to ("window … opened").
    """
    _require_aware(t)
    best: tuple[datetime, Window, bool] | None = None
    for window in schedule.windows:
        edge = window.rule.last_edge(t)
        if edge is not None and (best is None or edge[0] > best[0]):
            best = (edge[0], window, edge[1])
    return None if best is None else (best[1], best[2])
