"""The whole monitor in-process against the engine over HTTP, with real receivers:
a crash loop raises one alert, delivered to a webhook, by email and to Alertmanager,
restarts the allocation once, and resolves; a killed and restarted monitor neither
misses nor repeats anything; sustained load scales a model up and back down;
reconcilers run on the monitor's clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlctl.monitor import config as monitor_config
from mlctl.monitor import eventlog
from mlctl.monitor.clock import ManualClock
from mlctl.monitor.engine import Monitor, MonitorOptions
from mlctl.monitor.eventlog import EventLog
from mlctl.monitor.follower import FollowerOptions
from mlctl.monitor.store import Snapshot
from mlctl.monitor.tokens import StaticToken
from tests.integration.monitor_servers import (
    Alertmanager,
    SmtpServer,
    WebhookSink,
    use_private_ports,
)
from tests.integration.monitor_support import register_model, wait_for
from tests.integration.test_monitor_follower import connector
from tests.simulators.nomad.fixtures import NomadHandle, SimFactory, require_sim

CRASH_ALERTS = {
    # No model server answers in the simulator: leave the probe rules out of these tests.
    "rules": {"crash_loop": {"restarts": 3, "window": "2m"}, "unreachable": {"enabled": False}},
    "actions": {"restart": {"max_restarts": 1, "cooldown": "1m"}},
}
FAST_FOLLOWER = FollowerOptions(heartbeat_timeout=10, backoff_base=0.05, backoff_cap=0.3)


def sim_clock(handle: NomadHandle) -> Any:
    sim = require_sim(handle)
    return lambda: datetime.fromtimestamp(sim.clock.wall_ns() / 1e9, tz=UTC)


def make_config(
    sink: WebhookSink | None = None,
    smtp: SmtpServer | None = None,
    am: Alertmanager | None = None,
    **extra: Any,
) -> monitor_config.MonitorConfig:
    receiver: dict[str, Any] = {"name": "default"}
    if sink:
        receiver["webhook"] = [{"url": sink.url}]
    if smtp:
        receiver["email"] = [
            {
                "to": ["ops@example.com"],
                "from": "mlctl@example.com",
                "smarthost": smtp.smarthost,
                "username": smtp.username,
                "password": {"env": "SMTP_PASSWORD"},
                "ca_file": str(smtp.ca_file),
            }
        ]
    data: dict[str, Any] = {
        "intervals": {"rules": 0.1, "actions": 0.1, "probe": 0.2, "publish": 0.2,
                      "alertmanager_resend": "1h"},
        "route": {"receiver": "default", "group_wait": "0s", "group_interval": "1s",
                  "repeat_interval": "24h"},
        "receivers": [receiver],
        "alertmanagers": [am.url] if am else [],
        **extra,
    }  # fmt: skip
    return monitor_config.parse(data, "test")


@contextmanager
def running(
    handle: NomadHandle,
    config: monitor_config.MonitorConfig,
    log_path: Path,
    env: dict[str, str] | None = None,
    clock: Any = None,
    kill: bool = False,
) -> Iterator[Monitor]:
    monitor = Monitor(
        config,
        connector(handle),
        StaticToken(handle.management_token),
        EventLog(log_path, clock or sim_clock(handle)),
        clock=clock or sim_clock(handle),
        env=env or {},
        options=MonitorOptions(nomad_address=handle.address),
        follower_options=FAST_FOLLOWER,
    )
    monitor.start()
    try:
        yield monitor
    finally:
        if kill:  # as if SIGKILLed: no final save, no goodbye
            monitor.stopping.set()
            monitor.follower.close()
        else:
            monitor.stop()


def records(path: Path, kind: str, **match: Any) -> list[dict[str, Any]]:
    return [
        r
        for r in eventlog.read(path)
        if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())
    ]


def crash(handle: NomadHandle, job_id: str, times: int) -> str:
    sim = require_sim(handle)
    alloc = wait_for(
        lambda: next((a for a in sim.allocations(job_id) if a.phase == "running"), None),
        "a running allocation",
    )
    for n in range(times):
        wait_for(lambda: sim.allocations(job_id)[0].phase == "running", f"running before #{n}")
        sim.fail_task(alloc.id)
    return str(alloc.id)


def webhook_statuses(sink: WebhookSink, alertname: str) -> list[str]:
    return [
        a["status"]
        for body in sink.bodies()
        for a in body["alerts"]
        if a["labels"]["alertname"] == alertname
    ]


def test_crash_loop_alert_notifies_everywhere_restarts_once_and_resolves(
    nomad_sim_factory: SimFactory,
    webhook_sink: WebhookSink,
    smtp_server: SmtpServer,
    alertmanager: Alertmanager,
    tmp_path: Path,
) -> None:
    # Alertmanager compares times with its own clock: keep simulated time close to real.
    handle = nomad_sim_factory(time_scale=5.0)
    sim = require_sim(handle)
    # The Alertmanager fixture forwards to the same sink: its bodies say receiver "sink".
    config = make_config(webhook_sink, smtp_server, alertmanager)
    log = tmp_path / "events.jsonl"
    register_model(handle, "iris", alerts=CRASH_ALERTS)
    env = {"SMTP_PASSWORD": smtp_server.password}
    with running(handle, config, log, env) as monitor:
        wait_for(lambda: (monitor.store.snapshot().model("iris") or _no).healthy == 1, "healthy")
        alloc_id = crash(handle, "mlctl-iris", 3)
        wait_for(lambda: records(log, "alert", alertname="ModelCrashLooping"), "the alert")
        wait_for(lambda: "firing" in webhook_statuses(webhook_sink, "ModelCrashLooping"),
                 "the webhook")  # fmt: skip
        wait_for(lambda: smtp_server.messages, "the email")
        wait_for(lambda: [a for a in alertmanager.alerts()
                          if a["labels"]["alertname"] == "ModelCrashLooping"],
                 "Alertmanager")  # fmt: skip
        # The first try may find the task between two crashes ("deferred"); it is retried.
        wait_for(lambda: records(log, "action", action="restart", result="done"), "a restart")
        (action,) = records(log, "action", action="restart", result="done")
        assert action["alert"].startswith("ModelCrashLooping")
        restarts = [
            e
            for state in sim.allocations("mlctl-iris")[0].task_states.values()
            for e in state["Events"]
            if e["Type"] == "Restart Signaled"
        ]
        assert len(restarts) == 1 and sim.allocations("mlctl-iris")[0].id == alloc_id
        sim.advance(150)  # no more crashes: the window empties
        wait_for(lambda: records(log, "alert", alertname="ModelCrashLooping", status="resolved"),
                 "the resolution")  # fmt: skip
        wait_for(lambda: len(smtp_server.messages) >= 2, "the resolution email")
        wait_for(lambda: "resolved" in webhook_statuses(webhook_sink, "ModelCrashLooping"),
                 "the resolved webhook")  # fmt: skip
        wait_for(lambda: monitor.outbox.pending() == [], "every delivery",
                 timeout=20)  # fmt: skip
    # Exactly one firing and one resolved, per receiver; one restart in all.
    ours = [b for b in webhook_sink.bodies() if b["receiver"] == "default"
            and b["groupLabels"].get("alertname") == "ModelCrashLooping"]  # fmt: skip
    assert [b["status"] for b in ours] == ["firing", "resolved"]
    subjects = [m["Subject"] for m in smtp_server.messages if "ModelCrashLooping" in m["Subject"]]
    assert subjects == ["[FIRING:1] ModelCrashLooping iris default",
                        "[RESOLVED:1] ModelCrashLooping iris default"]  # fmt: skip
    assert len(records(log, "action", action="restart", result="done")) == 1


class _No:
    healthy = -1


_no = _No()


def test_a_killed_and_restarted_monitor_neither_misses_nor_repeats(
    nomad_sim_factory: SimFactory, webhook_sink: WebhookSink, tmp_path: Path
) -> None:
    handle = nomad_sim_factory()
    sim = require_sim(handle)
    config = make_config(webhook_sink)
    log = tmp_path / "events.jsonl"
    register_model(handle, "iris", alerts=CRASH_ALERTS)
    with running(handle, config, log, kill=True) as first:
        wait_for(lambda: (first.store.snapshot().model("iris") or _no).healthy == 1, "healthy")
        crash(handle, "mlctl-iris", 3)
        wait_for(lambda: "firing" in webhook_statuses(webhook_sink, "ModelCrashLooping"),
                 "the firing webhook")  # fmt: skip
        wait_for(lambda: records(log, "action", action="restart", result="done"), "the restart")
        wait_for(lambda: first.outbox.pending() == [], "deliveries")
    # Killed mid-incident. While no monitor runs the crash loop ends.
    sim.advance(150)
    with running(handle, config, log) as second:
        wait_for(lambda: "resolved" in webhook_statuses(webhook_sink, "ModelCrashLooping"),
                 "the resolution after the restart")  # fmt: skip
        wait_for(lambda: second.outbox.pending() == [], "deliveries")
        assert any("restored" in r.get("message", "") for r in records(log, "monitor"))
    assert webhook_statuses(webhook_sink, "ModelCrashLooping") == ["firing", "resolved"]
    assert len(records(log, "action", action="restart", result="done")) == 1
    assert len(records(log, "alert", alertname="ModelCrashLooping", status="firing")) == 1


def test_sustained_load_scales_up_then_back_down(
    nomad_sim_factory: SimFactory, tmp_path: Path, model_servers: Any
) -> None:
    handle = nomad_sim_factory()
    sim = require_sim(handle)
    alerts = {
        "actions": {
            "scale": {"min": 1, "max": 3, "in_flight_above": 4, "intervals": 2,
                      "cooldown": "20s", "scale_down_below": 0.5}
        }
    }  # fmt: skip
    use_private_ports(sim)
    register_model(handle, "busy", count=1, alerts=alerts)
    servers = model_servers(sim, "mlctl-busy")
    config = make_config()
    log = tmp_path / "events.jsonl"
    with running(handle, config, log) as monitor:

        def replicas() -> int:
            model = monitor.store.snapshot().model("busy")
            return model.desired if model else -1

        wait_for(lambda: (monitor.store.snapshot().model("busy") or _no).healthy == 1, "up")
        servers.in_flight = 12.0  # 12 per replica: above 4
        wait_for(lambda: replicas() == 3, "scaling up to the maximum", timeout=60)
        servers.in_flight = 0.0
        wait_for(lambda: replicas() == 1, "scaling back down to the minimum", timeout=60)
    scaled = [r for r in records(log, "action", action="scale") if r["result"].startswith("done")]
    assert [r["description"] for r in scaled] == [
        "scale busy to 2", "scale busy to 3", "scale busy to 2", "scale busy to 1"
    ]
    assert "sustained load" in scaled[0]["reason"] and "low load" in scaled[-1]["reason"]


def test_reconcilers_run_on_the_monitor_clock_and_survive_failures(
    nomad_sim_factory: SimFactory, tmp_path: Path
) -> None:
    handle = nomad_sim_factory()
    clock = ManualClock(datetime(2025, 3, 30, 0, 59, tzinfo=UTC))
    runs: list[datetime] = []
    fail = threading.Event()
    fail.set()

    def reconcile(snapshot: Snapshot, now: datetime) -> None:
        assert snapshot.synced
        runs.append(now)
        if fail.is_set():
            fail.clear()
            raise RuntimeError("Nomad said no")

    log = tmp_path / "events.jsonl"
    with running(handle, make_config(), log, clock=clock) as monitor:
        schedule = monitor.add_reconciler("schedule", 30, reconcile)
        wait_for(lambda: len(runs) == 1, "the first run")
        wait_for(lambda: records(log, "reconciler", result="failed"), "the failure logged")
        clock.advance(29)
        schedule.wake_at(clock())
        wait_for(lambda: len(runs) == 2, "a wake-up at a window edge")
        clock.advance(30)
        wait_for(lambda: len(runs) == 3, "the next interval after a clock jump")
    assert runs[1] - runs[0] == timedelta(seconds=29)
    with pytest.raises(ValueError, match="already registered"):
        monitor.add_reconciler("schedule", 1, reconcile)


def test_a_failed_deployment_nomad_did_not_revert_is_reverted_once(
    nomad_sim_factory: SimFactory, tmp_path: Path
) -> None:
    handle = nomad_sim_factory()
    sim = require_sim(handle)
    alerts = {"actions": {"revert": {}}, "rules": {"unreachable": {"enabled": False}}}
    register_model(handle, "iris", alerts=alerts, auto_revert="false")
    log = tmp_path / "events.jsonl"
    with running(handle, make_config(), log) as monitor:
        wait_for(lambda: (monitor.store.snapshot().model("iris") or _no).healthy == 1, "v0 up")
        wait_for(lambda: sim.cluster.job("default", "mlctl-iris")["Stable"], "v0 stable")
        sim.set_behaviour("unhealthy", image="mlctl/runtime:broken")
        register_model(handle, "iris", alerts=alerts, auto_revert="false",
                       image="mlctl/runtime:broken")  # fmt: skip
        wait_for(lambda: records(log, "action", action="revert"), "the revert", timeout=60)
        (revert,) = records(log, "action", action="revert")
        assert revert["result"] == "done: reverted to version 0", revert
        assert revert["alert"].startswith("ModelDeploymentFailed")
        wait_for(lambda: sim.cluster.job("default", "mlctl-iris")["Version"] == 2, "version 2")
        job = sim.cluster.job("default", "mlctl-iris")
        image = job["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
        assert image == "mlctl/runtime:0.1.0-cpu"  # version 2 is version 0 again
        wait_for(lambda: (monitor.store.snapshot().model("iris") or _no).healthy == 1, "v2 up")
    assert len(records(log, "action", action="revert")) == 1
