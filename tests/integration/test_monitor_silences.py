"""The whole monitor honours a silence written as ``mlctl tui`` writes it (the Nomad
Variable mlctl/alerts/notes/<fingerprint>): the alert fires, is listed as silenced in
what ``mlctl alerts`` reads, reaches no receiver, and is notified once the silence
ends. Debian's Alertmanager gets a silence of its own, lifted when the operator lifts
ours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlctl.bundle.alerts import Rules
from mlctl.monitor import notes, published
from mlctl.monitor.alerts import fingerprint
from mlctl.nomad.client import NomadClient
from tests.integration.monitor_servers import Alertmanager, WebhookSink
from tests.integration.monitor_support import register_model, wait_for
from tests.integration.test_monitor_engine import (
    crash,
    make_config,
    records,
    running,
    webhook_statuses,
)
from tests.integration.test_monitor_follower import connector
from tests.simulators.nomad.fixtures import SimFactory, require_sim

# A long window keeps the crash loop firing across the jump past the silence's end.
LOOPING = {"rules": {"crash_loop": {"restarts": 3, "window": "1h"},
                     "unreachable": {"enabled": False}}}  # fmt: skip
SILENCE = timedelta(minutes=20)


def published_alert(client: NomadClient, fp: str) -> dict[str, Any] | None:
    try:
        page = published.alerts(client, "default")
    except Exception:  # not published yet
        return None
    return next((a for a in page.records if a.get("fingerprint") == fp), None)


def crash_loop_labels(handle: Any) -> dict[str, str]:
    """The labels the crash-loop alert of iris's running allocation will have."""
    sim = require_sim(handle)
    running_alloc = wait_for(
        lambda: next((a for a in sim.allocations("mlctl-iris") if a.phase == "running"), None),
        "a running allocation",
    )
    return {
        "model": "iris",
        "namespace": "default",
        "job": "mlctl-iris",
        "alloc": running_alloc.id,
        "node": running_alloc.node["Name"],
        "alertname": "ModelCrashLooping",
        "severity": Rules().crash_loop.severity,
    }


def silence_now(handle: Any, labels: dict[str, str]) -> tuple[NomadClient, str]:
    """Save a note as the TUI's "s" does (before the alert even fires); its fingerprint."""
    sim = require_sim(handle)
    fp = fingerprint(labels)
    now = datetime.fromtimestamp(sim.clock.wall_ns() / 1e9, tz=UTC)
    client = connector(handle)(handle.management_token)
    note = notes.AlertNote(
        fp, "default", labels, silenced_until=now + SILENCE, silenced_by="ana"
    )
    notes.save(client, note)
    return client, fp


def test_a_silenced_alert_fires_is_listed_and_waits_for_the_silence_to_end(
    nomad_sim_factory: SimFactory, webhook_sink: WebhookSink, tmp_path: Path
) -> None:
    handle = nomad_sim_factory(time_scale=10.0)
    sim = require_sim(handle)
    register_model(handle, "iris", alerts=LOOPING, restart_delay="2s")
    client, fp = silence_now(handle, crash_loop_labels(handle))
    log = tmp_path / "events.jsonl"
    with running(handle, make_config(webhook_sink), log) as monitor:
        wait_for(lambda: fp in monitor.silences.notes, "the monitor reading the silence")
        crash(handle, "mlctl-iris", 3)
        (fired,) = wait_for(
            lambda: records(log, "alert", alertname="ModelCrashLooping", status="firing"),
            "the alert firing",
        )
        assert fired["fingerprint"] == fp
        shown = wait_for(
            lambda: (published_alert(client, fp) or {}).get("silenced") and published_alert(
                client, fp
            ),
            "mlctl alerts listing it as silenced",
        )
        assert shown["status"] == "firing"
        assert shown["silenced"]["by"] == "ana"
        # Several passes of the loop later, still nothing was sent or is waiting.
        passes = monitor.last_pass
        wait_for(lambda: monitor.last_pass > passes + 0.3, "a few more passes of the loop")
        assert monitor.outbox.pending() == []
        assert webhook_statuses(webhook_sink, "ModelCrashLooping") == []
        # The silence ends (simulated time jumps past it): the alert is told once.
        sim.advance(SILENCE.total_seconds() + 1)
        wait_for(
            lambda: webhook_statuses(webhook_sink, "ModelCrashLooping") == ["firing"],
            "the notification once the silence ended",
        )
        wait_for(
            lambda: "silenced" not in (published_alert(client, fp) or {"silenced": 1}),
            "mlctl alerts no longer listing it as silenced",
        )
    assert webhook_statuses(webhook_sink, "ModelCrashLooping") == ["firing"]


def test_alertmanager_gets_the_silence_and_its_early_end(
    nomad_sim_factory: SimFactory, alertmanager: Alertmanager, tmp_path: Path
) -> None:
    # Alertmanager judges silences by its own clock: simulated time runs at real speed.
    handle = nomad_sim_factory(time_scale=1.0)
    register_model(handle, "iris", alerts=LOOPING, restart_delay="1s")
    client, fp = silence_now(handle, crash_loop_labels(handle))
    # No receivers of the monitor's own: only Alertmanager (which forwards to the sink).
    with running(handle, make_config(am=alertmanager), tmp_path / "events.jsonl") as monitor:
        wait_for(lambda: fp in monitor.silences.notes, "the monitor reading the silence")
        crash(handle, "mlctl-iris", 3)
        listed = wait_for(
            lambda: [a for a in alertmanager.alerts() if a["fingerprint"] == fp],
            "Alertmanager listing the alert",
        )
        assert listed[0]["status"]["state"] == "suppressed" and listed[0]["status"]["silencedBy"]
        # Alertmanager notifies at once (group_wait 0s) what is not silenced: nothing came.
        wait_for(lambda: monitor.outbox.pending() == [], "every delivery made")
        assert webhook_statuses(alertmanager.sink, "ModelCrashLooping") == []
        notes.delete(client, "default", fp)  # the operator lifts the silence early
        wait_for(
            lambda: webhook_statuses(alertmanager.sink, "ModelCrashLooping") == ["firing"],
            "Alertmanager notifying once its silence was lifted",
        )
        (shown,) = [a for a in alertmanager.alerts() if a["fingerprint"] == fp]
        assert shown["status"]["state"] == "active"
