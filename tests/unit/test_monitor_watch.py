"""The watch-only monitor (``mlctl tui``'s): the same rules over the same Store as the
deployed monitor, and nothing that acts on the world."""

from __future__ import annotations

from typing import Any

import pytest

from mlctl.monitor import config as monitor_config
from mlctl.monitor.clock import ManualClock
from mlctl.monitor.engine import Monitor, MonitorOptions, WatchOptions
from mlctl.monitor.eventlog import EventLog
from mlctl.monitor.store import KINDS
from mlctl.monitor.tokens import StaticToken
from mlctl.monitor.views import EndpointView, ProbeMetrics
from tests.unit.monitor_objects import T0, alloc, job

#: Would fire at once if judged (no endpoint answers).
UNREACHABLE_NOW = {"rules": {"unreachable": {"for": "0s"}}}


class NoState:
    """A deployed monitor's state, which a watch-only monitor must never touch."""

    def load(self) -> dict[str, Any] | None:
        raise AssertionError("a watch-only monitor loaded the monitor's state")

    def save(self, data: dict[str, Any]) -> list[str]:
        raise AssertionError("a watch-only monitor saved the monitor's state")

    def still_ours(self) -> bool:
        raise AssertionError("a watch-only monitor asked about the monitor's state")


def no_nomad(_token: str | None) -> Any:
    raise AssertionError("a watch-only monitor called Nomad outside its follower")


def watching(watch: WatchOptions, log: EventLog | None = None, **config: Any) -> Monitor:
    """A watch-only monitor whose Store holds one failed, unreachable allocation of iris
    and a webhook and an Alertmanager configured (which it must ignore)."""
    parsed = monitor_config.parse(
        {
            "receivers": [{"name": "default", "webhook": [{"url": "http://127.0.0.1:9/"}]}],
            "route": {"receiver": "default", "group_wait": "0s"},
            "alertmanagers": ["http://127.0.0.1:9/"],
            **config,
        },
        "test",
    )
    monitor = Monitor(
        parsed,
        no_nomad,
        StaticToken(None),
        log or EventLog(None),
        clock=ManualClock(T0),
        options=MonitorOptions(publish=True, watch=watch),
        state=NoState(),
    )
    listing = {
        "jobs": [job(count=1, alerts=UNREACHABLE_NOW)],
        "allocs": [alloc("a0", client_status="failed", deployment_id="")],
    }
    for kind in KINDS:
        monitor.store.resync(kind, listing.get(kind, []), 50)
    key = ("default", "mlctl-iris")
    monitor.store.set_endpoints(key, [EndpointView("iris", "a0", "10.0.0.1", 8080)])
    monitor.store.set_probe(key, ProbeMetrics(T0, 1, 0, 0, error="connection refused"))
    monitor.store.set_connection(True, "stream")
    return monitor


def firing(monitor: Monitor) -> set[str]:
    return {a.name for a in monitor.store.snapshot().alerts}


def test_it_raises_what_the_rules_find_and_freezes_while_disconnected() -> None:
    monitor = watching(WatchOptions())
    monitor.store.set_connection(False, "connecting", at=T0, error="refused")
    assert monitor.tick() and firing(monitor) == set()  # stale data decides nothing
    monitor.store.set_connection(True, "stream")
    assert monitor.tick()
    assert "ModelAllocationFailed" in firing(monitor)
    # Disconnected again: what was firing stays as it was.
    monitor.store.set_connection(False, "connecting", at=T0, error="refused")
    monitor.tick()
    assert "ModelAllocationFailed" in firing(monitor)
    assert "MonitorDisconnected" not in firing(monitor)  # the TUI says so on its top line


@pytest.mark.parametrize("judge", [False, True])
def test_endpoint_reachability_is_judged_only_when_asked(judge: bool) -> None:
    monitor = watching(WatchOptions(judge_reachability=judge))
    monitor.tick()
    assert ("ModelEndpointUnreachable" in firing(monitor)) is judge


def test_it_notifies_acts_publishes_and_saves_nothing() -> None:
    seen: list[dict[str, Any]] = []
    log = EventLog(None)
    log.add_listener(seen.append)
    monitor = watching(WatchOptions(), log, intervals={"actions": 0.001, "publish": 0.001})
    assert monitor.receivers == {} and monitor.alertmanagers == []
    with pytest.raises(ValueError, match="watch-only"):
        monitor.add_reconciler("schedules", 30.0, lambda _snapshot, _now: None)
    monitor.tick()
    monitor.tick()
    assert "ModelAllocationFailed" in firing(monitor)
    assert monitor.outbox.pending() == []
    assert [r["alertname"] for r in seen if r["kind"] == "alert"] == ["ModelAllocationFailed"]
    assert not [r for r in seen if r["kind"] in ("action", "notification")]
    assert monitor.reconcilers.run_due() == []  # not even the alert-notes reader
    monitor.stop(timeout=1.0)  # a deployed monitor saves (NoState would raise) here


def test_a_watch_monitor_built_by_the_session_follows_every_namespace() -> None:
    from mlctl.session import watch_monitor
    from mlctl.settings import load_settings

    settings = load_settings({"nomad_addr": "http://127.0.0.1:9", "nomad_namespace": "a"}, env={})
    monitor = watch_monitor(settings, tokens=StaticToken(None))
    assert monitor.watch == WatchOptions()
    assert monitor.client().namespace == "*"
    assert monitor.events.path is None  # no event log file: records go to listeners
