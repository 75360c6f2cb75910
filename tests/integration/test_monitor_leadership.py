"""Two monitors against one engine: only the holder of the leader lock notifies and
acts; a clean stop hands over at the standby's next attempt; a killed leader's lock is
taken over only after Nomad's 2 x TTL and the LockDelay, without re-paging.

The lease clocks are steered: the monitors' (a manual monotonic clock shared by both)
and the engine's (``advance``). The TTL is an hour so the engine's scaled clock cannot
expire a lock while a test runs; every wait is on a condition.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mlctl.monitor.engine import Monitor, MonitorOptions, WatchOptions
from mlctl.monitor.eventlog import EventLog
from mlctl.monitor.state import VariableState
from mlctl.monitor.tokens import StaticToken
from tests.cli_runner import run_cli
from tests.integration.monitor_servers import WebhookSink
from tests.integration.monitor_support import register_model, wait_for
from tests.integration.test_monitor_engine import (
    CRASH_ALERTS,
    FAST_FOLLOWER,
    crash,
    make_config,
    records,
    sim_clock,
    webhook_statuses,
)
from tests.integration.test_monitor_follower import connector
from tests.simulators.nomad.fixtures import NomadHandle, SimFactory, require_sim

TTL = 3600.0
LEADER = {"ttl": "1h", "lock_delay": "1h"}


class Ticks:
    """A monotonic clock that moves only when told (the monitors' lease clock)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def build(handle: NomadHandle, sink: WebhookSink, log: Path, ticks: Ticks, name: str) -> Monitor:
    return Monitor(
        make_config(sink, leader=LEADER),
        connector(handle),
        StaticToken(handle.management_token),
        EventLog(log, sim_clock(handle)),
        clock=sim_clock(handle),
        options=MonitorOptions(nomad_address=handle.address, identity=name),
        follower_options=FAST_FOLLOWER,
        monotonic=ticks,
    )


@contextmanager
def started(monitor: Monitor) -> Iterator[Monitor]:
    monitor.start()
    try:
        yield monitor
    finally:
        monitor.stop()


def role(monitor: Monitor) -> str:
    assert monitor.leadership is not None
    return monitor.leadership.role


def next_attempt(monitor: Monitor, ticks: Ticks) -> str:
    """Make the monitor's next acquire/renew due, wait for it, and return its role."""
    assert monitor.leadership is not None
    before = monitor.leadership.attempts
    ticks.advance(TTL / 2)
    wait_for(lambda: monitor.leadership and monitor.leadership.attempts > before, "an attempt")
    return role(monitor)


def delivered(log: Path) -> list[dict[str, Any]]:
    return records(log, "notification", status="delivered")


def test_only_the_leader_notifies_and_a_clean_stop_hands_over_without_repaging(
    nomad_sim_factory: SimFactory, webhook_sink: WebhookSink, tmp_path: Path
) -> None:
    handle = nomad_sim_factory()
    ticks = Ticks()
    register_model(handle, "iris", alerts=CRASH_ALERTS)
    log_a, log_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a = build(handle, webhook_sink, log_a, ticks, "monitor-a")
    b = build(handle, webhook_sink, log_b, ticks, "monitor-b")
    with started(a):
        assert role(a) == "leader"
        with started(b):
            assert role(b) == "standby" and not b.acting()
            wait_for(lambda: b.store.snapshot().model("iris") is not None, "b's warm Store")
            crash(handle, "mlctl-iris", 3)
            wait_for(lambda: "firing" in webhook_statuses(webhook_sink, "ModelCrashLooping"),
                     "the firing webhook")  # fmt: skip
            wait_for(lambda: records(log_a, "action", action="restart", result="done"),
                     "the restart")  # fmt: skip
            wait_for(lambda: a.outbox.pending() == [], "a's deliveries")
            assert next_attempt(b, ticks) == "standby"  # a renewed; b tried and lost
            a.stop()  # clean: saves state, releases the lock
            assert next_attempt(b, ticks) == "leader"
            passes = b.last_pass
            wait_for(lambda: b.last_pass > passes and b.outbox.pending() == [],
                     "a pass of the new leader")  # fmt: skip
            status = b.status()
            assert status["role"] == "leader" and status["since"]
    assert webhook_statuses(webhook_sink, "ModelCrashLooping") == ["firing"]
    assert delivered(log_a) and not delivered(log_b)
    assert len(records(log_a, "action", action="restart", result="done")) == 1
    assert not records(log_b, "action")
    assert records(log_b, "leadership", role="leader")


def test_a_killed_leader_is_replaced_only_after_twice_the_ttl_and_the_lock_delay(
    nomad_sim_factory: SimFactory, webhook_sink: WebhookSink, tmp_path: Path
) -> None:
    handle = nomad_sim_factory()
    sim = require_sim(handle)
    ticks = Ticks()
    register_model(handle, "iris", alerts=CRASH_ALERTS)
    log_a, log_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a = build(handle, webhook_sink, log_a, ticks, "monitor-a")
    b = build(handle, webhook_sink, log_b, ticks, "monitor-b")
    a.start()
    try:
        crash(handle, "mlctl-iris", 3)
        wait_for(lambda: "firing" in webhook_statuses(webhook_sink, "ModelCrashLooping"),
                 "the firing webhook")  # fmt: skip
        wait_for(lambda: a.outbox.pending() == [], "a's deliveries")
        saved = VariableState(a.variables)
        wait_for(lambda: not (saved.load() or {"outbox": [1]}).get("outbox"),
                 "a's saved state with nothing left to deliver")  # fmt: skip
    finally:
        a.stop(release=False)  # killed: the lock stays until Nomad lets it lapse
    with started(b):
        assert role(b) == "standby"
        assert next_attempt(b, ticks) == "standby"  # a's lock is still valid
        sim.advance(2 * TTL + 1)  # Nomad's TTL timer (2 x TTL) ran out: the delay starts
        assert next_attempt(b, ticks) == "standby"
        sim.advance(TTL)  # the LockDelay is over: the lock is gone
        assert next_attempt(b, ticks) == "leader"
        wait_for(lambda: "resolved" in webhook_statuses(webhook_sink, "ModelCrashLooping"),
                 "the resolution, told by the new leader")  # fmt: skip
    assert webhook_statuses(webhook_sink, "ModelCrashLooping") == ["firing", "resolved"]
    assert not records(log_b, "alert", alertname="ModelCrashLooping", status="firing")


def test_watch_only_monitors_never_take_the_lock(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory()
    watcher = Monitor(
        make_config(),
        connector(handle),
        StaticToken(handle.management_token),
        EventLog(None),
        options=MonitorOptions(watch=WatchOptions()),
    )
    watcher.tick()
    assert watcher.leadership is None and not watcher.acting()
    assert handle.client().variables.get_variables() == []


def test_monitor_status_says_who_leads_and_that_a_clean_stop_released_it(
    nomad_sim_factory: SimFactory,
    webhook_sink: WebhookSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handle = nomad_sim_factory()
    monkeypatch.setenv("NOMAD_ADDR", handle.address)
    if handle.management_token:
        monkeypatch.setenv("NOMAD_TOKEN", handle.management_token)
    nobody = run_cli(["-o", "json", "monitor", "status"])
    assert nobody.status == 0, nobody.stderr
    assert json.loads(nobody.stdout)["leader"] is None
    with started(build(handle, webhook_sink, tmp_path / "a.jsonl", Ticks(), "monitor-a")):
        leading = json.loads(run_cli(["-o", "json", "monitor", "status"]).stdout)
        assert leading["leader"] == "monitor-a" and leading["held"] is True
    after = json.loads(run_cli(["-o", "json", "monitor", "status"]).stdout)
    assert after["held"] is False and "released by monitor-a" in after["note"]


def leader_messages(log: Path) -> list[str]:
    return [str(r.get("message")) for r in records(log, "leadership", role="leader")]


def test_a_leader_whose_lease_lapsed_resumes_unless_another_led_meanwhile(
    nomad_sim_factory: SimFactory, webhook_sink: WebhookSink, tmp_path: Path
) -> None:
    handle = nomad_sim_factory()
    sim = require_sim(handle)
    ticks = Ticks()
    register_model(handle, "iris", alerts=CRASH_ALERTS)
    log_a, log_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a = build(handle, webhook_sink, log_a, ticks, "monitor-a")
    with started(a):
        crash(handle, "mlctl-iris", 3)
        wait_for(lambda: "firing" in webhook_statuses(webhook_sink, "ModelCrashLooping"),
                 "the firing webhook")  # fmt: skip
        wait_for(lambda: a.outbox.pending() == [] and not a._dirty, "a's saved state")
        # A network blip longer than the TTL: a stops acting, Nomad lets the lock lapse,
        # and nobody else leads before a takes it back.
        assert a.leadership is not None
        sim.advance(3 * TTL + 1)
        assert next_attempt(a, ticks) in ("standby", "leader")
        wait_for(lambda: role(a) == "leader" or next_attempt(a, ticks) == "leader", "a again")
        assert "resuming" in leader_messages(log_a)[-1]
        assert a.acting()
        # Three hours passed on the engine: the crash loop is over, and a says so once.
        wait_for(lambda: "resolved" in webhook_statuses(webhook_sink, "ModelCrashLooping"),
                 "the resolution")  # fmt: skip
        wait_for(lambda: a.outbox.pending() == [] and not a._dirty, "a's saved state")

        # Now another monitor leads while a's lease is gone: a must reload, not resume.
        b = build(handle, webhook_sink, log_b, ticks, "monitor-b")
        a.leadership.release()  # a steps aside (as its lease running out would)
        with started(b):
            wait_for(lambda: role(b) == "leader", "b leads")
            passes = b.last_pass
            wait_for(lambda: b.last_pass > passes, "a pass of b")
        wait_for(lambda: next_attempt(a, ticks) == "leader", "a leads again")
        assert "resuming" not in leader_messages(log_a)[-1]
    assert webhook_statuses(webhook_sink, "ModelCrashLooping") == ["firing", "resolved"]
