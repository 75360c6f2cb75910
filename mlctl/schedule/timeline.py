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
MAX_EDGES = 50_000


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


def _edges(schedule: Schedule, t: datetime) -> Iterator[datetime]:
    last: datetime | None = None
    for edge in heapq.merge(*(w.rule.edges_after(t) for w in schedule.windows)):
        if edge != last:
            last = edge
            yield edge


def next_transitions(schedule: Schedule, t: datetime, n: int) -> list[Transition]:
    """The next ``n`` changes of the desired count after ``t`` (fewer if the schedule
    settles: nothing changes within five years)."""
    _require_aware(t)
    found: list[Transition] = []
    if n <= 0:
        return found
    current = desired(schedule, t)
    horizon = t + HORIZON
    for examined, edge in enumerate(_edges(schedule, t)):
        if edge > horizon or examined >= MAX_EDGES:
            break
        count = desired(schedule, edge)
        if count != current:
            found.append(Transition(edge.astimezone(UTC), count))
            current = count
            if len(found) >= n:
                break
    return found


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
