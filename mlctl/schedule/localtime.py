"""Wall-clock times to instants, under the documented DST rules.

A window edge is written as a wall-clock time in a zone ("09:00 Europe/Berlin"). Most
wall-clock times name exactly one instant; around a DST change some name none (the gap
when clocks jump forward) and some name two (the fold when they go back). mlctl's rules:

- **gap** → the first instant after the gap, i.e. the moment the clocks jumped. Berlin's
  02:30 on the last Sunday of March is 03:00 CEST; Lord Howe's 02:15 on its 30-minute
  change is 02:30; São Paulo's 00:00 on a midnight change (until 2019) is 01:00.
- **fold** → its first occurrence. Berlin's 02:30 on the last Sunday of October is
  02:30 CEST, never 02:30 CET too.

So each edge happens exactly once a day, and a window is never skipped or doubled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo


def resolve(wall: datetime, zone: tzinfo) -> datetime:
    """The instant (aware, UTC) of the naive wall-clock time ``wall`` in ``zone``."""
    before = wall.replace(tzinfo=zone, fold=0).utcoffset()
    after = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None  # a ZoneInfo always has an offset
    if before == after:
        return (wall - before).replace(tzinfo=UTC)
    if before > after:
        # A fold: fold=0 carries the earlier (pre-transition) offset, the first occurrence.
        return (wall - before).replace(tzinfo=UTC)
    # A gap: the clocks jumped at some instant between the two readings.
    return transition_between(wall - after, wall - before, before, zone)


def transition_between(low: datetime, high: datetime, old: timedelta, zone: tzinfo) -> datetime:
    """The instant in (low, high] where ``zone``'s offset stops being ``old``.

    ``low`` and ``high`` are naive UTC; the offset is ``old`` at ``low`` and not at ``high``.
    """
    lo = int(low.replace(tzinfo=UTC).timestamp())
    hi = int(high.replace(tzinfo=UTC).timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == old:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)


def is_real(wall: datetime, zone: tzinfo) -> bool:
    """Whether the wall-clock time exists in ``zone`` (False inside a DST gap)."""
    before = wall.replace(tzinfo=zone, fold=0).utcoffset()
    after = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None
    return before >= after


def wall_clock(instant: datetime, zone: tzinfo) -> datetime:
    """The naive wall-clock reading of ``instant`` in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None)
