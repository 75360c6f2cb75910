"""The leader lock's state machine against a fake Nomad: a lease that cannot be renewed
stops acting when TTL has passed since the last renewal was sent; a refused renew stops
it at once; a Nomad without locks leaves a single acting monitor."""

from __future__ import annotations

from typing import Any

from mlctl.errors import Unreachable
from mlctl.monitor.clock import ManualClock
from mlctl.monitor.config import LeaderConfig
from mlctl.monitor.leadership import Leadership
from mlctl.nomad.variables import HeldLock, LockConflict, LocksUnsupported


class FakeVariables:
    def __init__(self) -> None:
        self.acquire: Exception | None = None
        self.renew: Exception | None = None
        self.calls: list[str] = []

    def acquire_lock(self, path: str, **_: Any) -> HeldLock:
        self.calls.append("acquire")
        if self.acquire:
            raise self.acquire
        return HeldLock(path, "default", "id-1", "15s", "15s", 7)

    def renew_lock(self, held: HeldLock) -> None:
        self.calls.append("renew")
        if self.renew:
            raise self.renew


class Mono:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def leadership(fake: FakeVariables, mono: Mono, logs: list[str]) -> Leadership:
    """``logs`` gets what it logs and every role change."""
    return Leadership(LeaderConfig(), lambda: fake, "default", "me", ManualClock(),  # type: ignore[arg-type]
                      logs.append, monotonic=mono,
                      on_change=lambda c: logs.append(f"{c.role}: {c.reason}"))  # fmt: skip


def test_an_unrenewable_lease_stops_acting_after_ttl_and_a_refused_renew_at_once() -> None:
    fake, mono, logs = FakeVariables(), Mono(), []
    lead = leadership(fake, mono, logs)
    lead.step()
    assert lead.role == "leader" and lead.is_leader()
    fake.renew = Unreachable("no answer")
    mono.now = 7.5
    lead.step()
    assert lead.is_leader()  # still within TTL of the last renewal sent
    mono.now = 15.0
    assert not lead.is_leader()  # checked at use, before any step demotes it
    lead.step()
    assert lead.role == "standby"
    fake.renew = None
    mono.now = 16.0
    lead.step()
    assert lead.role == "leader"  # the lock was still ours on the server
    fake.renew = LockConflict("lost")
    mono.now = 24.0
    lead.step()
    assert lead.role == "standby" and not lead.is_leader()


def test_a_nomad_without_locks_leaves_one_acting_monitor_and_says_so_once() -> None:
    fake, mono, logs = FakeVariables(), Mono(), []
    fake.acquire = LocksUnsupported("Nomad refused lock-acquire")
    lead = leadership(fake, mono, logs)
    lead.step()
    mono.now = 100.0
    lead.step()
    assert lead.role == "single" and lead.is_leader()
    assert fake.calls == ["acquire"] and len(logs) == 1


def test_a_held_lock_keeps_a_monitor_standby_and_it_retries_every_half_ttl() -> None:
    fake, mono, logs = FakeVariables(), Mono(), []
    fake.acquire = LockConflict("held")
    lead = leadership(fake, mono, logs)
    lead.step()
    mono.now = 7.0
    lead.step()
    assert lead.role == "standby" and fake.calls == ["acquire"]
    mono.now = 7.5
    lead.step()
    assert fake.calls == ["acquire", "acquire"] and not lead.is_leader()
