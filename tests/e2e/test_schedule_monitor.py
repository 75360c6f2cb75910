"""Schedules end to end: a bundle with a schedule: section, mlctl deploy, and the monitor
(its engine with a manual clock) keeping the model up exactly inside its window, across a
DST change and a monitor restart, and alerting when it should be up and is not.

Nomad (the engine) runs on real time; only the monitor's clock is moved, which is all a
schedule looks at.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from mlctl.monitor.clock import ManualClock
from mlctl.monitor.engine import Monitor, MonitorOptions
from mlctl.monitor.eventlog import EventLog, read
from mlctl.monitor.tokens import StaticToken
from mlctl.schedule.monitoring import ALERT, attach
from tests.e2e.support import make_bundle, mlctl, use_cluster
from tests.integration.monitor_support import wait_for
from tests.integration.test_monitor_engine import FAST_FOLLOWER, make_config
from tests.integration.test_monitor_follower import connector

BERLIN = ZoneInfo("Europe/Berlin")
INTERVAL = 30.0
#: So long that a pass at a window edge can only come from the wake-up at that edge.
NEVER = 10 * 24 * 3600.0


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


@contextmanager
def monitor_at(
    handle: Any, clock: ManualClock, log: Path, kill: bool = False, interval: float = INTERVAL
) -> Iterator[Monitor]:
    monitor = Monitor(
        make_config(),
        connector(handle),
        StaticToken(handle.management_token),
        EventLog(log, clock),
        clock=clock,
        options=MonitorOptions(nomad_address=handle.address, publish=False),
        follower_options=FAST_FOLLOWER,
    )
    attach(monitor, interval=interval)
    monitor.start()
    try:
        yield monitor
    finally:
        if kill:  # as if SIGKILLed
            monitor.stopping.set()
            monitor.follower.close()
        else:
            monitor.stop()


def count(monitor: Monitor) -> int | None:
    model = monitor.store.snapshot().models.get(("default", "mlctl-iris"))
    return None if model is None else model.desired


def settle(monitor: Monitor, wanted: int) -> None:
    """Wait (without moving the monitor's clock) until the job runs ``wanted`` healthy
    replicas and no deployment is in progress."""

    def settled() -> bool:
        model = monitor.store.snapshot().models.get(("default", "mlctl-iris"))
        return (
            model is not None
            and model.desired == wanted
            and model.healthy == wanted
            and (model.deployment is None or model.deployment.status != "running")
        )

    wait_for(settled, f"{wanted} healthy replicas and no deployment running", timeout=120)


@pytest.fixture
def deployed(nomad_cluster, tmp_path, monkeypatch):
    use_cluster(monkeypatch, nomad_cluster, tmp_path / "store")
    bundle = make_bundle(tmp_path, "iris", replicas=2)
    config_file = bundle / "mlctl.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["schedule"] = [{"window": "Mon-Fri 09:00-18:00 Europe/Berlin"}]
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    result = mlctl("deploy", str(bundle), "--timeout", "120")
    assert result.status == 0, result.stderr
    return nomad_cluster


def test_up_inside_the_window_down_outside_across_dst_and_restarts(deployed, tmp_path):
    log = tmp_path / "events.jsonl"
    clock = ManualClock(berlin(2024, 3, 29, 8, 59))  # Friday before the March change
    with monitor_at(deployed, clock, log, kill=True, interval=NEVER) as monitor:
        settle(monitor, 0)  # the first pass, at start
        clock.set(berlin(2024, 3, 29, 9, 0))  # the edge: only its wake-up can run a pass
        settle(monitor, 2)
        clock.set(berlin(2024, 3, 29, 18, 0))
        settle(monitor, 0)
        clock.set(berlin(2024, 4, 1, 8, 59))  # Monday, now CEST: nothing to do yet
        time.sleep(1)
        assert count(monitor) == 0
    # Killed at 08:59, restarted at 09:03: the first pass scales up at once.
    clock.set(berlin(2024, 4, 1, 9, 3))
    with monitor_at(deployed, clock, log, interval=NEVER) as monitor:
        settle(monitor, 2)
    scaled = [r for r in read(log) if r["kind"] == "schedule" and r.get("event") == "scaled"]
    assert [r["replicas"] for r in scaled] == [0, 2, 0, 2]
    assert scaled[1]["reason"] == "mlctl schedule: window Mon-Fri 09:00-18:00 Europe/Berlin opened"
    assert scaled[-1]["at"] == "2024-04-01T07:03:00Z"


def test_a_model_that_should_be_up_and_is_not_raises_an_alert(deployed, tmp_path):
    log = tmp_path / "events.jsonl"
    clock = ManualClock(berlin(2024, 5, 6, 9, 1))
    with monitor_at(deployed, clock, log) as monitor:
        settle(monitor, 2)
        assert mlctl("stop", "iris", "--yes").status == 0  # someone stopped it
        wait_for(
            lambda: monitor.store.snapshot().models[("default", "mlctl-iris")].stopped,
            "the stop seen by the monitor",
        )
        clock.set(berlin(2024, 5, 6, 9, 7))  # past the 5-minute grace
        alert = wait_for(
            lambda: next(
                (a for a in monitor.store.snapshot().alerts if a.labels["alertname"] == ALERT),
                None,
            ),
            "the ScheduledModelDown alert",
        )
        assert alert.labels["model"] == "iris" and alert.status == "firing"
        assert "should run 2 replicas" in alert.annotations["summary"]
    assert any(r["kind"] == "schedule" and r.get("event") == "unhealthy" for r in read(log))
