"""``mlctl local`` end to end: the background runtime, the iris model, crashes and restarts.

These tests run the real commands (``mlctl local up``, ``deploy``, ``predict``...)
against a daemon they start on a free loopback port with its own state directory,
and the model server runs as a real process.  They are the slow part of the local
runtime's tests (each starts scikit-learn processes), so there are few of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from mlctl.errors import ExitStatus
from mlctl.local import control
from mlctl.local.paths import LocalPaths
from tests.e2e.support import make_bundle, mlctl, mlctl_json

WAIT = 180.0
IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"
ROW = '{"features": [[6.7, 3.0, 5.2, 2.3]]}'


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def runtime(tmp_path, monkeypatch) -> Iterator[LocalPaths]:
    """A state directory for `mlctl local`; whatever was started is stopped afterwards."""
    paths = LocalPaths(tmp_path / "local")
    monkeypatch.setenv("MLCTL_LOCAL_DIR", str(paths.root))
    yield paths
    with contextlib.suppress(Exception):
        control.down(paths)
    for process in psutil.process_iter(["cwd"]):  # models left by a kill -9 of the daemon
        cwd = process.info.get("cwd") or ""
        if cwd.startswith(str(paths.root)) and process.pid != os.getpid():
            with contextlib.suppress(psutil.Error):
                process.kill()


def up(port: int) -> dict[str, Any]:
    status, payload = mlctl_json("local", "up", "--port", str(port))
    assert status == 0, payload
    return payload


def model_pids(paths: LocalPaths) -> set[int]:
    pids = set()
    for process in psutil.process_iter(["cwd", "cmdline"]):
        cwd = process.info.get("cwd") or ""
        if cwd.startswith(str(paths.allocs)) and "serve" in (process.info.get("cmdline") or []):
            pids.add(process.pid)
    return pids


def predict_ok() -> bool:
    result = mlctl("predict", "iris", ROW)
    return result.status == 0 and json.loads(result.stdout) == {"predictions": ["virginica"]}


def healthy_replicas() -> int:
    status, detail = mlctl_json("status", "iris")
    return int(detail["model"]["healthy"]) if status == 0 else -1


def test_deploy_predict_scale_roll_back_logs_and_the_front_door(runtime, tmp_path):
    port = free_port()
    first = up(port)
    assert first["started"] and first["address"] == f"http://127.0.0.1:{port}"
    again = up(port)  # idempotent
    assert not again["started"] and again["pid"] == first["pid"]
    status, info = mlctl_json("local", "status")
    assert status == 0 and info["engine"] == "builtin" and info["nodes"] == 1
    assert info["memory_limits"].startswith(("enforced", "not enforced"))
    token = runtime.token
    assert token.stat().st_mode & 0o777 == 0o600

    result = mlctl("deploy", str(IRIS), "--timeout", str(int(WAIT)))
    assert result.status == 0, result.stderr
    assert predict_ok()
    oip = mlctl(
        "predict",
        "iris",
        "--oip",
        '{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32",'
        ' "data": [5.1, 3.5, 1.4, 0.2]}]}',
    )
    assert oip.status == 0 and json.loads(oip.stdout)["outputs"][0]["data"] == ["setosa"]
    bad = mlctl("predict", "iris", '{"features": "nope"}')
    assert bad.status == ExitStatus.INVALID and "refused the request (HTTP 400)" in bad.stderr

    assert mlctl("scale", "iris", "3").status == 0
    wait_for(lambda: healthy_replicas() == 3, "three healthy replicas")
    wait_for(lambda: len(model_pids(runtime)) == 3, "three model processes")
    assert mlctl("scale", "iris", "0").status == 0
    wait_for(lambda: not model_pids(runtime), "every model process to stop")
    gone = mlctl("predict", "iris", ROW)
    assert gone.status == ExitStatus.UNREACHABLE and "no healthy endpoint" in gone.stderr
    assert mlctl("scale", "iris", "1").status == 0
    wait_for(predict_ok, "a prediction after scaling back up")
    # the rollout of a count change ends when the replica has been healthy a while; only
    # then is that version stable (a newer version would cancel it, as in Nomad)
    wait_for(lambda: healthy_replicas() == 1, "the scale-up rollout to finish")

    # plan, a second version, history, rollback: the same commands as on a cluster
    plan = mlctl("plan", str(IRIS))
    assert plan.status == 0, plan.stderr
    v2 = make_bundle(tmp_path, "iris", version="2.0.0")
    assert mlctl("deploy", str(v2), "--timeout", str(int(WAIT))).status == 0
    status, history = mlctl_json("history", "iris")
    assert status == 0 and [v["model_version"] for v in history][:2] == ["2.0.0", "1.0.0"]
    rolled = mlctl("rollback", "iris")
    assert rolled.status == 0, rolled.stderr
    wait_for(
        lambda: mlctl_json("status", "iris")[1]["model"]["version"] == "1.0.0"
        and healthy_replicas() == 1,
        "the rollback to 1.0.0 to be healthy",
    )
    wait_for(predict_ok, "a prediction after the rollback")

    logs = mlctl("logs", "iris", "--stderr")
    assert logs.status == 0 and "serving iris 1.0.0" in logs.stdout
    quiet = mlctl("logs", "iris")  # the server writes nothing to stdout: say where to look
    assert quiet.status == 0 and "mlctl logs iris --stderr" in quiet.stderr
    assert "serving at" in mlctl("local", "logs", "--tail", "5").stdout

    # a web page cannot reach the API through DNS rebinding
    refused = requests.get(
        f"http://127.0.0.1:{port}/v1/jobs", headers={"Host": "attacker.example:80"}, timeout=5
    )
    assert refused.status_code == 403

    assert mlctl("stop", "iris", "--yes").status == 0
    wait_for(lambda: not model_pids(runtime), "the stopped model's process to end")

    stopped = mlctl("local", "down")
    assert stopped.status == 0 and "stopped" in stopped.stdout
    assert not model_pids(runtime)
    assert mlctl("local", "down").stdout.strip() == "mlctl local is not running"


def test_state_and_models_survive_kill_9_and_down_up(runtime):
    port = free_port()
    up(port)
    assert mlctl("deploy", str(IRIS), "--timeout", str(int(WAIT))).status == 0
    (model,) = model_pids(runtime)
    before = requests.get(
        f"http://127.0.0.1:{port}/v1/jobs",
        headers={"X-Nomad-Token": runtime.token.read_text().strip()},
        timeout=5,
    )
    index_before = int(before.headers["X-Nomad-Index"])
    daemon = control.read_running(runtime)
    assert daemon is not None

    os.kill(daemon.pid, signal.SIGKILL)  # the runtime crashes; the model keeps serving
    wait_for(lambda: control.read_running(runtime) is None, "the daemon to be gone")
    registered = mlctl("status", "iris")
    assert registered.status == ExitStatus.UNREACHABLE
    assert model in model_pids(runtime)

    up(port)  # restores the state and re-adopts the running model
    assert model_pids(runtime) == {model}
    wait_for(predict_ok, "a prediction after the restart")
    after = requests.get(
        f"http://127.0.0.1:{port}/v1/jobs",
        headers={"X-Nomad-Token": runtime.token.read_text().strip()},
        timeout=5,
    )
    assert int(after.headers["X-Nomad-Index"]) > index_before  # never backwards
    status, history = mlctl_json("history", "iris")
    assert status == 0 and [v["version"] for v in history] == [0]

    assert mlctl("local", "down").status == 0  # stops the model with its kill signal
    assert not model_pids(runtime)
    up(port)  # the model should run: it is started again in the same allocation
    wait_for(predict_ok, "the model to be started again")
    (restarted,) = model_pids(runtime)
    assert restarted != model


def test_engine_nomad_without_a_binary_is_one_clear_error(runtime, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nomad anywhere
    result = mlctl("local", "up", "--engine", "nomad", "--port", str(free_port()))
    assert result.status == ExitStatus.NOT_FOUND
    assert result.stderr.count("\n") == 1
    assert "needs a nomad binary on PATH" in result.stderr


def test_status_of_a_stopped_runtime_says_how_to_start_it(runtime):
    result = mlctl("local", "status")
    assert result.status == ExitStatus.UNREACHABLE
    assert "not running (start it with: mlctl local up)" in result.stderr


def test_engine_nomad_starts_an_agent_bootstraps_acls_and_stops_it(runtime, monkeypatch):
    """Against a stand-in `nomad` (none can be installed here): the same plumbing."""
    import sys

    fake = Path(__file__).resolve().parents[1] / "fixtures" / "fake-nomad"
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MLCTL_TEST_PYTHON", sys.executable)
    port = free_port()
    status, started = mlctl_json("local", "up", "--engine", "nomad", "--port", str(port))
    assert status == 0, started
    assert started["engine"] == "nomad"
    assert 'plugin "raw_exec"' in runtime.nomad_config.read_text()
    token = runtime.token.read_text().strip()
    assert runtime.token.stat().st_mode & 0o777 == 0o600
    agent = requests.get(
        f"http://127.0.0.1:{port}/v1/acl/token/self", headers={"X-Nomad-Token": token}, timeout=5
    )
    assert agent.json()["Type"] == "management"  # the bootstrap token, kept for the context
    assert mlctl("status").status == 0  # the context local reaches it with that token
    info = mlctl_json("local", "status")[1]
    assert info["engine"] == "nomad" and info["nodes"] == 3
    assert mlctl("local", "down").status == 0
    assert control.read_running(runtime) is None
