"""Vault's duration format: integers are seconds, strings like "90s", "8h", "1h30m"."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_UNKNOWN_UNIT = re.compile(r"\d+(?:\.\d+)?([^\d.]+)")


class DurationError(ValueError):
    """A value that is not a duration; Vault answers 400."""


def parse_duration(value: object) -> int:
    """Seconds of a duration given as an int, a numeric string or a Go-style string."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise DurationError(f'time: invalid duration "{value}"')
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        unit = _UNKNOWN_UNIT.fullmatch(text)
        if unit:  # Go names the unit it does not know
            raise DurationError(f'time: unknown unit "{unit.group(1)}" in duration "{text}"')
        raise DurationError(f'time: invalid duration "{text}"')
    return int(total)
