"""``mlctl serve`` as a real process on a real socket: tritonclient, SIGTERM, workers, --once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "examples" / "iris"
ROW = [5.1, 3.5, 1.4, 0.2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLCTL_", "NOMAD_", "VAULT_"))}


class Server:
    """``python -m mlctl serve`` in a subprocess, its stderr collected."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlctl", "serve", *args, "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
            text=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()[1]
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.05)
        raise AssertionError("server did not become ready")

    def post(self, path: str, payload: object, timeout: float = 30) -> tuple[int, object]:
        request = urllib.request.Request(
            self.base + path, data=json.dumps(payload).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=60)
        return self.process.returncode, stderr


@pytest.fixture
def iris_server() -> Iterator[Server]:
    server = Server(str(IRIS))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_tritonclient_talks_to_the_server_unchanged(iris_server: Server) -> None:
    tritonclient_http = pytest.importorskip("tritonclient.http")
    client = tritonclient_http.InferenceServerClient(url=f"127.0.0.1:{iris_server.port}")
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris")
    assert client.get_server_metadata()["name"] == "mlctl"
    metadata = client.get_model_metadata("iris")
    assert metadata["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}]

    rows = np.array([ROW, [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
    for binary in (True, False):  # the client's default (binary tensors) and plain JSON
        tensor = tritonclient_http.InferInput("features", list(rows.shape), "FP32")
        tensor.set_data_from_numpy(rows, binary_data=binary)
        wanted = tritonclient_http.InferRequestedOutput("label", binary_data=binary)
        result = client.infer("iris", [tensor], outputs=[wanted], request_id=f"req-{binary}")
        assert [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")] == [
            "setosa",
            "virginica",
        ]
        assert result.get_response()["id"] == f"req-{binary}"
    default_outputs = client.infer("iris", [tensor], model_version="1.0.0")  # all outputs, binary
    assert default_outputs.as_numpy("label").tolist() == [b"setosa", b"virginica"]

    with pytest.raises(tritonclient_http.InferenceServerException, match="unknown model"):
        client.infer("not-iris", [tensor])


SLOW_CONTRACT = """
import time
import numpy as np

def preprocess(payload):
    return np.asarray(payload["features"], dtype=np.float32)

def predict(model, features):
    time.sleep(1.5)
    return model.predict(features)
"""


def test_sigterm_drains_in_flight_requests_then_exits_zero(tmp_path: Path) -> None:
    bundle = tmp_path / "slow"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "contract.py").write_text(SLOW_CONTRACT)
    server = Server(str(bundle))
    server.wait_ready()
    answers: list[tuple[int, object]] = []
    client = threading.Thread(
        target=lambda: answers.append(server.post("/predict", {"features": [ROW]}))
    )
    client.start()
    time.sleep(0.5)  # the request is now inside predict
    server.process.send_signal(signal.SIGTERM)
    client.join(timeout=30)
    status, stderr = server.stop()
    assert answers == [(200, {"predictions": [0]})]
    assert status == 0, stderr
    access = [json.loads(line) for line in stderr.splitlines() if '"path":"/predict"' in line]
    assert access and access[0]["status"] == 200


def test_two_workers_share_the_port_and_stop_cleanly() -> None:
    server = Server(str(IRIS), "--workers", "2")
    try:
        server.wait_ready()
        for _ in range(6):
            assert server.post("/predict", {"features": [ROW]}) == (
                200,
                {"predictions": ["setosa"]},
            )
    finally:
        status, stderr = server.stop()
    assert status == 0, stderr


def test_a_packaged_bundle_archive_is_served(tmp_path: Path) -> None:
    from mlctl.bundle.package import package_bundle

    archive = package_bundle(IRIS, tmp_path).path
    server = Server(str(archive))
    try:
        server.wait_ready()
        assert server.post("/predict", {"features": [ROW]}) == (200, {"predictions": ["setosa"]})
    finally:
        assert server.stop()[0] == 0


def test_a_model_that_fails_to_load_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    bundle = tmp_path / "corrupt"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "model.skops").write_bytes(b"garbage")
    server = Server(str(bundle))
    server.process.wait(timeout=60)
    status, stderr = server.stop()
    assert status == 4
    assert "mlctl: error: model iris failed to load" in stderr.splitlines()[-1]


def run_mlctl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlctl", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_once_prints_the_prediction_from_any_directory(tmp_path: Path) -> None:
    done = run_mlctl("serve", "--once", json.dumps({"features": [ROW]}), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"predictions": ["setosa"]}
    assert "serving the shipped example" in done.stderr


def test_once_with_a_bad_payload_fails_with_one_clear_line(tmp_path: Path) -> None:
    done = run_mlctl("serve", "--once", '{"features": [[1, 2]]}', cwd=tmp_path)
    assert done.returncode == 4
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1].startswith("mlctl: error: the server answered 400:")
    broken = run_mlctl("serve", "--once", "{oops", cwd=tmp_path)
    assert broken.returncode == 4 and "not valid JSON" in broken.stderr
