"""Property tests of the documented DST rules, over many zones and years.

The rules (mlctl.schedule.localtime): an edge whose wall-clock time falls in a DST gap
takes effect at the first instant after the gap; one in a fold takes effect once, at
its first occurrence; a window is never skipped or doubled by a transition. Instants
are drawn around each zone's real transitions (found by scanning the year), so every
example is near a gap or a fold, including Lord Howe's 30-minute shift and São Paulo's
historical changes at midnight.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlctl.schedule.localtime import is_real, resolve, wall_clock
from mlctl.schedule.rules import CronPair, OneOff, Weekly
from mlctl.schedule.timeline import Schedule, Window, desired, next_transitions

ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "America/Santiago",
    "Europe/London",
    "Europe/Dublin",
    "Pacific/Chatham",
    "Asia/Tehran",
    "Africa/Casablanca",
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def transitions(zone_name: str, year: int) -> tuple[datetime, ...]:
    """Instants (UTC) in ``year`` where the zone's offset changes (found hour by hour,
    then to the second)."""
    zone = ZoneInfo(zone_name)
    found = []
    at = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(minutes=30)
    while at < end:
        if at.astimezone(zone).utcoffset() != (at + step).astimezone(zone).utcoffset():
            lo, hi = at, at + step
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(microsecond=0))
        at += step
    return tuple(found)


@st.composite
def near_transition(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    """A zone and an instant within two days of one of its DST transitions."""
    name = draw(st.sampled_from(ZONES))
    year = draw(st.integers(1990, 2035))
    changes = transitions(name, year)
    assume(changes)
    change = draw(st.sampled_from(changes))
    offset = draw(st.integers(-2 * 86400, 2 * 86400))
    return ZoneInfo(name), change + timedelta(seconds=offset)


minutes = st.integers(0, 1439)
day_sets = st.frozensets(st.integers(0, 6), min_size=1)


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()


@PROPERTY
@given(near_transition(), st.integers(-3 * 60, 3 * 60))
def test_resolve_follows_the_rules(place: tuple[ZoneInfo, datetime], shift: int) -> None:
    zone, around = place
    wall = (wall_clock(around, zone) + timedelta(minutes=shift)).replace(second=0, microsecond=0)
    instant = resolve(wall, zone)
    if not is_real(wall, zone):
        # Gap: the instant the clocks jumped; just before it, the wall clock read earlier.
        assert _offset(instant - timedelta(seconds=1), zone) != _offset(instant, zone)
        assert wall_clock(instant - timedelta(seconds=1), zone) < wall < wall_clock(instant, zone)
    else:
        assert wall_clock(instant, zone) == wall
        # First occurrence: no earlier instant reads the same wall clock.
        for earlier in (instant - timedelta(hours=h / 2) for h in range(1, 7)):
            assert wall_clock(earlier, zone) != wall


def _cron_days(days: frozenset[int], shift: int = 0) -> str:
    return ",".join(str((d + shift + 1) % 7) for d in sorted(days))


def _equivalent_cron(rule: Weekly) -> CronPair:
    start = f"{rule.start % 60} {rule.start // 60} * * {_cron_days(rule.days)}"
    crosses = rule.end <= rule.start or rule.end == 1440
    end = rule.end % 1440
    stop = f"{end % 60} {end // 60} * * {_cron_days(rule.days, 1 if crosses else 0)}"
    return CronPair(start, stop, rule.zone)


def _collapses(rule: Weekly, around: datetime) -> bool:
    today = around.astimezone(rule.zone).date()
    for day in (today - timedelta(days=d) for d in range(-3, 4)):
        midnight = datetime.combine(day, time())
        end = rule.end if rule.end > rule.start else rule.end + 1440
        opens = midnight + timedelta(minutes=rule.start)
        closes = midnight + timedelta(minutes=end)
        # Both edges resolve to one instant (both in a gap, or the end exactly where the
        # gap ends, e.g. São Paulo's 00:00-01:00 on a midnight change): cron keeps nothing.
        if not is_real(opens, rule.zone) and resolve(opens, rule.zone) == resolve(
            closes, rule.zone
        ):
            return True
    return False


@PROPERTY
@given(near_transition(), day_sets, minutes, minutes, st.integers(-6 * 3600, 6 * 3600))
def test_weekly_agrees_with_the_same_window_written_as_cron(
    place: tuple[ZoneInfo, datetime], days: frozenset[int], start: int, end: int, probe: int
) -> None:
    """Two independent implementations (ours and cronsim's) of the same rules agree."""
    zone, around = place
    assume(start != end)
    rule = Weekly(days, start, end or 1440, zone)
    assume(not (rule.start == 0 and rule.end == 1440))
    assume(not _collapses(rule, around))  # cron cannot keep a window that fits in a gap
    cron = _equivalent_cron(rule)
    t = around + timedelta(seconds=probe)
    assert rule.is_open(t) == cron.is_open(t), (rule.label, cron.label, t)
    weekly_edges = [e for e, _ in zip(rule.edges_after(t), range(4), strict=False)]
    cron_edges = [e for e, _ in zip(cron.edges_after(t), range(4), strict=False)]
    assert weekly_edges == cron_edges


def _edge_minutes(zone: ZoneInfo, around: datetime) -> st.SearchStrategy[int]:
    """Any minute of the day, one within 90 minutes of the transition's wall clock, or
    one just after it (so windows inside a gap or a fold are drawn often)."""
    changes = transitions(zone.key, around.year) or (around,)
    change = min(changes, key=lambda c: abs(c - around))
    near = wall_clock(change - timedelta(seconds=1), zone)  # the wall clock as it jumped
    base = near.hour * 60 + near.minute
    close_by = st.integers(-90, 90).map(lambda d: (base + d) % 1440)
    inside = st.integers(0, 61).map(lambda d: (base + d) % 1440)  # in the gap or fold
    return st.one_of(minutes, close_by, inside)


@PROPERTY
@given(st.data(), near_transition())
def test_never_skipped_or_doubled(data: st.DataObject, place: tuple[ZoneInfo, datetime]) -> None:
    """A daily window opens exactly once a day, for a positive length, DST or not."""
    zone, around = place
    start = data.draw(_edge_minutes(zone, around))
    end = data.draw(_edge_minutes(zone, around))
    assume(start != end)
    rule = Weekly(frozenset(range(7)), start, end or 1440, zone)
    assume(not (rule.start == 0 and rule.end == 1440))
    schedule = Schedule((Window(rule),), replicas=1)
    first_day = around.astimezone(zone).date() - timedelta(days=3)
    days = [first_day + timedelta(days=d) for d in range(7)]
    occurrences = [rule.occurrence(day) for day in days]
    for day, (opens, closes) in zip(days, occurrences, strict=True):
        midnight = datetime.combine(day, time())
        assert opens == resolve(midnight + timedelta(minutes=rule.start), zone)
        assert opens < closes  # never skipped: every day's window has a length
    # Never doubled: the desired count changes exactly at the occurrences' edges, once
    # each; two occurrences only merge when one closes at the instant the next opens
    # (e.g. a 02:01-02:00 window on a day whose 02:00-03:00 does not exist).
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in occurrences:
        if merged and merged[-1][1] == opens:
            merged[-1] = (merged[-1][0], closes)
        else:
            merged.append((opens, closes))
    # The first merged stretch may continue one from before the range, the last one into
    # the days after it: compare those in between.
    expected = merged[1:-1]
    assume(expected)
    since = expected[0][0] - timedelta(seconds=1)
    changes = next_transitions(schedule, since, 2 * len(expected))
    assert [c.replicas for c in changes] == [1, 0] * len(expected)
    intervals = [(a.at, b.at) for a, b in zip(changes[::2], changes[1::2], strict=True)]
    assert intervals == expected


def _rules(zone: ZoneInfo, around: datetime) -> st.SearchStrategy[Window]:
    weekly = st.builds(
        lambda d, s, e: Weekly(d, s, e or 1440, zone), day_sets, minutes, minutes
    ).filter(lambda w: w.start != w.end % 1440 or w.end == 1440)
    cron = st.builds(
        lambda h1, m1, h2, m2: CronPair(f"{m1} {h1} * * *", f"{m2} {h2} * * 1-5", zone),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 23),
        st.integers(0, 59),
    )
    once = st.builds(
        lambda a, b: OneOff(around + timedelta(hours=a), around + timedelta(hours=a + b)),
        st.integers(-48, 48),
        st.integers(1, 48),
    )
    return st.builds(
        Window,
        st.one_of(weekly, cron, once),
        st.one_of(st.none(), st.integers(1, 5)),
        st.booleans(),
    )


