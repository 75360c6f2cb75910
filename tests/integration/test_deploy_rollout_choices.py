"""Issue 14 §2 on a cluster: partial placement, stalled rollouts, canaries and promote,
a manual scale that a new version keeps, and namespaces (one, none, or every one).

Two GPUs in the standard cluster (gpu-1, gpu-2) make "3 replicas of 1 GPU" a partial
placement: two place, one cannot.
"""

from __future__ import annotations

import pytest
import requests
import yaml

from mlctl.errors import ExitStatus
from tests.e2e.support import make_bundle, mlctl, mlctl_json, steer, use_cluster
from tests.e2e.test_gpu_cluster import model, wait_until

TIMEOUT = "120"


@pytest.fixture
def cluster(nomad_cluster, tmp_path, monkeypatch):
    use_cluster(monkeypatch, nomad_cluster, tmp_path / "store")
    return nomad_cluster


def _versioned(bundle, version: str, **changes):
    config_file = bundle / "mlctl.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["version"] = version
    config.update(changes)
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return bundle


# --- partial placement ----------------------------------------------------------------


def test_plan_says_how_many_of_the_count_cannot_be_placed(cluster, tmp_path):
    steer(cluster, "needs exactly two free GPUs")
    bundle = make_bundle(tmp_path, "iris2")
    result = mlctl("plan", str(bundle), "--gpus", "1", "--replicas", "3")
    assert result.status == ExitStatus.PLACEMENT, result.stderr
    assert "1 of 3 allocations cannot be placed: no node has 1 free nvidia/gpu" in result.stderr
    status, plan = mlctl_json("plan", str(bundle), "--gpus", "1", "--replicas", "3")
    assert status == ExitStatus.PLACEMENT
    (failure,) = plan["placement_failures"]
    assert (failure["unplaced"], failure["wanted"]) == (1, 3)


def test_a_stalled_rollout_shows_why_allocations_wait(cluster, tmp_path):
    steer(cluster, "needs exactly two free GPUs")
    bundle = make_bundle(tmp_path, "iris2")
    args = ("deploy", str(bundle), "--gpus", "1", "--replicas", "3", "--force", "--timeout", "3")
    result = mlctl(*args)
    assert result.status == ExitStatus.TIMEOUT, result.stderr
    lines = result.stderr.splitlines()
    reason = [line for line in lines if line.startswith("cannot place group model: 1 of 3")]
    assert reason, result.stderr  # the blocked evaluation's reason, before the error line
    assert "no node has 1 free nvidia/gpu" in reason[0]
    detail = mlctl("status", "iris2")
    assert "waiting for capacity: cannot place group model: 1 of 3" in detail.stderr
    _, payload = mlctl_json("status", "iris2")
    assert payload["placement_failures"], payload


# --- canaries -----------------------------------------------------------------------------


def test_deploy_with_canaries_waits_for_promote_then_rolls_out(cluster, tmp_path):
    bundle = make_bundle(tmp_path, "iris", replicas=2)
    assert mlctl("deploy", str(bundle), "--timeout", TIMEOUT).status == 0
    _versioned(bundle, "2.0.0")
    status, result = mlctl_json("deploy", str(bundle), "--canary", "1", "--timeout", TIMEOUT)
    assert status == 0, result
    assert result["outcome"] == "awaiting-promotion"
    (group,) = result["groups"]
    assert group["canaries"].startswith("1/1")
    assert model("iris")["version"] == "2.0.0"
    promoted = mlctl("promote", "iris")
    assert promoted.status == 0, promoted.stderr

    def rolled_out():
        _, detail = mlctl_json("status", "iris")
        return detail["deployment"]["status"] == "successful" and all(
            a["job_version"] == 1 for a in detail["allocations"]
        )

    wait_until(rolled_out, "the promoted version on every allocation")
    assert model("iris")["healthy"] == 2


def test_canaries_from_the_bundle_update_section(cluster, tmp_path):
    bundle = make_bundle(tmp_path, "iris")
    assert mlctl("deploy", str(bundle), "--timeout", TIMEOUT).status == 0
    _versioned(bundle, "2.0.0", update={"canary": 1})
    rendered = mlctl("job", "render", str(bundle))
    assert "canary            = 1" in rendered.stdout
    deployed = mlctl("deploy", str(bundle), "--timeout", TIMEOUT)
    assert deployed.status == 0, deployed.stderr
    assert "promote them with: mlctl promote iris" in deployed.stdout
    assert mlctl("promote", "iris").status == 0


# --- a manual scale survives a new version ------------------------------------------------


def test_a_new_version_keeps_the_live_count_and_says_so(cluster, tmp_path):
    bundle = make_bundle(tmp_path, "iris")
    assert mlctl("deploy", str(bundle), "--timeout", TIMEOUT).status == 0
    assert mlctl("scale", "iris", "3").status == 0
    wait_until(lambda: model("iris")["healthy"] == 3, "three healthy replicas")

    _versioned(bundle, "1.1.0")
    planned = mlctl("plan", str(bundle))
    assert "Count" not in planned.stdout, planned.stdout
    assert "keeping the running count of 3 replicas (mlctl.yaml says 1" in planned.stderr
    deployed = mlctl("deploy", str(bundle), "--timeout", TIMEOUT)
    assert deployed.status == 0, deployed.stderr
    notes = [line for line in deployed.stderr.splitlines() if "keeping the running count" in line]
    assert len(notes) == 1  # one line, once
    assert model("iris")["desired"] == 3

    _versioned(bundle, "1.2.0")
    reset = mlctl("deploy", str(bundle), "--reset-replicas", "--timeout", TIMEOUT)
    assert reset.status == 0, reset.stderr
    assert "keeping" not in reset.stderr
    assert model("iris")["desired"] == 1


# --- namespaces ---------------------------------------------------------------------------


def test_every_namespace_and_a_missing_one(cluster, tmp_path):
    steer(cluster, "creates a namespace without ACLs")
    created = requests.post(
        f"{cluster.address}/v1/namespace/team-a", json={"Name": "team-a"}, timeout=10
    )
    assert created.status_code == 200, created.text
    bundle = make_bundle(tmp_path, "iris")
    assert mlctl("deploy", str(bundle), "--timeout", TIMEOUT).status == 0
    assert mlctl("deploy", str(bundle), "-n", "team-a", "--timeout", TIMEOUT).status == 0

    status, rows = mlctl_json("status", "-n", "*")
    assert status == 0
    assert sorted((r["namespace"], r["model"]) for r in rows) == [
        ("default", "iris"),
        ("team-a", "iris"),
    ]
    table = mlctl("-n", "*", "status")
    assert table.status == 0 and "NAMESPACE" in table.stdout and "team-a" in table.stdout

    missing = mlctl("status", "-n", "no-such-team")
    assert missing.status == ExitStatus.NOT_FOUND
    assert "namespace no-such-team does not exist" in missing.stderr

    one_job = mlctl("scale", "iris", "2", "-n", "*")
    assert one_job.status == ExitStatus.INVALID
    assert "namespace '*'" in one_job.stderr
