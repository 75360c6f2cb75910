"""Periodic reconcilers that run inside the monitor (the schedule reconciler is one).

``Monitor.add_reconciler(name, interval_seconds, fn)`` registers ``fn(snapshot, now)``:

- it runs on a thread of its own (never on the monitor's loop), every
  ``interval_seconds`` of the monitor's clock, and only once the Store holds a full
  snapshot of the cluster (a reconciler must not act on a half-loaded picture);
- ``now`` comes from the injected clock, so a test (or a simulation) that moves a
  :class:`~mlctl.monitor.clock.ManualClock` makes reconcilers run without sleeping:
  waits are re-checked against the clock at least every ``tick`` real seconds;
- :meth:`Reconciler.wake_at` asks for an extra run at a given instant (schedules wake
  at window edges), :meth:`Reconciler.wake_now` for one at once;
- an exception is logged (``kind: reconciler``) and the reconciler simply runs again
  at its next time: a failure never stops it or the monitor.

``fn`` may call Nomad through the client it was given when it was built (for example
``monitor.client()``, which always carries the monitor's current token).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mlctl.monitor.clock import Clock
from mlctl.monitor.store import Snapshot, Store

ReconcileFn = Callable[[Snapshot, datetime], None]
Log = Callable[..., Any]


class Reconciler:
    def __init__(self, name: str, interval: float, fn: ReconcileFn) -> None:
        if interval <= 0:
            raise ValueError(f"reconciler {name}: interval must be positive")
        self.name = name
        self.interval = interval
        self.fn = fn
        self.runs = 0
        self.failures = 0
        self.last_run: datetime | None = None
        self.last_error = ""
        self._wakes: list[datetime] = []
        self._lock = threading.Lock()
        self._changed = threading.Event()

    def wake_at(self, moment: datetime) -> None:
        """Run (also) at ``moment`` of the monitor's clock."""
        with self._lock:
            self._wakes.append(moment)
        self._changed.set()

    def wake_now(self) -> None:
        self.wake_at(_EPOCH)

    def wait_for_wake(self, timeout: float) -> None:
        """Sleep up to ``timeout`` real seconds, less if someone asks for a run."""
        self._changed.wait(timeout)
        self._changed.clear()

    def due(self, now: datetime) -> bool:
        with self._lock:
            if self.last_run is None or now >= self.last_run + timedelta(seconds=self.interval):
                return True
            return any(w <= now for w in self._wakes)

    def next_time(self) -> datetime | None:
        with self._lock:
            regular = self.last_run + timedelta(seconds=self.interval) if self.last_run else None
            times = [t for t in [regular, *self._wakes] if t is not None]
            return min(times) if times else None

    def run(self, snapshot: Snapshot, now: datetime, log: Log) -> None:
        with self._lock:
            self._wakes = [w for w in self._wakes if w > now]
            self.last_run = now
        try:
            self.fn(snapshot, now)
            self.runs += 1
            self.last_error = ""
        except Exception as error:  # logged; the next interval tries again
            self.failures += 1
            self.last_error = f"{type(error).__name__}: {error}"
            log(
                "reconciler",
                reconciler=self.name,
                result="failed",
                error=self.last_error,
                traceback=traceback.format_exc(limit=5),
            )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Reconcilers:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        log: Log,
        tick: float = 0.2,
        may_run: Callable[[], bool] = lambda: True,
    ) -> None:
        """``may_run``: asked before every run (a standby monitor reconciles nothing)."""
        self.may_run = may_run
        self.store = store
        self.clock = clock
        self.log = log
        self.tick = tick
        self._items: dict[str, Reconciler] = {}
        self._threads: list[threading.Thread] = []
        self._stop: threading.Event | None = None

    def add(self, name: str, interval: float, fn: ReconcileFn) -> Reconciler:
        if name in self._items:
            raise ValueError(f"a reconciler named {name!r} is already registered")
        reconciler = Reconciler(name, interval, fn)
        self._items[name] = reconciler
        if self._stop is not None:  # added while running: start it now
            self._spawn(reconciler, self._stop)
        return reconciler

    def __getitem__(self, name: str) -> Reconciler:
        return self._items[name]

    def run_due(self) -> list[str]:
        """Run every due reconciler now, in this thread (for deterministic tests)."""
        snapshot = self.store.snapshot()
        if not snapshot.synced or not self.may_run():
            return []
        now = self.clock()
        ran = []
        for reconciler in self._items.values():
            if reconciler.due(now):
                reconciler.run(snapshot, now, self.log)
                ran.append(reconciler.name)
        return ran

    def start(self, stop: threading.Event) -> None:
        self._stop = stop
        for reconciler in self._items.values():
            self._spawn(reconciler, stop)

    def _spawn(self, reconciler: Reconciler, stop: threading.Event) -> None:
        thread = threading.Thread(
            target=self._loop,
            args=(reconciler, stop),
            name=f"reconciler-{reconciler.name}",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    def _loop(self, reconciler: Reconciler, stop: threading.Event) -> None:
        while not stop.is_set():
            snapshot = self.store.snapshot()
            now = self.clock()
            if snapshot.synced and self.may_run() and reconciler.due(now):
                reconciler.run(snapshot, now, self.log)
                continue
            upcoming = reconciler.next_time()
            wait = self.tick
            if upcoming is not None:
                wait = min(self.tick, max(0.0, (upcoming - now).total_seconds()))
            reconciler.wait_for_wake(wait or 0.001)
