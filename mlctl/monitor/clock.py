"""Time, injectable everywhere it matters.

Every part of the monitor that reads the time takes a :data:`Clock`: a callable that
returns an *aware* UTC ``datetime``.  Production code passes :func:`utc_now`; tests
and the schedule reconciler pass a :class:`ManualClock` (or the simulator's clock) so
they can move time without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real time, aware, in UTC."""
    return datetime.now(UTC)


def from_ns(nanoseconds: int | None) -> datetime | None:
    """A Nomad timestamp (Unix nanoseconds) as an aware UTC datetime; None for 0/None."""
    if not nanoseconds:
        return None
    return datetime.fromtimestamp(nanoseconds / 1e9, tz=UTC)


def require_aware(moment: datetime, what: str = "time") -> datetime:
    """``moment`` converted to UTC; naive datetimes are a programming error here."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


class ManualClock:
    """A clock that only moves when told to; thread-safe, for tests and simulations."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = require_aware(start or datetime(2025, 1, 6, 9, 0, tzinfo=UTC))
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (which must not be earlier than now)."""
        moment = require_aware(moment)
        with self._lock:
            if moment < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = moment
