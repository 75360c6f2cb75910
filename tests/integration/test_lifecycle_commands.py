"""status, scale, stop, restart, rollback, promote, history, logs and nodes."""

from __future__ import annotations

import pytest

from mlctl.errors import ExitStatus
from tests.e2e.support import make_bundle, mlctl, mlctl_json, steer, use_cluster
from tests.e2e.test_gpu_cluster import model, wait_until

TIMEOUT = "120"


@pytest.fixture
def deployed(nomad_cluster, tmp_path, monkeypatch):
    """iris deployed and healthy."""
    use_cluster(monkeypatch, nomad_cluster, tmp_path / "store")
    result = mlctl("deploy", str(make_bundle(tmp_path, "iris")), "--timeout", TIMEOUT)
    assert result.status == 0, result.stderr
    return nomad_cluster


def test_status_lists_models_only(deployed):
    status, rows = mlctl_json("status")
    assert status == 0
    assert [r["model"] for r in rows] == ["iris"]
    assert rows[0]["healthy"] == 1 and rows[0]["version"] == "1.0.0"
    table = mlctl("status")
    assert "iris" in table.stdout and "MODEL" in table.stdout


def test_status_detail_lists_allocations(deployed):
    status, detail = mlctl_json("status", "iris")
    assert status == 0
    assert detail["deployment"]["status"] == "successful"
    (alloc,) = detail["allocations"]
    assert alloc["status"] == "running" and alloc["healthy"] is True


def test_unknown_model_is_not_found(deployed):
    result = mlctl("status", "nope")
    assert result.status == ExitStatus.NOT_FOUND
    assert "model nope is not deployed in namespace default" in result.stderr


def test_invalid_model_name_is_refused_before_any_call(deployed):
    assert mlctl("scale", "../x", "2").status == ExitStatus.INVALID


def test_scale_up_and_down(deployed):
    assert mlctl("scale", "iris", "3").status == 0
    # Scaling is refused while the count change's deployment runs: wait for it to finish.
    wait_until(lambda: model("iris")["healthy"] == 3, "three healthy replicas")
    assert mlctl("scale", "iris", "1").status == 0
    wait_until(lambda: model("iris")["running"] == 1, "back to one replica")


def test_scale_during_a_deployment_is_a_conflict(deployed, tmp_path):
    steer(deployed, "keeps a deployment running").set_behaviour(
        "unhealthy", job="mlctl-iris", version=1
    )
    bundle = make_bundle(tmp_path, "iris", version="2.0.0")
    assert mlctl("deploy", str(bundle), "--detach").status == 0
    result = mlctl("scale", "iris", "4")
    assert result.status == ExitStatus.CONFLICT
    assert "while a deployment is in progress" in result.stderr


def test_promote_without_canaries_is_a_conflict(deployed):
    result = mlctl("promote", "iris")
    assert result.status == ExitStatus.CONFLICT
    assert "waiting for its canaries" in result.stderr


def test_restart_restarts_running_allocations(deployed):
    status, result = mlctl_json("restart", "iris")
    assert status == 0 and len(result["restarted"]) == 1


def test_history_and_rollback(deployed, tmp_path):
    assert (
        mlctl(
            "deploy", str(make_bundle(tmp_path, "iris", version="1.1.0")), "--timeout", TIMEOUT
        ).status
        == 0
    )
    status, history = mlctl_json("history", "iris")
    assert status == 0
    assert [h["version"] for h in history] == [1, 0]
    assert history[0]["current"] and history[0]["model_version"] == "1.1.0"
    assert all(h["stable"] for h in history)
    status, rolled = mlctl_json("rollback", "iris")
    assert status == 0 and (rolled["from_version"], rolled["to_version"]) == (1, 0)
    wait_until(lambda: model("iris")["version"] == "1.0.0", "iris back on 1.0.0")


def test_rollback_to_an_unknown_version(deployed):
    result = mlctl("rollback", "iris", "--version", "42")
    assert result.status == ExitStatus.NOT_FOUND
    assert "version 42 is not retained" in result.stderr


def test_logs_stdout_stderr_and_tail(deployed):
    out = mlctl("logs", "iris")
    assert out.status == 0 and out.stdout
    err = mlctl("logs", "iris", "--stderr", "--tail", "1")
    assert err.status == 0
    assert len(err.stdout.splitlines()) <= 1


def test_logs_of_unknown_alloc(deployed):
    result = mlctl("logs", "iris", "--alloc", "ffffffff")
    assert result.status == ExitStatus.NOT_FOUND


def test_stop_needs_confirmation_then_purge_forgets(deployed):
    refused = mlctl("stop", "iris")
    assert refused.status == ExitStatus.USAGE and "--yes" in refused.stderr
    assert mlctl("stop", "iris", "--yes").status == 0
    assert model("iris")["status"] == "stopped"
    assert mlctl("stop", "iris", "--purge", "--yes").status == 0
    assert mlctl("status", "iris").status == ExitStatus.NOT_FOUND


def test_nodes_show_gpus(deployed):
    status, nodes = mlctl_json("nodes")
    assert status == 0
    gpus = [g for n in nodes for g in n["gpus"]]
    assert gpus and all(g["healthy"] <= g["instances"] for g in gpus)
    assert all(g["allocated"] + g["free"] <= g["instances"] for g in gpus)
    table = mlctl("nodes")
    assert "healthy" in table.stdout and "free" in table.stdout


def test_logs_follow_streams_new_lines_until_ctrl_c(deployed):
    """A real ``mlctl logs --follow`` process: lines written later arrive; Ctrl-C ends it."""
    import os
    import signal
    import subprocess
    import sys
    import threading

    sim = steer(deployed, "writes log lines into an allocation")
    alloc_id = next(a["ID"] for a in deployed.client().job.get_allocations("mlctl-iris"))
    sim.write_log(alloc_id, "server", "stdout", "before-follow\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlctl", "logs", "iris", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    seen: list[str] = []
    connected, arrived = threading.Event(), threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            seen.append(raw.decode())
            if "before-follow" in seen[-1]:
                connected.set()
            if "after-follow" in seen[-1]:
                arrived.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # Only once the old line is out is the new one written: a reader that did not
        # follow would have exited by then and never show it.
        assert connected.wait(15), f"logs never printed the existing line; saw {seen!r}"
        sim.write_log(alloc_id, "server", "stdout", "after-follow\n")
        assert arrived.wait(15), f"follow never showed the new line; saw {seen!r}"
        assert proc.poll() is None, "logs --follow exited by itself"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0  # generous: CI machines are shared
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(seen)
    assert "before-follow" in text and "after-follow" in text
