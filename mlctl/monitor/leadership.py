"""One acting monitor per cluster: leadership through a Nomad Variable lock.

Two monitors acting at once (a redeploy overlapping the old allocation, an operator's
``mlctl monitor run`` next to the deployed one) would page people twice, scale twice,
restart twice and overwrite each other's state. So every acting monitor competes for
the lock on ``leader.path`` (default ``mlctl/monitor/leader``) and only the holder acts:

- **leader**: renews every TTL/2. It counts itself leader only until TTL after the last
  successful acquire/renew was *sent* (Nomad keeps the lock 2 x TTL after it received
  it, then LockDelay more), so it stops acting before anyone else could start, even if
  Nomad cannot be reached. A refused renew (the lock was lost) stops it at once.
- **standby**: keeps its Store warm and tries to acquire every TTL/2.
- **single**: Nomad has no variable locks (older than 1.7), or the lock is disabled in
  the config, or the token may not write the lock variable: acts as before, said once.

A clean shutdown marks the lock variable released (who, when) and releases the lock, so
a standby takes over at its next attempt; a killed leader's lock lapses after 2 x TTL
plus LockDelay. The holder's name and since-when are the lock variable's items, which
``mlctl monitor status`` shows (the lock itself is visible to management tokens only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from mlctl.errors import MlctlError, NotFound, PermissionDenied
from mlctl.monitor.clock import Clock
from mlctl.monitor.config import LeaderConfig
from mlctl.monitor.problems import ProblemLine
from mlctl.nomad.variables import HeldLock, LockConflict, LocksUnsupported, Variables

Role = Literal["starting", "leader", "standby", "single"]
Log = Callable[[str], None]


@dataclass(frozen=True)
class RoleChange:
    role: Role
    since: datetime
    reason: str


class Leadership:
    """The lock's state machine; :meth:`step` does one acquire or renew when due."""

    def __init__(
        self,
        config: LeaderConfig,
        variables: Callable[[], Variables],
        namespace: str,
        identity: str,
        clock: Clock,
        log: Log,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        on_change: Callable[[RoleChange], None] = lambda change: None,
    ) -> None:
        self.config = config
        self._variables = variables
        self.namespace = namespace
        self.identity = identity
        self.clock = clock
        self.log = log
        self.monotonic = monotonic
        self.on_change = on_change
        self.role: Role = "starting" if config.enabled else "single"
        self.since = clock()
        self._held: HeldLock | None = None
        self._valid_until = 0.0  #: monotonic time until which acting is safe
        self._next_attempt = 0.0
        self._problems = ProblemLine(log)
        self.attempts = 0  #: acquire/renew requests made (status, tests)
        self._lock = threading.Lock()
        self._stepping = threading.Lock()

    @property
    def interval(self) -> float:
        """Seconds between two renewals (leader) or two acquire attempts (standby)."""
        return self.config.ttl / 2

    def is_leader(self) -> bool:
        """May this monitor act right now? (Checked before every act, not cached.)"""
        with self._lock:
            if self.role == "single":
                return True
            return self.role == "leader" and self.monotonic() < self._valid_until

    def holder_items(self) -> dict[str, str]:
        return {"holder": self.identity, "since": self.clock().isoformat()}

    # ------------------------------------------------------------------ one step

    def step(self) -> None:
        """Acquire (not leader) or renew (leader) when due; demote when the lease ran out."""
        if self.role == "single":
            return
        with self._stepping:  # the leadership thread and the loop both step
            self._step()

    def _step(self) -> None:
        now = self.monotonic()
        if self.role == "leader" and now >= self._valid_until:
            self._become("standby", "the lock could not be renewed within its TTL")
        if now < self._next_attempt:
            return
        self._next_attempt = now + self.interval
        if self._held is None:
            self._try_acquire(now)
        else:
            self._try_renew(now)
        self.attempts += 1  # after the outcome is known (tests wait on it)

    def _try_acquire(self, sent: float) -> None:
        try:
            held = self._variables().acquire_lock(
                self.config.path,
                ttl=self.config.ttl,
                lock_delay=self.config.lock_delay,
                items=self.holder_items(),
                namespace=self.namespace,
            )
        except LockConflict:
            self._problems.cleared()
            if self.role != "standby":
                self._become("standby", "another monitor holds the lock")
            return
        except LocksUnsupported as error:
            self._become("single", f"{error.one_line()}; acting as the only monitor")
            return
        except PermissionDenied as error:
            self._become("single", f"cannot take the leader lock ({error.one_line()}); "
                         "acting as the only monitor")  # fmt: skip
            return
        except MlctlError as error:
            self._problems.problem(f"cannot take the leader lock yet: {error.one_line()}")
            if self.role == "starting":
                self._become("standby", "Nomad did not answer the lock request")
            return
        self._problems.cleared()
        with self._lock:
            self._held = held
            self._valid_until = sent + self.config.ttl
        self._become("leader", f"took the lock {self.config.path}")

    def _try_renew(self, sent: float) -> None:
        held = self._held
        assert held is not None
        try:
            self._variables().renew_lock(held)
        except (LockConflict, NotFound) as error:
            with self._lock:
                self._held = None
                self._valid_until = 0.0
            self._next_attempt = 0.0  # compete again at once (the delay decides)
            self._become("standby", f"lost the lock: {error.one_line()}")
            return
        except MlctlError as error:
            self._problems.problem(f"cannot renew the leader lock: {error.one_line()}")
            self._next_attempt = min(self._next_attempt, sent + 1.0)  # retry soon
            return
        self._problems.cleared()
        with self._lock:
            self._valid_until = sent + self.config.ttl
        if self.role != "leader":
            self._become("leader", "renewed the lock it still held")

    def release(self) -> None:
        """Clean shutdown: say who released it and when, then release (fast handover)."""
        held = self._held
        with self._lock:
            self._held = None
            self._valid_until = 0.0
        if held is None:
            return
        variables = self._variables()
        try:
            items = {"holder": "", "released_by": self.identity,
                     "released_at": self.clock().isoformat()}  # fmt: skip
            variables.write_held(held, items)
            variables.release_lock(held)
        except MlctlError as error:
            self.log(f"cannot release the leader lock (it lapses after its TTL): "
                     f"{error.one_line()}")  # fmt: skip
            return
        self._become("standby", "released the lock")

    # ------------------------------------------------------------------ helpers

    def _become(self, role: Role, reason: str) -> None:
        with self._lock:
            if role == self.role:
                return
            self.role = role
            self.since = self.clock()
            change = RoleChange(role, self.since, reason)
        self.on_change(change)  # the monitor logs it as a ``leadership`` event

    def run(self, stop: threading.Event, poll: float = 0.5) -> None:
        """The leadership thread: a step every ``poll`` seconds (steps act only when due)."""
        while not stop.is_set():
            try:
                self.step()
            except Exception as error:  # a bug must not leave a leader acting unrenewed
                self.log(f"leadership error: {type(error).__name__}: {error}")
            stop.wait(min(poll, self.interval))

    def status(self) -> dict[str, str]:
        return {"role": self.role, "since": self.since.isoformat(), "lock": self.config.path}


def leader_status(variable: dict[str, object] | None, path: str) -> dict[str, object]:
    """What ``mlctl monitor status`` says about the leader lock variable (as read).

    ``held`` is known only to a management token (Nomad shows ``Lock`` to nobody
    else); otherwise the holder's own items say who took it and since when, or who
    released it (a killed leader's items stay until its lock lapses and another
    monitor takes it)."""
    if variable is None:
        return {"lock": path, "leader": None, "since": None, "held": False,
                "note": "no monitor has taken the lock yet"}  # fmt: skip
    raw_items = variable.get("Items")
    items = raw_items if isinstance(raw_items, dict) else {}
    lock = variable.get("Lock")
    held: bool | None = None  # Nomad omits Lock when free *and* when it hides it
    if isinstance(lock, dict) and lock.get("ID"):
        held = True
    elif items.get("released_by"):
        held = False
    out: dict[str, object] = {"lock": path, "leader": items.get("holder") or None,
                              "since": items.get("since") or None, "held": held}  # fmt: skip
    if items.get("released_by"):
        out["note"] = f"released by {items['released_by']} at {items.get('released_at')}"
    elif held is None:
        out["note"] = "whether the lock is still held is visible to management tokens only"
    return out