@PROPERTY
@given(st.data(), near_transition(), st.integers(0, 3))
def test_desired_is_constant_between_transitions(
    data: st.DataObject, place: tuple[ZoneInfo, datetime], idle: int
) -> None:
    zone, around = place
    windows = data.draw(st.lists(_rules(zone, around), min_size=1, max_size=3))
    schedule = Schedule(tuple(windows), replicas=2, idle_replicas=idle)
    changes = next_transitions(schedule, around, 4)
    previous_at, previous = around, desired(schedule, around)
    for change in changes:
        assert change.replicas != previous
        assert desired(schedule, change.at) == change.replicas
        gap = (change.at - previous_at).total_seconds()
        for fraction in (0.25, 0.5, 0.999):
            probe = previous_at + timedelta(seconds=max(gap * fraction, 0))
            if probe < change.at:
                assert desired(schedule, probe) == previous
        previous_at, previous = change.at, change.replicas


def test_the_scanner_finds_real_transitions() -> None:
    """Guard for the strategy itself: Berlin 2024 changes on 31 March and 27 October."""
    assert [t.date() for t in transitions("Europe/Berlin", 2024)] == [
        date(2024, 3, 31),
        date(2024, 10, 27),
    ]
    zone = ZoneInfo("Australia/Lord_Howe")
    for change in transitions("Australia/Lord_Howe", 2024):
        before, after = _offset(change - timedelta(seconds=1), zone), _offset(change, zone)
        assert before is not None and after is not None
        assert abs(after - before) == timedelta(minutes=30)
