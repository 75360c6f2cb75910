"""Go-style durations: Nomad's JSON carries nanoseconds, its HCL carries "10s"/"1h30m"."""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Parse a Go duration string into nanoseconds; raises ValueError when malformed."""
    s = text.strip()
    if s in ("0", ""):
        if s == "":
            raise ValueError("empty duration")
        return 0
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    pos = 0
    total = 0.0
    for match in _PART.finditer(s):
        if match.start() != pos:
            raise ValueError(f"time: invalid duration {text!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"time: invalid duration {text!r}")
    return sign * int(total)


def format_duration(nanos: int) -> str:
    """Render nanoseconds like Go's time.Duration.String() for the common cases."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    n = abs(nanos)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                value = n / size
                return f"{sign}{value:g}{unit}"
    hours, rem = divmod(n, 3_600_000_000_000)
    minutes, rem = divmod(rem, 60_000_000_000)
    seconds = rem / 1_000_000_000
    out = ""
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    out += f"{seconds:g}s"
    return sign + out


def seconds(nanos: int | None) -> float:
    """Nanoseconds (possibly null in JSON) to float seconds."""
    return (nanos or 0) / 1_000_000_000
