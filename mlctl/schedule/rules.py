"""The three kinds of window and when each is open.

Every rule answers three questions about aware instants, all pure:

- ``is_open(t)``: is the window open at ``t`` (start inclusive, end exclusive)?
- ``changes_after(t)``: ``(instant, open_after)`` for each edge after ``t``, ascending;
  when several come at one instant the last one holds (a weekly window closing at the
  instant its next occurrence opens stays open; a cron start and stop at one instant
  leave it closed);
- ``edges_after(t)``: just those instants, once each;
- ``last_edge(t)``: the latest edge at or before ``t`` and whether it was an opening
  (for the reason a scaling records: "window … opened").

Wall-clock edges follow :mod:`mlctl.schedule.localtime` (gap → first instant after,
fold → first occurrence). Cron pairs follow cronsim, which does the same for
expressions with a fixed minute and hour (Debian cron's behaviour); an expression with
``*`` in its minute or hour field runs on real time and may fire in both passes of a
repeated hour, which never changes whether a window is open.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim

from mlctl.schedule.fields import format_clock, format_days
from mlctl.schedule.localtime import resolve, transition_between

_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
#: How far back ``last_edge`` looks for a weekly window (a week and a day covers any set).
_LOOKBACK_DAYS = 8


@dataclass(frozen=True)
class Weekly:
    """``Mon-Fri 09:00-18:00 Europe/Berlin``: open on each listed day from start to end.

    An end at or before the start means the next day (``Fri 22:00-02:00`` closes
    Saturday 02:00); ``24:00`` is midnight at the end of the day.
    """

    days: frozenset[int]
    start: int  # minutes after midnight, 0..1439
    end: int  # minutes after midnight, 1..1440
    zone: ZoneInfo
    _start: timedelta = field(init=False, repr=False, compare=False)
    _end: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        end = self.end if self.end > self.start else self.end + 1440
        object.__setattr__(self, "_start", timedelta(minutes=self.start))
        object.__setattr__(self, "_end", timedelta(minutes=end))

    @property
    def label(self) -> str:
        end = format_clock(self.end) if self.end != 1440 else "24:00"
        return f"{format_days(self.days)} {format_clock(self.start)}-{end} {self.zone.key}"

    def occurrence(self, day: date) -> tuple[datetime, datetime]:
        """The instants the window opens and closes for the one starting on ``day``."""
        midnight = datetime.combine(day, time())
        opens = resolve(midnight + self._start, self.zone)
        closes = resolve(midnight + self._end, self.zone)
        if closes <= opens:
            # Both edges fell into the same gap: keep the window, with its written length.
            closes = opens + (self._end - self._start)
        return opens, closes

    def _days_around(self, t: datetime) -> tuple[date, date]:
        today = t.astimezone(self.zone).date()
        return today - _DAY, today

    def is_open(self, t: datetime) -> bool:
        # A window lasts at most a day, so only the ones starting yesterday or today
        # (local dates) can hold t.
        for day in self._days_around(t):
            if day.weekday() in self.days:
                opens, closes = self.occurrence(day)
                if opens <= t < closes:
                    return True
        return False

    def changes_after(self, t: datetime) -> Iterator[tuple[datetime, bool]]:
        day = self._days_around(t)[0]
        while True:
            if day.weekday() in self.days:
                opens, closes = self.occurrence(day)
                if opens > t:
                    yield opens, True
                if closes > t:
                    yield closes, False
            day += _DAY

    def edges_after(self, t: datetime) -> Iterator[datetime]:
        return _unique(self.changes_after(t))

    def last_edge(self, t: datetime) -> tuple[datetime, bool] | None:
        today = self._days_around(t)[1]
        best: tuple[datetime, bool] | None = None
        for back in range(_LOOKBACK_DAYS):
            day = today - timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            opens, closes = self.occurrence(day)
            for edge, opening in ((closes, False), (opens, True)):
                if edge <= t and (best is None or edge > best[0]):
                    best = (edge, opening)
            if best is not None and back >= 1:
                return best
        return best


def _previous_fire(expr: str, t: datetime, zone: ZoneInfo) -> datetime | None:
    """The latest fire of ``expr`` at or before ``t`` (aware UTC), or None for 50 years."""
    local = t.astimezone(zone)
    probe = CronSim(expr, local.replace(microsecond=0) + _SECOND, reverse=True)
    if probe.fixup_tz is not None and local.fold == 1:
        # cronsim walks wall-clock time here and cannot tell the two passes of a repeated
        # hour apart. Every fire in the repeated hour already happened in the first pass,
        # so walk back from the end of that pass instead.
        probe = CronSim(expr, _first_pass_end(local), reverse=True)
    try:
        return next(probe).astimezone(UTC)
    except StopIteration:
        return None


def _first_pass_end(local: datetime) -> datetime:
    """For a time in the second pass of a repeated hour: the wall clock when it jumped back."""
    old = local.replace(fold=0).utcoffset()
    new = local.utcoffset()
    assert old is not None and new is not None and local.tzinfo is not None
    instant = local.astimezone(UTC).replace(tzinfo=None)
    jumped = transition_between(instant - (old - new), instant, old, local.tzinfo)
    return (jumped.replace(tzinfo=None) + old).replace(tzinfo=local.tzinfo)


def _fires_after(expr: str, t: datetime, zone: ZoneInfo) -> Iterator[datetime]:
    last = t
    for fire in CronSim(expr, t.astimezone(zone)):
        instant = fire.astimezone(UTC)
        # In the second pass of a repeated hour, cronsim may hand back a first-pass fire.
        if instant > last:
            last = instant
            yield instant


@dataclass(frozen=True)
class CronPair:
    """``start``/``stop`` cron expressions in a zone: open from a start fire to the next stop.

    When both fire at the same instant, stop wins (the window is closed).
    """

    start: str
    stop: str
    zone: ZoneInfo

    @property
    def label(self) -> str:
        return f"start '{self.start}' stop '{self.stop}' {self.zone.key}"

    def is_open(self, t: datetime) -> bool:
        opened = _previous_fire(self.start, t, self.zone)
        if opened is None:
            return False
        closed = _previous_fire(self.stop, t, self.zone)
        return closed is None or opened > closed

    def changes_after(self, t: datetime) -> Iterator[tuple[datetime, bool]]:
        starts = ((at, True) for at in _fires_after(self.start, t, self.zone))
        stops = ((at, False) for at in _fires_after(self.stop, t, self.zone))
        # At one instant a start sorts before a stop (True > False, hence the key), so
        # the stop comes last and wins.
        return heapq.merge(starts, stops, key=lambda change: (change[0], not change[1]))

    def edges_after(self, t: datetime) -> Iterator[datetime]:
        return _unique(self.changes_after(t))

    def last_edge(self, t: datetime) -> tuple[datetime, bool] | None:
        opened = _previous_fire(self.start, t, self.zone)
        closed = _previous_fire(self.stop, t, self.zone)
        if opened is None and closed is None:
            return None
        if closed is None or (opened is not None and opened > closed):
            assert opened is not None
            return opened, True
        return closed, False


def _unique(changes: Iterator[tuple[datetime, bool]]) -> Iterator[datetime]:
    last: datetime | None = None
    for edge, _ in changes:
        if edge != last:
            last = edge
            yield edge


@dataclass(frozen=True)
class OneOff:
    """``from``/``until`` ISO 8601 instants: open once, in between."""

    opens: datetime
    closes: datetime

    @property
    def label(self) -> str:
        return f"{self.opens.isoformat()} until {self.closes.isoformat()}"

    def is_open(self, t: datetime) -> bool:
        return self.opens <= t < self.closes

    def changes_after(self, t: datetime) -> Iterator[tuple[datetime, bool]]:
        return iter(
            [(at, opens) for at, opens in ((self.opens, True), (self.closes, False)) if at > t]
        )

    def edges_after(self, t: datetime) -> Iterator[datetime]:
        return _unique(self.changes_after(t))

    def last_edge(self, t: datetime) -> tuple[datetime, bool] | None:
        if t >= self.closes:
            return self.closes, False
        if t >= self.opens:
            return self.opens, True
        return None


Rule = Weekly | CronPair | OneOff


def first_edges(rule: Rule, t: datetime, count: int) -> list[datetime]:
    """The first ``count`` edges of ``rule`` after ``t`` (for tests and previews)."""
    return list(itertools.islice(rule.edges_after(t), count))
