"""Issue 8's "done when", end to end through the real CLI (``mlctl monitor run`` in a
process of its own) against the Nomad engine, a webhook receiver, a real SMTP server
and a real Alertmanager:

a crash-looping model raises one alert, delivered as an Alertmanager-format webhook,
by email and to Alertmanager; it is restarted once by the action; the monitor is
killed (SIGKILL) mid-incident and started again; the alert resolves when the model
recovers and the resolution is delivered once; a model under sustained load is scaled
up and back down; ``mlctl alerts`` and ``mlctl events`` show what happened; SIGTERM
stops the monitor cleanly. Simulated time runs at real speed here: the monitor in its
own process reads the real clock, as in production.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlctl.monitor import eventlog
from tests.cli_runner import run_cli
from tests.integration.monitor_servers import (
    Alertmanager,
    SmtpServer,
    WebhookSink,
    use_private_ports,
)
from tests.integration.monitor_support import register_model, wait_for
from tests.simulators.nomad.fixtures import SimFactory, require_sim

CONFIG = """
intervals: {rules: 0.2s, probe: 0.5s, actions: 0.2s, publish: 0.5s}
stream: {heartbeat_timeout: 10s}
route:
  receiver: default
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
"""
IRIS_ALERTS = {
    "rules": {"crash_loop": {"restarts": 3, "window": "15s"}, "unreachable": {"enabled": False}},
    "actions": {"restart": {"max_restarts": 1, "cooldown": "1m"}},
}
BUSY_ALERTS = {
    "actions": {
        "scale": {"min": 1, "max": 3, "in_flight_above": 4, "intervals": 2, "cooldown": "2s",
                  "scale_down_below": 0.5}
    }
}  # fmt: skip
FAST = {"min_healthy": "1s", "restart_delay": "1s"}


class Monitor:
    """``mlctl monitor run`` as a child process."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.output = log.with_suffix(f".{len(list(log.parent.glob('*.out')))}.out")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlctl", "-o", "json", "monitor", "run", *args],
            env=env,
            stdout=self.output.open("w"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def records(log: Path, kind: str, **match: Any) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [
        r
        for r in eventlog.read(log)
        if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())
    ]


def hooks(sink: WebhookSink, alertname: str) -> list[str]:
    return [
        b["status"]
        for b in sink.bodies()
        if b["receiver"] == "default" and b["groupLabels"].get("alertname") == alertname
    ]


