"""Bounded, jittered exponential backoff (pure: the random source is injectable).

Every retry loop of the monitor (reconnecting the stream, polling, delivering to a
receiver, applying an action) waits ``next_delay()`` after a failure and calls
``reset()`` after a success, so a dead dependency is retried at most every ``cap``
seconds and never in a tight loop, and many monitors do not retry in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """``base * 2**n`` capped at ``cap``, each delay drawn from [50%, 100%] of it."""

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 30.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self._rand = rand
        self.failures = 0

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts one more failure."""
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 30)))
        self.failures += 1
        return float(ceiling * (0.5 + 0.5 * self._rand()))

    def reset(self) -> None:
        self.failures = 0
