"""job render, plan and deploy against a Nomad (the simulator, or a real dev agent)."""

from __future__ import annotations

import pytest

from mlctl.errors import ExitStatus
from mlctl.local.engine.topology import default_cluster
from tests.cli_runner import run_cli
from tests.e2e.support import make_bundle, mlctl, mlctl_json, steer, use_cluster

TIMEOUT = "120"


@pytest.fixture
def cluster(nomad_cluster, tmp_path, monkeypatch):
    use_cluster(monkeypatch, nomad_cluster, tmp_path / "store")
    return nomad_cluster


def test_render_without_store_uses_a_placeholder_and_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("MLCTL_ARTIFACT_STORE", raising=False)
    result = mlctl("job", "render", str(make_bundle(tmp_path, "iris")), "--replicas", "3")
    assert result.status == 0, result.stderr
    assert 'job "mlctl-iris"' in result.stdout and "count = 3" in result.stdout
    assert "artifact-store.invalid" in result.stdout
    assert "placeholder" in result.stderr


def test_render_with_gpus_adds_the_device_block(tmp_path):
    result = mlctl("job", "render", str(make_bundle(tmp_path, "bert")), "--gpus", "2")
    assert result.status == 0, result.stderr
    assert 'device "nvidia/gpu"' in result.stdout and "count = 2" in result.stdout


def test_render_refuses_an_invalid_bundle_with_the_field(tmp_path):
    bundle = make_bundle(tmp_path, "iris")
    config = bundle / "mlctl.yaml"
    config.write_text(config.read_text().replace("replicas: 1", "replicas: -4"))
    result = mlctl("job", "render", str(bundle))
    assert result.status == ExitStatus.INVALID
    assert "replicas" in result.stderr


def test_plan_of_a_new_job_then_of_a_change(cluster, tmp_path):
    bundle = make_bundle(tmp_path, "iris")
    first = mlctl("plan", str(bundle))
    assert first.status == 0, first.stderr
    assert first.stdout.splitlines()[:2] == [
        '+ job "mlctl-iris" (new)',
        '  + group "model" (place 1)',
    ]

    assert mlctl("deploy", str(bundle), "--timeout", TIMEOUT).status == 0
    status, plan = mlctl_json("plan", str(bundle), "--replicas", "3")
    assert status == 0
    assert plan["change"] == "edited" and plan["groups"]["model"]["Place"] == 2
    assert plan["placement_failures"] == []
    changed = mlctl("plan", str(bundle), "--replicas", "3")
    assert '~ Count: "1" => "3"' in changed.stdout


def test_plan_explains_gpu_memory_no_node_has(cluster, tmp_path):
    bundle = make_bundle(tmp_path, "huge", gpu={"count": 1, "memory": 10_000_000})
    status, plan = mlctl_json("plan", str(bundle))
    assert status == ExitStatus.PLACEMENT
    (failure,) = plan["placement_failures"]
    assert failure["summary"] == "no node has 1 free nvidia/gpu with memory >= 10000000 MiB"
    assert any("filtered" in reason for reason in failure["reasons"])


def test_deploy_detach_returns_after_registration(cluster, tmp_path):
    status, result = mlctl_json("deploy", str(make_bundle(tmp_path, "iris")), "--detach")
    assert status == 0
    assert result["outcome"] == "detached" and result["eval_id"]
    assert result["job_id"] == "mlctl-iris" and result["job_version"] == 0


def test_redeploying_the_same_bundle_changes_nothing(cluster, tmp_path):
    bundle = make_bundle(tmp_path, "iris")
    assert mlctl("deploy", str(bundle), "--timeout", TIMEOUT).status == 0
    again = mlctl("deploy", str(bundle), "--timeout", TIMEOUT)
    assert again.status == 0, again.stderr
    assert "nothing changed" in again.stdout


def test_deploy_uploads_to_the_file_store(cluster, tmp_path):
    status, _ = mlctl_json("deploy", str(make_bundle(tmp_path, "iris")), "--detach")
    assert status == 0
    assert list((tmp_path / "store").rglob("*.tar.gz"))


def test_first_version_failing_is_failed_not_reverted(cluster, tmp_path):
    steer(cluster, "makes a task fail").set_behaviour("fail", job="mlctl-iris")
    status, result = mlctl_json("deploy", str(make_bundle(tmp_path, "iris")), "--timeout", TIMEOUT)
    assert status == ExitStatus.DEPLOY_FAILED
    assert result["outcome"] == "failed" and result["reverted_to_version"] is None
    assert result["failures"]


def test_oom_is_reported_in_plain_words(cluster, tmp_path):
    steer(cluster, "makes a task run out of memory").set_behaviour("oom", job="mlctl-iris")
    result = mlctl("deploy", str(make_bundle(tmp_path, "iris")), "--timeout", TIMEOUT)
    assert result.status == ExitStatus.DEPLOY_FAILED
    assert "out of memory" in result.stderr


def test_timeout_is_its_own_status(cluster, tmp_path):
    steer(cluster, "keeps a deployment from finishing").set_behaviour("unhealthy", job="mlctl-iris")
    result = mlctl("deploy", str(make_bundle(tmp_path, "iris")), "--timeout", "1")
    assert result.status == ExitStatus.TIMEOUT, result.stderr
    assert "still rolling out" in result.stderr


@pytest.fixture
def acl_cluster(nomad_sim_factory, tmp_path, monkeypatch):
    """A Nomad with ACLs on (``nomad agent -dev`` has them off, so always the simulator)."""
    handle = nomad_sim_factory(nodes=default_cluster(), acl=True)
    use_cluster(monkeypatch, handle, tmp_path / "store")
    return handle


def test_with_acls_the_management_token_may_plan(acl_cluster, tmp_path):
    assert mlctl("plan", str(make_bundle(tmp_path, "iris"))).status == 0


def test_with_acls_no_token_says_log_in(acl_cluster, tmp_path, monkeypatch):
    monkeypatch.delenv("NOMAD_TOKEN")
    result = mlctl("plan", str(make_bundle(tmp_path, "iris")))
    assert result.status == ExitStatus.AUTH
    assert "permission denied: GET /v1/job/mlctl-iris" in result.stderr  # the live count
    assert "not logged in — run mlctl login" in result.stderr


def test_with_acls_an_unknown_token_is_an_auth_error_and_stays_secret(
    acl_cluster, tmp_path, monkeypatch
):
    secret = "5f3b1c2a-0000-4000-8000-00000000dead"
    monkeypatch.setenv("NOMAD_TOKEN", secret)
    result = run_cli(["-o", "json", "status"])
    assert result.status == ExitStatus.AUTH  # Nomad: 403 "ACL token not found"
    assert "run mlctl login" in result.stderr
    assert secret not in result.stdout + result.stderr


def test_unreachable_nomad_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("NOMAD_ADDR", "http://127.0.0.1:9")
    monkeypatch.setenv("MLCTL_ARTIFACT_STORE", (tmp_path / "s").as_uri())
    result = mlctl("plan", str(make_bundle(tmp_path, "iris")))
    assert result.status == ExitStatus.UNREACHABLE
    assert (
        result.stderr.count("\n") <= 2
        and "cannot reach Nomad at http://127.0.0.1:9" in result.stderr
    )
