"""The reconciler against the Nomad engine over HTTP, with the schedule's clock injected.

Nomad's own clock is irrelevant to a schedule: each pass is handed the instant it
evaluates at, so a test walks through March and October DST changes without sleeping.
Between passes we only wait for Nomad to finish what the last scaling started (a
scaling during an active deployment is refused with 400 and retried next pass).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from mlctl.schedule.reconciler import PassResult, Reconciler, jobs_from_nomad
from mlctl.session import nomad_client_with_token
from mlctl.settings import load_settings
from tests.e2e.support import make_bundle, mlctl, mlctl_json, use_cluster

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = "Mon-Fri 09:00-18:00 Europe/Berlin"
PASS_DEADLINE = 120.0


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


class Harness:
    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self.client = nomad_client_with_token(load_settings({}), cluster.management_token)
        self.events: list[tuple[str, dict[str, Any]]] = []

    def reconciler(self) -> Reconciler:
        return Reconciler(self.client, event_log=lambda kind, **f: self.events.append((kind, f)))

    def run(self, reconciler: Reconciler, now: datetime) -> PassResult:
        """One pass; then wait until Nomad has placed or stopped what it asked for."""
        items = reconciler.source.refresh()
        result = reconciler.run_pass(jobs_from_nomad(self.client, items), now)
        for action in result.scaled:
            self.wait_running(action.target)
        return result

    def converge(self, reconciler: Reconciler, now: datetime) -> list[PassResult]:
        """Passes at ``now`` until nothing is left to do (as successive intervals would)."""
        results = []
        deadline = time.monotonic() + PASS_DEADLINE
        while time.monotonic() < deadline:
            result = self.run(reconciler, now)
            results.append(result)
            if not result.actions:
                return results
            time.sleep(0.1)
        pytest.fail(f"the reconciler did not converge at {now}")

    def count(self) -> int:
        job = self.client.jobs.read("mlctl-iris")
        return int(job["TaskGroups"][0]["Count"])

    def running(self) -> int:
        allocs, _ = self.client.jobs.allocations("mlctl-iris")
        return sum(
            1 for a in allocs if a.get("ClientStatus") == "running" and a["DesiredStatus"] == "run"
        )

    def wait_running(self, count: int) -> None:
        deadline = time.monotonic() + PASS_DEADLINE
        while time.monotonic() < deadline:
            if self.running() == count and not self.active_deployment():
                return
            time.sleep(0.1)
        pytest.fail(f"Nomad did not settle at {count} running allocations")

    def active_deployment(self) -> bool:
        deployment, _ = self.client.jobs.latest_deployment("mlctl-iris")
        return bool(deployment) and deployment.get("Status") == "running"

    def scaling_messages(self) -> list[str]:
        answer = requests.get(
            f"{self.cluster.address}/v1/job/mlctl-iris/scale",
            headers={"X-Nomad-Token": self.cluster.management_token or ""},
            timeout=10,
        ).json()
        return [e["Message"] for e in answer["TaskGroups"]["model"]["Events"] or []]


@pytest.fixture
def harness(nomad_cluster, tmp_path, monkeypatch) -> Harness:
    use_cluster(monkeypatch, nomad_cluster, tmp_path / "store")
    deployed = mlctl("deploy", str(make_bundle(tmp_path, "iris")), "--timeout", "120")
    assert deployed.status == 0, deployed.stderr
    return Harness(nomad_cluster)


def add(*flags: str) -> None:
    result = mlctl("schedule", "add", "iris", *flags)
    assert result.status == 0, result.stderr


def test_office_hours_across_the_march_and_october_changes(harness):
    add("--window", OFFICE, "--replicas", "2")
    rec = harness.reconciler()
    steps = [
        (berlin(2024, 3, 29, 8, 59), 0),  # Friday before the March change: closed
        (berlin(2024, 3, 29, 9, 0), 2),
        (berlin(2024, 3, 29, 17, 59), 2),
        (berlin(2024, 3, 29, 18, 0), 0),
        (berlin(2024, 3, 31, 3, 30), 0),  # Sunday, just after the clocks jumped
        (utc(2024, 4, 1, 6, 59), 0),  # Monday 08:59 CEST
        (utc(2024, 4, 1, 7, 0), 2),  # Monday 09:00 CEST
        (utc(2024, 4, 1, 16, 0), 0),  # 18:00 CEST
        (utc(2024, 10, 28, 7, 59), 0),  # Monday after the October change, 08:59 CET
        (utc(2024, 10, 28, 8, 0), 2),  # 09:00 CET
        (utc(2024, 10, 28, 17, 0), 0),  # 18:00 CET
    ]
    for now, expected in steps:
        harness.converge(rec, now)
        assert harness.count() == expected, now
        assert harness.running() == expected, now
    assert harness.scaling_messages()[:2] == [
        "mlctl schedule: window Mon-Fri 09:00-18:00 Europe/Berlin closed",
        "mlctl schedule: window Mon-Fri 09:00-18:00 Europe/Berlin opened",
    ]
    scaled = [f["replicas"] for _, f in harness.events if f.get("event") == "scaled"]
    assert scaled == [0, 2, 0, 2, 0, 2, 0]  # every transition once, never twice


def test_a_monitor_restarted_after_the_edge_scales_up_at_once(harness):
    add("--window", OFFICE, "--replicas", "2")
    first = harness.reconciler()
    harness.converge(first, berlin(2024, 5, 6, 8, 59))
    assert harness.count() == 0
    del first  # killed at 08:59, missed the 09:00 edge
    restarted = harness.reconciler()
    result = harness.run(restarted, berlin(2024, 5, 6, 9, 3))
    assert [(a.current, a.target) for a in result.scaled] == [(0, 2)]
    assert harness.running() == 2
    assert harness.run(restarted, berlin(2024, 5, 6, 9, 3, 30)).actions == []  # no flapping


def test_overlapping_windows_and_a_window_across_midnight(harness):
    add("--window", "Mon-Fri 09:00-18:00 UTC", "--replicas", "1")
    add("--window", "Fri 12:00-14:00 UTC", "--replicas", "3")
    add("--window", "Fri 22:00-02:00 UTC", "--replicas", "2")
    rec = harness.reconciler()
    for now, expected in [
        (utc(2024, 5, 10, 10, 0), 1),
        (utc(2024, 5, 10, 12, 0), 3),  # overlap: the larger count
        (utc(2024, 5, 10, 14, 0), 1),
        (utc(2024, 5, 10, 18, 0), 0),
        (utc(2024, 5, 10, 22, 0), 2),
        (utc(2024, 5, 11, 1, 59), 2),  # Saturday morning, still Friday's window
        (utc(2024, 5, 11, 2, 0), 0),
    ]:
        harness.converge(rec, now)
        assert harness.count() == expected, now


def test_scaling_during_a_deployment_is_retried_next_pass(harness):
    add("--window", OFFICE, "--replicas", "2")
    rec = harness.reconciler()
    harness.converge(rec, berlin(2024, 5, 6, 8, 0))
    sim = harness.cluster.sim
    if sim is None:
        pytest.skip("needs the engine's steering (a deployment kept running)")
    sim.set_behaviour("unhealthy", job="mlctl-iris")
    items = rec.source.refresh()
    first = rec.run_pass(jobs_from_nomad(harness.client, items), berlin(2024, 5, 6, 9, 0))
    assert [a.target for a in first.scaled] == [2]
    second = rec.run_pass(jobs_from_nomad(harness.client, items), berlin(2024, 5, 6, 9, 0, 30))
    # The count is already 2 in the job, so there is nothing to retry yet; a closing
    # window during the stuck deployment is refused by Nomad and deferred.
    assert second.actions == []
    third = rec.run_pass(jobs_from_nomad(harness.client, items), berlin(2024, 5, 6, 18, 0))
    assert [a.target for a in third.deferred] == [0]
    assert any(f.get("event") == "deferred" for _, f in harness.events)


def test_paused_and_overridden_models_are_left_alone(harness):
    add("--window", OFFICE, "--replicas", "2")
    assert mlctl("schedule", "pause", "iris").status == 0
    rec = harness.reconciler()
    assert harness.run(rec, berlin(2024, 5, 6, 10, 0)).actions == []
    assert harness.count() == 1
    assert mlctl("schedule", "resume", "iris").status == 0
    harness.converge(rec, berlin(2024, 5, 6, 10, 0))
    assert harness.count() == 2


def test_a_manual_scale_is_an_override_until_the_next_transition(harness):
    now = datetime.now(UTC).replace(microsecond=0)
    opens, closes = now - timedelta(hours=1), now + timedelta(hours=1)
    add("--from", opens.isoformat(), "--until", closes.isoformat(), "--replicas", "2")
    rec = harness.reconciler()
    harness.converge(rec, now)
    assert harness.count() == 2
    status, scaled = mlctl_json("scale", "iris", "3")
    assert status == 0 and scaled["override_recorded"] is True
    assert scaled["override_until"] == closes.strftime("%Y-%m-%dT%H:%M:%SZ")
    harness.wait_running(3)
    _, rows = mlctl_json("schedule", "list")
    assert rows[0]["state"].startswith("override 3 until ")
    assert harness.run(rec, now + timedelta(minutes=30)).actions == []  # never undone mid-window
    assert harness.count() == 3
    harness.converge(rec, closes)  # the next transition: the schedule takes over again
    assert harness.count() == 0


# --- deploy of a scheduled model ------------------------------------------------------


def scheduled_bundle(tmp_path, windows, version="1.0.0", replicas=2):
    import yaml

    bundle = make_bundle(tmp_path, "iris", version=version, replicas=replicas)
    config_file = bundle / "mlctl.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["schedule"] = windows
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return bundle


@pytest.fixture
def cluster(nomad_cluster, tmp_path, monkeypatch):
    use_cluster(monkeypatch, nomad_cluster, tmp_path / "store")
    return Harness(nomad_cluster)


def test_deploy_outside_the_window_registers_zero_and_the_monitor_starts_it(cluster, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    opens, closes = now + timedelta(hours=2), now + timedelta(hours=4)  # like 20:00 for 09:00
    window = {"from": opens.isoformat(), "until": closes.isoformat()}
    result = mlctl("deploy", str(scheduled_bundle(tmp_path, [window])), "--timeout", "120")
    assert result.status == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "outside its windows" in line]
    assert len(lines) == 1 and "registered with 0 replicas, not started" in lines[0]
    assert cluster.count() == 0 and cluster.running() == 0
    status, shown = mlctl_json("schedule", "show", "iris")
    assert status == 0 and shown["windows"] == [f"{opens.isoformat()} until {closes.isoformat()}"]
    rec = cluster.reconciler()
    cluster.converge(rec, opens)
    assert cluster.count() == 2  # the bundle's replicas, inside the window
    # A new version deployed now (still before the window) registers what the schedule
    # wants now, not the live count.
    bundle = scheduled_bundle(tmp_path, [window], version="2.0.0", replicas=2)
    again = mlctl("deploy", str(bundle), "--timeout", "120")
    assert again.status == 0, again.stderr
    assert cluster.count() == 0  # real now is still before the window: the schedule says 0


def test_deploy_inside_the_window_uses_the_windows_replicas(cluster, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    window = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(hours=1)).isoformat(),
        "replicas": 3,
    }
    result = mlctl(
        "deploy", str(scheduled_bundle(tmp_path, [window], replicas=1)), "--timeout", "120"
    )
    assert result.status == 0, result.stderr
    assert "registered with 3 replicas until" in result.stderr
    assert cluster.count() == 3
    override = mlctl(
        "deploy",
        str(scheduled_bundle(tmp_path, [window], version="1.1.0")),
        "--replicas",
        "1",
        "--timeout",
        "120",
    )
    assert override.status == 0, override.stderr
    assert "--replicas 1 holds until" in override.stderr
    _, rows = mlctl_json("schedule", "list")
    assert rows[0]["state"].startswith("override 1 until")
