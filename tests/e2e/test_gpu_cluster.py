"""The issue's end-to-end story on a cluster with two GPU clients and one CPU client.

A CPU model and a GPU model deploy and become healthy; a third GPU model that cannot
fit is refused with the plain-words reason (status 10); a version whose task fails
is rolled back by Nomad and reported (status 12); scale, stop, rollback, logs and
status work. Everything goes through the ``mlctl`` entry point and HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from mlctl.errors import ExitStatus
from tests.e2e.support import make_bundle, mlctl, mlctl_json, steer, use_cluster

#: Generous bound for Nomad (or the simulator) to converge; tests poll, never sleep blindly.
CONVERGE_SECONDS = 120


def wait_until(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + CONVERGE_SECONDS
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def model(name: str) -> dict[str, Any]:
    status, detail = mlctl_json("status", name)
    assert status == 0
    return detail["model"]


def free_gpus() -> int:
    status, nodes = mlctl_json("nodes")
    assert status == 0
    return sum(g["free"] for node in nodes for g in node["gpus"])


@pytest.fixture
def cluster(nomad_cluster, tmp_path, monkeypatch):
    use_cluster(monkeypatch, nomad_cluster, tmp_path / "store")
    return nomad_cluster


def test_gpu_cluster_story(cluster, tmp_path):
    status, nodes = mlctl_json("nodes")
    assert status == 0
    gpu_nodes = [n for n in nodes if n["gpus"]]
    assert len(gpu_nodes) == 2 and len(nodes) == 3
    gpus = free_gpus()
    assert gpus >= 2

    # A CPU model and a GPU model (taking every GPU) deploy and become healthy.
    cpu_bundle = make_bundle(tmp_path, "iris")
    done = mlctl("deploy", str(cpu_bundle), "--timeout", str(CONVERGE_SECONDS))
    assert done.status == 0, done.stderr
    assert "iris 1.0.0 (job version 0) is deployed and healthy" in done.stdout

    gpu_bundle = make_bundle(tmp_path, "bert", gpu={"count": 1}, replicas=gpus)
    status, result = mlctl_json("deploy", str(gpu_bundle), "--timeout", str(CONVERGE_SECONDS))
    assert status == 0, result
    assert result["outcome"] == "successful"
    assert result["groups"][0]["healthy"] == gpus

    bert = model("bert")
    assert (bert["desired"], bert["running"], bert["healthy"], bert["gpus"]) == (
        gpus,
        gpus,
        gpus,
        gpus,
    )
    assert bert["endpoints"] and all(e.startswith("http://") for e in bert["endpoints"])
    assert free_gpus() == 0

    # A third GPU model cannot fit: nothing is registered, the reason is in plain words.
    third = make_bundle(tmp_path, "llama", gpu={"count": 1})
    refused = mlctl("deploy", str(third))
    assert refused.status == ExitStatus.PLACEMENT
    assert "no node has 1 free nvidia/gpu" in refused.stderr
    assert "devices exhausted on 2 of 2 nodes" in refused.stderr
    assert refused.stderr.count("no node has") == 1  # said once, on the error line
    assert mlctl("status", "llama").status == ExitStatus.NOT_FOUND
    # Refused at plan time, so the bundle never reached the artifact store.
    assert not (tmp_path / "store" / "llama").exists()
    planned = mlctl("plan", str(third))
    assert planned.status == ExitStatus.PLACEMENT
    assert '+ group "model" (place 1)' in planned.stdout  # the diff is shown, then why not
    assert "no node has 1 free nvidia/gpu" in planned.stderr

    # A new version whose task fails is rolled back by Nomad, and reported as such.
    steer(cluster, "makes a task fail").set_behaviour("fail", job="mlctl-iris", version=1)
    broken = make_bundle(tmp_path, "iris", version="1.1.0")
    reverted = mlctl("deploy", str(broken), "--timeout", str(CONVERGE_SECONDS))
    assert reverted.status == ExitStatus.DEPLOY_REVERTED, reverted.stderr
    assert "Nomad rolled back to version 0" in reverted.stderr
    assert "(task server):" in reverted.stderr  # the failing allocation's task events
    iris = wait_until(lambda: (m := model("iris"))["healthy"] == 1 and m, "iris healthy again")
    assert iris["version"] == "1.0.0"

    status, history = mlctl_json("history", "iris")
    assert status == 0
    by_version = {h["version"]: h for h in history}
    assert by_version[0]["stable"] and not by_version[1]["stable"]
    assert by_version[1]["model_version"] == "1.1.0"
    assert by_version[0]["bundle_sha256"] != by_version[1]["bundle_sha256"]
    assert by_version[0]["deployed_by"]

    # Scale, logs, rollback, stop.
    assert mlctl("scale", "iris", "2").status == 0
    wait_until(lambda: model("iris")["healthy"] == 2, "iris scaled to 2 healthy")

    logs = mlctl("logs", "iris")
    assert logs.status == 0 and logs.stdout.strip()

    status, rolled = mlctl_json("rollback", "iris", "--version", "0")
    assert status == 0 and rolled["to_version"] == 0

    assert mlctl("stop", "bert", "--yes").status == 0
    wait_until(lambda: free_gpus() == gpus, "bert's GPUs freed")
    assert model("bert")["status"] == "stopped"
    plan = mlctl("plan", str(third))
    assert plan.status == 0, plan.stderr
    assert '+ job "mlctl-llama" (new)' in plan.stdout
