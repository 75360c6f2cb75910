"""Steered faults: make the API answer errors for a while (tests of client resilience).

A fault matches requests by path prefix and answers with a status and Nomad-style
plain-text body, either for the next ``count`` requests or until simulated time
``until``. Steering routes (``/v1/_sim/``) are never faulted, so a test can always
clear what it set.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .jobops import ApiError


@dataclass
class Fault:
    prefix: str
    status: int
    message: str
    remaining: int | None  #: requests still to fail; None: until ``until``/cleared
    until: float | None  #: simulated seconds; None: no deadline
    method: str | None = None  #: only this HTTP method (None: every method)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def check(self, path: str, now: float, method: str = "GET") -> None:
        """Raise the ApiError of the first live fault matching ``path``."""
        if path.startswith("/v1/_sim/"):
            return
        with self._lock:
            self._faults = [
                f
                for f in self._faults
                if (f.remaining is None or f.remaining > 0) and (f.until is None or now < f.until)
            ]
            for fault in self._faults:
                if path.startswith(fault.prefix) and fault.method in (None, method):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    raise ApiError(fault.status, fault.message)
