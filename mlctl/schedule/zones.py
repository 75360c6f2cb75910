"""IANA time zones by name, with a suggestion when a name is misspelt.

Zone data comes from the system (``/usr/share/zoneinfo``) or, on a bare container
without it, from the ``tzdata`` package (a dependency), through :mod:`zoneinfo`.
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo

from mlctl.schedule.problems import FieldError

#: Longest zone name accepted (the longest IANA name is about 30 characters).
MAX_ZONE_NAME = 64


@functools.cache
def _known() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _suggestion(name: str) -> str:
    folded = {zone.lower(): zone for zone in _known()}
    if name.lower() in folded:
        return f" (did you mean {folded[name.lower()]}? names are case-sensitive)"
    close = difflib.get_close_matches(name, _known(), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else " (use an IANA name such as Europe/Berlin)"


@functools.cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone called ``name``; a :class:`FieldError` on ``tz`` when there is none."""
    if not name or len(name) > MAX_ZONE_NAME or name.startswith(("/", ".")) or ".." in name:
        raise FieldError("tz", f"unknown time zone {name!r}{_suggestion(name)}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise FieldError("tz", f"unknown time zone {name!r}{_suggestion(name)}") from None
