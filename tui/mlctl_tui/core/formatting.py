"""Short, stable text for times, durations and quantities in table cells."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def duration(seconds: float) -> str:
    """``45s``, ``12m``, ``3h05m``, ``2d04h``: the two largest units, never negative."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m" if not secs or minutes >= 10 else f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was (``-`` when unknown)."""
    if moment is None:
        return "-"
    return duration((now - moment).total_seconds())


def until(moment: datetime | None, now: datetime) -> str:
    """How long until ``moment`` (``now`` when it has passed, ``-`` when unknown)."""
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    return "now" if seconds <= 0 else "in " + duration(seconds)


def clock(moment: datetime | None, zone: tzinfo = UTC) -> str:
    """``09:05:00`` in ``zone``."""
    if moment is None:
        return "-"
    return moment.astimezone(zone).strftime("%H:%M:%S")


def stamp(moment: datetime | None, zone: tzinfo = UTC) -> str:
    """``2025-03-03 09:05Z`` (``%Z`` of the zone when it is not UTC)."""
    if moment is None:
        return "-"
    local = moment.astimezone(zone)
    suffix = "Z" if local.utcoffset() == UTC.utcoffset(None) else " " + local.strftime("%Z")
    return local.strftime("%Y-%m-%d %H:%M") + suffix


def short_id(value: str | None, length: int = 8) -> str:
    return (value or "")[:length] or "-"


def number(value: float | None, digits: int = 1) -> str:
    """A rate or a count; ``-`` when unknown."""
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.{digits}f}"


def millis(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def percent(fraction: float | None) -> str:
    if fraction is None:
        return "-"
    return f"{fraction * 100:.1f}%"


def mib(value: int) -> str:
    """Memory in MiB as ``512M`` or ``15.0G``."""
    return f"{value / 1024:.1f}G" if value >= 1024 else f"{value}M"


def ratio(used: int, total: int, unit: str = "") -> str:
    return f"{used}/{total}{unit}"
