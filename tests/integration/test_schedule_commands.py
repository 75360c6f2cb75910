"""mlctl schedule add/list/show/next/rm/pause/resume against the Nomad engine over HTTP,
the check-and-set store, and the Nomad ACL policies that guard schedules."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from mlctl.access.policy_files import data_scientist_nomad_policy, nomad_role_policies
from mlctl.errors import ExitStatus
from mlctl.nomad.variables import VariableConflict
from mlctl.schedule import store
from mlctl.schedule.spec import StoredSchedule
from mlctl.session import nomad_client_with_token
from mlctl.settings import load_settings
from tests.e2e.support import mlctl, mlctl_json, use_cluster

OFFICE = "Mon-Fri 09:00-18:00 Europe/Berlin"


@pytest.fixture
def cluster(nomad_cluster, tmp_path, monkeypatch):
    use_cluster(monkeypatch, nomad_cluster, tmp_path / "store")
    return nomad_cluster


def variable(cluster: Any, model: str, namespace: str = "default") -> dict[str, Any] | None:
    headers = {"X-Nomad-Token": cluster.management_token} if cluster.management_token else {}
    answer = requests.get(
        f"{cluster.address}/v1/var/mlctl/schedules/{model}",
        params={"namespace": namespace},
        headers=headers,
        timeout=10,
    )
    return None if answer.status_code == 404 else answer.json()


def test_add_stores_the_window_in_nomad_variables(cluster):
    status, shown = mlctl_json("schedule", "add", "iris", "--window", OFFICE, "--replicas", "2")
    assert status == 0
    assert shown["windows"] == [OFFICE]
    var = variable(cluster, "iris")
    assert var is not None and set(var["Items"]) == {"schedule"}
    doc = StoredSchedule.model_validate_json(var["Items"]["schedule"])
    assert doc.windows[0].window == OFFICE and doc.windows[0].replicas == 2
    assert doc.replicas == 1  # not deployed: windows without replicas would run 1


def test_next_answers_from_any_instant(cluster):
    assert mlctl("schedule", "add", "iris", "--window", OFFICE).status == 0
    status, found = mlctl_json(
        "schedule", "next", "iris", "--at", "2024-10-25T12:00:00+02:00", "-n", "3"
    )
    assert status == 0
    assert found == [
        {"at": "2024-10-25T16:00:00Z", "replicas": 0},  # Friday 18:00 CEST
        {"at": "2024-10-28T08:00:00Z", "replicas": 1},  # Monday 09:00 CET, after the change
        {"at": "2024-10-28T17:00:00Z", "replicas": 0},
    ]
    table = mlctl("schedule", "next", "iris", "--at", "2024-10-25T12:00:00+02:00")
    assert "Mon 2024-10-28 09:00 CET (08:00Z)" in table.stdout


def test_list_and_show(cluster):
    assert mlctl("schedule", "add", "iris", "--window", OFFICE, "--replicas", "2").status == 0
    assert mlctl("schedule", "add", "iris", "--window", "Sat 10:00-12:00 UTC").status == 0
    status, rows = mlctl_json("schedule", "list", "--at", "2024-05-06T09:30:00+02:00")
    assert status == 0
    (row,) = rows
    assert row["model"] == "iris" and row["namespace"] == "default"
    assert row["state"] == "up 2" and row["scheduled"] == 2
    assert row["next_stop"]["at"] == "2024-05-06T16:00:00Z"
    assert row["next_stop"]["local"] == "Mon 2024-05-06 18:00 CEST (16:00Z)"
    status, shown = mlctl_json("schedule", "show", "iris", "--at", "2024-05-11T11:00:00Z")
    assert [w["label"] for w in shown["detail"]] == [OFFICE, "Sat 10:00-12:00 UTC"]
    assert [w["open_now"] for w in shown["detail"]] == [False, True]
    text = mlctl("schedule", "show", "iris").stdout
    assert "Sat 10:00-12:00 UTC" in text and "next start:" in text


def test_bad_windows_are_one_line_naming_window_and_field(cluster):
    cases = [
        (["--window", "Mon-Fry 09:00-18:00 Europe/Berlin"], "days: unknown day 'Fry'"),
        (["--window", "Mon-Fri 09:00-18:00 Europe/Berln"], "tz: unknown time zone 'Europe/Berln'"),
        (["--start", "0 9 * * 1-5", "--stop", "0 9 * * 1-5", "--tz", "UTC"], "same times"),
        (["--start", "0 9 * *", "--stop", "0 18 * * *", "--tz", "UTC"], "start: '0 9 * *' has 4"),
        (
            ["--from", "2025-01-02T00:00:00Z", "--until", "2025-01-01T00:00:00Z"],
            "is not before until",
        ),
        (["--from", "2025-01-02T00:00:00"], "from: '2025-01-02T00:00:00' needs an offset"),
        ([], "write exactly one form"),
    ]
    for flags, words in cases:
        result = mlctl("schedule", "add", "iris", *flags)
        assert result.status == ExitStatus.INVALID, (flags, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mlctl: error: window "), lines
        assert words in lines[0], lines
    assert variable(cluster, "iris") is None  # nothing half-written


def test_duplicate_missing_and_removal(cluster):
    assert mlctl("schedule", "add", "iris", "--window", OFFICE).status == 0
    assert mlctl("schedule", "add", "iris", "--window", OFFICE).status == ExitStatus.CONFLICT
    assert mlctl("schedule", "add", "iris", "--window", "Sat 10:00-12:00 UTC").status == 0
    assert mlctl("schedule", "rm", "iris", "--window", "3").status == ExitStatus.NOT_FOUND
    assert mlctl("schedule", "rm", "iris", "--window", "1").status == 0
    _, shown = mlctl_json("schedule", "show", "iris")
    assert shown["windows"] == ["Sat 10:00-12:00 UTC"]
    assert mlctl("schedule", "rm", "iris", "--window", "Sat 10:00-12:00 UTC").status == 0
    assert variable(cluster, "iris") is None
    missing = mlctl("schedule", "show", "iris")
    assert missing.status == ExitStatus.NOT_FOUND and "no schedule" in missing.stderr
    assert mlctl("schedule", "rm", "iris").status == ExitStatus.NOT_FOUND
    assert mlctl("schedule", "show", "../etc").status == ExitStatus.INVALID


def test_pause_and_resume(cluster):
    assert mlctl("schedule", "add", "iris", "--window", OFFICE).status == 0
    assert mlctl("schedule", "pause", "iris").status == 0
    _, rows = mlctl_json("schedule", "list")
    assert rows[0]["state"] == "paused" and rows[0]["effective"] is None
    assert mlctl("schedule", "resume", "iris").status == 0
    _, rows = mlctl_json("schedule", "list")
    assert rows[0]["paused"] is False


def test_a_lost_check_and_set_race_is_retried_not_overwritten(cluster):
    client = nomad_client_with_token(load_settings({}), cluster.management_token)
    assert mlctl("schedule", "add", "iris", "--window", OFFICE).status == 0
    calls = []

    def change(doc):
        calls.append(doc)
        if len(calls) == 1:  # someone else writes between our read and our write
            assert mlctl("schedule", "add", "iris", "--window", "Sun 10:00-11:00 UTC").status == 0
        return doc.model_copy(update={"idle_replicas": 1})

    result = store.update(client, "iris", change)
    assert len(calls) == 2 and len(calls[1].windows) == 2
    assert result is not None and len(result.windows) == 2 and result.idle_replicas == 1
    entry = store.read(client, "iris")
    assert entry is not None and entry.doc.idle_replicas == 1 and len(entry.doc.windows) == 2
    with pytest.raises(VariableConflict):
        client.variables.write(
            store.path_for("iris"), {"schedule": entry.doc.to_json()}, cas=entry.modify_index - 1
        )


def test_a_corrupt_variable_is_named(cluster):
    client = nomad_client_with_token(load_settings({}), cluster.management_token)
    client.variables.write(store.path_for("iris"), {"schedule": "{not json"})
    result = mlctl("schedule", "show", "iris")
    assert result.status == ExitStatus.INVALID
    assert "variable mlctl/schedules/iris in namespace default" in result.stderr


# --- ACL policies: each role gets exactly what it needs --------------------------------


@pytest.fixture
def acl(nomad_sim_factory, tmp_path, monkeypatch):
    handle = nomad_sim_factory(acl=True)
    use_cluster(monkeypatch, handle, tmp_path / "store")
    admin = handle.client()
    headers = {"X-Nomad-Token": handle.management_token}
    for name in ("team-a", "team-b"):
        requests.post(
            f"{handle.address}/v1/namespace", json={"Name": name}, headers=headers, timeout=5
        ).raise_for_status()
    policies = {**nomad_role_policies(), "ds-team-a": data_scientist_nomad_policy("team-a")}
    for name, rules in policies.items():
        admin.acl.create_policy(name, {"Name": name, "Rules": rules})
    tokens = {}
    for role, policy in (
        ("ds", "ds-team-a"),
        ("viewer", "mlctl-viewer"),
        ("monitor", "mlctl-monitor"),
        ("operator", "mlctl-operator"),
    ):
        created = admin.acl.create_token({"Name": role, "Type": "client", "Policies": [policy]})
        tokens[role] = created["SecretID"]
    return tokens


def as_role(monkeypatch, token: str, *args: str):
    monkeypatch.setenv("NOMAD_TOKEN", token)
    return mlctl(*args)


def test_policies_grant_schedules_to_exactly_the_right_roles(acl, monkeypatch):
    add = ("schedule", "add", "iris", "--window", OFFICE)
    assert as_role(monkeypatch, acl["ds"], *add, "--namespace", "team-a").status == 0
    denied = as_role(monkeypatch, acl["ds"], *add, "--namespace", "team-b")
    assert denied.status == ExitStatus.PERMISSION, denied.stderr
    assert as_role(monkeypatch, acl["operator"], *add, "--namespace", "team-b").status == 0
    # Another team's schedules stay invisible (Nomad filters what a token may not list).
    peek = as_role(monkeypatch, acl["ds"], "schedule", "list", "--namespace", "team-b")
    assert "iris" not in peek.stdout
    peek = as_role(monkeypatch, acl["ds"], "schedule", "show", "iris", "--namespace", "team-b")
    assert peek.status == ExitStatus.PERMISSION
    viewer = as_role(monkeypatch, acl["viewer"], "-o", "json", "schedule", "list", "-A")
    assert viewer.status == 0
    other = ("schedule", "add", "iris", "--window", "Sun 10:00-11:00 UTC", "--namespace", "team-a")
    assert as_role(monkeypatch, acl["viewer"], *other).status == ExitStatus.PERMISSION
    monitor = as_role(monkeypatch, acl["monitor"], "-o", "json", "schedule", "list", "-A")
    assert monitor.status == 0, monitor.stderr
    assert monitor.stdout.count('"model": "iris"') == 2  # team-a and team-b
    rm = as_role(monkeypatch, acl["monitor"], "schedule", "rm", "iris", "--namespace", "team-a")
    assert rm.status == ExitStatus.PERMISSION


def test_report_from_the_monitors_probe_history(cluster, tmp_path):
    import json
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0)
    opens, closes = now - timedelta(hours=3), now - timedelta(hours=1)
    flags = ["--from", opens.isoformat(), "--until", closes.isoformat()]
    assert mlctl("schedule", "add", "iris", *flags).status == 0
    log = tmp_path / "events.jsonl"
    records = [
        {
            "kind": "probe",
            "model": "iris",
            "namespace": "default",
            "ready": 0,
            "time": (opens - timedelta(minutes=5)).isoformat(),
        },
        {
            "kind": "probe",
            "model": "iris",
            "namespace": "default",
            "ready": 1,
            "time": (opens + timedelta(seconds=30)).isoformat(),
        },
        {
            "kind": "probe",
            "model": "other",
            "namespace": "default",
            "ready": 0,
            "time": (opens + timedelta(minutes=1)).isoformat(),
        },
        {
            "kind": "probe",
            "model": "iris",
            "namespace": "default",
            "ready": 0,
            "time": (closes + timedelta(seconds=12)).isoformat(),
        },
    ]
    log.write_text("\n".join(json.dumps(r) for r in records) + "\n{partial")
    status, answer = mlctl_json(
        "schedule", "report", "iris", "--since", "1d", "--event-log", str(log)
    )
    assert status == 0
    (row,) = answer["windows"]
    assert row["healthy_after_s"] == 30.0 and row["stopped_after_s"] == 12.0
    assert row["answered_fraction"] == round((7200 - 30) / 7200, 4)
    table = mlctl("schedule", "report", "iris", "--event-log", str(log))
    assert "99.6%" in table.stdout
    missing = mlctl("schedule", "report", "iris", "--event-log", str(tmp_path / "none.jsonl"))
    assert missing.status == ExitStatus.NOT_FOUND and "no such event log" in missing.stderr
    (tmp_path / "empty.jsonl").write_text("")
    empty = mlctl("schedule", "report", "iris", "--event-log", str(tmp_path / "empty.jsonl"))
    assert empty.status == 0 and "no probe history" in empty.stderr
    bad = mlctl("schedule", "report", "iris", "--since", "yesterday")
    assert bad.status == ExitStatus.INVALID and "--since" in bad.stderr