def test_monitor_story(
    nomad_sim_factory: SimFactory,
    webhook_sink: WebhookSink,
    smtp_server: SmtpServer,
    alertmanager: Alertmanager,
    model_servers: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handle = nomad_sim_factory(time_scale=1.0)
    sim = require_sim(handle)
    config = tmp_path / "monitor.yaml"
    config.write_text(CONFIG)
    log = tmp_path / "events.jsonl"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "VAULT_"))},
        "NOMAD_ADDR": handle.address,
        "MLCTL_STATE_DIR": str(tmp_path / "state"),
        "MLCTL_SMTP_HOST": smtp_server.smarthost,
        "MLCTL_SMTP_USER": smtp_server.username,
        "MLCTL_SMTP_PASSWORD": smtp_server.password,
        "MLCTL_SMTP_CA_FILE": str(smtp_server.ca_file),
        "MLCTL_SMTP_FROM": "mlctl@example.com",
    }
    args = ["--config", str(config), "--webhook", webhook_sink.url,
            "--alertmanager", alertmanager.url, "--email-to", "ops@example.com",
            "--event-log", str(log)]  # fmt: skip
    use_private_ports(sim)
    register_model(handle, "iris", alerts=IRIS_ALERTS, **FAST)
    register_model(handle, "busy", alerts=BUSY_ALERTS, **FAST)
    busy = model_servers(sim, "mlctl-busy")

    first = Monitor(args, env, log)
    wait_for(lambda: records(log, "monitor", message="following the event stream"), "start")
    wait_for(lambda: sim.allocations("mlctl-iris") and
             sim.allocations("mlctl-iris")[0].phase == "running", "iris running")  # fmt: skip
    alloc = sim.allocations("mlctl-iris")[0]
    for n in range(3):
        wait_for(lambda: alloc.phase == "running", f"iris running before crash {n}")
        sim.fail_task(alloc.id)

    # One alert, delivered three ways, and one restart.
    wait_for(lambda: hooks(webhook_sink, "ModelCrashLooping") == ["firing"], "the webhook")
    wait_for(lambda: any("FIRING" in m["Subject"] for m in smtp_server.messages), "the email")
    in_am = wait_for(lambda: _named(alertmanager.alerts()), "Alertmanager")
    wait_for(lambda: records(log, "action", action="restart", result="done"), "the restart")

    # mlctl alerts (another process's view, through Nomad) shows the same alert.
    monkeypatch.setenv("NOMAD_ADDR", handle.address)
    shown = wait_for(lambda: _firing(run_cli(["-o", "json", "alerts"])), "mlctl alerts")
    assert shown[0]["fingerprint"] == in_am[0]["fingerprint"]
    assert shown[0]["labels"]["model"] == "iris" and shown[0]["endsAt"] is None

    # Killed mid-incident; the model recovers while no monitor runs.
    first.kill()
    wait_for(lambda: alloc.phase == "running", "iris running")
    restarted = Monitor(args, env, log)
    wait_for(lambda: hooks(webhook_sink, "ModelCrashLooping") == ["firing", "resolved"],
             "the resolution", timeout=60)  # fmt: skip
    wait_for(lambda: any("RESOLVED" in m["Subject"] for m in smtp_server.messages), "email")
    wait_for(
        lambda: any(b["status"] == "resolved" and b["receiver"] == "sink"
                    for b in alertmanager.sink.bodies()),
        "Alertmanager's resolution",
    )  # fmt: skip

    # Sustained load scales busy up to its maximum, then back down when it goes.
    busy.in_flight = 12.0
    wait_for(lambda: sim.cluster.jobs[("default", "mlctl-busy")]["TaskGroups"][0]["Count"] == 3,
             "scaling up", timeout=60)  # fmt: skip
    busy.in_flight = 0.0
    wait_for(lambda: sim.cluster.jobs[("default", "mlctl-busy")]["TaskGroups"][0]["Count"] == 1,
             "scaling down", timeout=60)  # fmt: skip

    assert restarted.terminate() == 0
    assert hooks(webhook_sink, "ModelCrashLooping") == ["firing", "resolved"]
    subjects = [m["Subject"] for m in smtp_server.messages if "ModelCrashLooping" in m["Subject"]]
    assert subjects == ["[FIRING:1] ModelCrashLooping iris default",
                        "[RESOLVED:1] ModelCrashLooping iris default"]  # fmt: skip
    assert len(records(log, "action", action="restart", result="done")) == 1
    assert len(records(log, "alert", alertname="ModelCrashLooping", status="firing")) == 1
    scaled = [r["description"] for r in records(log, "action", action="scale")
              if r["result"].startswith("done")]  # fmt: skip
    assert scaled == ["scale busy to 2", "scale busy to 3", "scale busy to 2", "scale busy to 1"]

    listed = run_cli(["events", "--event-log", str(log), "--model", "iris", "--kind", "action"])
    assert listed.status == 0 and "ACTION   restart allocation" in listed.stdout
    everything = run_cli(["-o", "json", "alerts", "--all", "--model", "iris"])
    assert [a["status"] for a in json.loads(everything.stdout)] == ["resolved"]
    for out in tmp_path.glob("*.out"):
        assert smtp_server.password not in out.read_text()


def _named(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["labels"]["alertname"] == "ModelCrashLooping"]


def _firing(result: Any) -> list[dict[str, Any]]:
    return _named(json.loads(result.stdout)) if result.status == 0 else []
