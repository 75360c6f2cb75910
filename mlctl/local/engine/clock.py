"""Simulated time: real elapsed time multiplied by ``time_scale`` plus manual advances.

Every duration the simulator honours (min_healthy_time, restart delays, progress
deadlines, heartbeats) is measured on this clock, so a test can run a ten-minute
Nomad deployment in a fraction of a second without changing any job.
"""

from __future__ import annotations

import threading
import time

NANOS = 1_000_000_000


class SimClock:
    """Monotonic simulated seconds; ``wall_ns`` gives the matching Unix time in ns."""

    def __init__(self, time_scale: float = 50.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._start_mono = time.monotonic()
        self._start_wall = time.time()
        self._offset = 0.0
        self._lock = threading.Lock()

    @classmethod
    def wall(cls, start_wall: float | None = None) -> SimClock:
        """Real time, continuous across restarts: ``now()`` counts the seconds since
        ``start_wall`` (a Unix time kept with the state; now when None)."""
        clock = cls(1.0)
        if start_wall is not None:
            clock._start_mono -= time.time() - start_wall
            clock._start_wall = start_wall
        return clock

    @property
    def start_wall(self) -> float:
        return self._start_wall

    def now(self) -> float:
        """Simulated seconds since the simulator started."""
        with self._lock:
            return (time.monotonic() - self._start_mono) * self.time_scale + self._offset

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward (timers fire on the next tick)."""
        with self._lock:
            self._offset += seconds

    def wall_ns(self, sim_seconds: float | None = None) -> int:
        """Unix time in nanoseconds for a simulated instant (default: now)."""
        at = self.now() if sim_seconds is None else sim_seconds
        return int((self._start_wall + at) * NANOS)

    def real_seconds(self, sim_seconds: float) -> float:
        """How long a simulated duration lasts in real time."""
        return sim_seconds / self.time_scale
