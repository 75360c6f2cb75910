"""One parser per field of a window, each usable on its own.

The CLI parses whole windows with them; a form (the TUI's schedule editor) calls the one
for the field being typed and shows the :class:`~mlctl.schedule.problems.FieldError`'s
message under it. Every parser returns a normalised value or raises that error, whose
``field`` is the name the user wrote: ``days``, ``time``, ``tz``, ``start``, ``stop``,
``from``, ``until``.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from mlctl.schedule.problems import FieldError
from mlctl.schedule.zones import zone

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {
    **{name.lower(): index for index, name in enumerate(DAY_NAMES)},
    **{name: index for index, name in enumerate(_FULL_NAMES)},
}
_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
#: Longest text any one field may hold (a form field, a flag, a YAML string).
MAX_FIELD = 200
#: Fires compared to tell whether a start and a stop expression are the same schedule.
_SAME_FIRES = 16


def _bounded(field: str, text: str) -> str:
    if not isinstance(text, str):
        raise FieldError(field, f"must be text, got {type(text).__name__}")
    if len(text) > MAX_FIELD:
        raise FieldError(field, f"is longer than {MAX_FIELD} characters")
    return text.strip()


def _day(token: str) -> int:
    index = _DAY_INDEX.get(token.lower())
    if index is None:
        raise FieldError(
            "days", f"unknown day {token!r} (use {' '.join(DAY_NAMES)}, e.g. Mon-Fri or Sat,Sun)"
        )
    return index


def parse_days(text: str) -> frozenset[int]:
    """``Mon-Fri``, ``Sat,Sun``, ``Mon-Wed,Fri``, ``Fri-Mon`` (wraps) → weekday numbers (Mon=0)."""
    text = _bounded("days", text)
    if not text:
        raise FieldError("days", "missing: say which days, e.g. Mon-Fri")
    days: set[int] = set()
    for item in text.split(","):
        first, dash, last = item.strip().partition("-")
        if not first or (dash and not last):
            raise FieldError("days", f"{item.strip()!r} is not a day or a range like Mon-Fri")
        start = _day(first)
        end = _day(last) if dash else start
        span = (end - start) % 7
        days.update((start + offset) % 7 for offset in range(span + 1))
    return frozenset(days)


def format_days(days: frozenset[int]) -> str:
    """The shortest text for a set of days: ``Mon-Fri``, ``Sat,Sun``, ``Fri-Mon``, ``Mon-Sun``."""
    if len(days) == 7:
        return "Mon-Sun"
    # Start each run on a day whose previous day is absent, so Fri-Mon stays one run.
    first = min((d for d in days if (d - 1) % 7 not in days), default=0)
    runs: list[list[int]] = []
    for offset in range(7):
        day = (first + offset) % 7
        if day not in days:
            continue
        if runs and (runs[-1][-1] + 1) % 7 == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        names = [DAY_NAMES[d] for d in run]
        parts.append(",".join(names) if len(run) <= 2 else f"{names[0]}-{names[-1]}")
    return ",".join(parts)


def parse_clock(text: str, *, end: bool = False) -> int:
    """``HH:MM`` → minutes after midnight; ``24:00`` only as an end (midnight after the day)."""
    text = _bounded("time", text)
    match = _CLOCK.match(text)
    if not match:
        raise FieldError("time", f"{text!r} is not a time like 09:00 (24-hour HH:MM)")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours == 24 and (minutes or not end):
        what = "only 24:00 itself" if end else "24:00 only as the end of a window"
        raise FieldError("time", f"{text!r} is not a time of day ({what} is allowed)")
    return hours * 60 + minutes


def parse_time_range(text: str) -> tuple[int, int]:
    """``09:00-18:00`` → (540, 1080). An end at or before the start crosses midnight."""
    text = _bounded("time", text)
    start, dash, end = text.partition("-")
    if not dash:
        raise FieldError("time", f"{text!r} is not a range like 09:00-18:00")
    first = parse_clock(start.strip())
    last = parse_clock(end.strip(), end=True)
    if first == last % 1440 and last != 1440:
        raise FieldError(
            "time",
            f"{text!r} starts and ends at the same time; for a whole day use 00:00-24:00",
        )
    return first, last


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_zone(text: str) -> ZoneInfo:
    """An IANA zone name → the zone (see :mod:`mlctl.schedule.zones`)."""
    return zone(_bounded("tz", text))


def parse_cron(text: str, field: str) -> str:
    """A five-field cron expression (minute hour day-of-month month day-of-week), normalised."""
    text = _bounded(field, text)
    parts = text.split()
    if len(parts) != 5:
        raise FieldError(
            field,
            f"{text!r} has {len(parts)} fields; write five: minute hour day-of-month month "
            'day-of-week, e.g. "0 9 * * 1-5"',
        )
    normalised = " ".join(parts)
    try:
        CronSim(normalised, datetime(2000, 1, 1))
    except CronSimError as error:
        raise FieldError(field, f"{text!r} is not a valid cron expression: {error}") from None
    return normalised


def check_cron_pair(start: str, stop: str, tz: ZoneInfo) -> None:
    """Refuse a start and stop that fire at the same instants (the window would never open)."""
    origin = datetime(2024, 1, 1, tzinfo=tz)
    starts, stops = CronSim(start, origin), CronSim(stop, origin)
    if all(next(starts) == next(stops) for _ in range(_SAME_FIRES)):
        raise FieldError("stop", f"{stop!r} fires at the same times as start {start!r}")


def parse_instant(text: str, field: str) -> datetime:
    """An ISO 8601 date-time with an offset (``2025-12-24T18:00:00+01:00`` or ``…Z``)."""
    text = _bounded(field, text)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(
            field, f"{text!r} is not an ISO 8601 date-time like 2025-12-24T18:00:00+01:00"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise FieldError(field, f"{text!r} needs an offset, e.g. +01:00 or Z")
    return value


def split_weekly(text: str) -> tuple[str, str, str]:
    """``"Mon-Fri 09:00-18:00 Europe/Berlin"`` → its days, time range and zone texts."""
    text = _bounded("window", text)
    parts = text.split()
    if len(parts) != 3:
        raise FieldError(
            "window",
            f'{text!r} is not DAYS START-END ZONE, e.g. "Mon-Fri 09:00-18:00 Europe/Berlin"',
        )
    return parts[0], parts[1], parts[2]
