"""``mlctl serve`` as a real process on a real socket: tritonclient, SIGTERM, workers, --once."""

from __future__ import annotations

import contextlib
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
from pathlib import Path
import numpy as np

def preprocess(payload):
    return np.asarray(payload["features"], dtype=np.float32)

def predict(model, features):
    Path(__file__).with_name("entered").touch()  # tells the test the request is inside
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
    deadline = time.monotonic() + 60
    while not (bundle / "entered").exists():  # wait until the request is inside predict
        assert time.monotonic() < deadline
        time.sleep(0.05)
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


# --- issue 14: one-line failures with their documented statuses ---------------------------


def test_a_busy_port_is_one_error_line_with_status_9(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        for workers in ("1", "2"):
            done = run_mlctl(
                "serve", str(IRIS), "--port", str(port), "--workers", workers, cwd=tmp_path
            )
            assert done.returncode == 9, done.stderr
            assert done.stderr.splitlines() == [
                f"mlctl: error: cannot listen on 127.0.0.1:{port}: the port is already in use "
                "(stop whatever holds it, or choose another port with --port)"
            ]


def test_a_load_failure_prints_no_traceback(tmp_path: Path) -> None:
    bundle = tmp_path / "corrupt"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "model.skops").write_bytes(b"garbage")
    done = run_mlctl("serve", str(bundle), "--port", "0", cwd=tmp_path)
    assert done.returncode == 4
    assert "Traceback" not in done.stderr and "traceback" not in done.stderr
    assert len(done.stderr) < 1500, done.stderr  # a note, one log line, one error line


def pickle_bundle(tmp_path: Path, *, pinned: bool) -> Path:
    import hashlib
    import pickle

    import skops.io

    bundle = tmp_path / "pickled"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    model = skops.io.load(
        IRIS / "model.skops", trusted=skops.io.get_untrusted_types(file=IRIS / "model.skops")
    )
    data = pickle.dumps(model)
    (bundle / "model.pkl").write_bytes(data)
    text = (bundle / "mlctl.yaml").read_text()
    text = text.replace("file: model.skops", "file: model.pkl").replace(
        "format: skops", "format: pickle"
    )
    if pinned:
        digest = hashlib.sha256(data).hexdigest()
        text = text.replace("format: pickle", f"format: pickle\n  sha256: {digest}")
    (bundle / "mlctl.yaml").write_text(text)
    return bundle


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_pickle_that_differs_from_its_pin_is_refused_as_unsafe_with_status_15(
    tmp_path: Path, workers: str
) -> None:
    bundle = pickle_bundle(tmp_path, pinned=True)
    with (bundle / "model.pkl").open("ab") as tampered:
        tampered.write(b"tampered")
    done = run_mlctl("serve", str(bundle), "--port", "0", "--workers", workers, cwd=tmp_path)
    assert done.returncode == 15, done.stderr
    assert done.stderr.splitlines()[-1].startswith("mlctl: error: model iris failed to load:")
    assert "refusing to unpickle it" in done.stderr.splitlines()[-1]


def test_an_unpinned_pickle_is_an_invalid_bundle_with_status_4(tmp_path: Path) -> None:
    bundle = pickle_bundle(tmp_path, pinned=False)
    done = run_mlctl("serve", str(bundle), "--port", "0", cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert done.stderr.splitlines() == [
        "mlctl: error: mlctl.yaml: model: format pickle can run arbitrary code when loaded; "
        "pin the file with model.sha256 (sha256sum of the file) or use skops/onnx "
        f"(see them all with: mlctl model validate {bundle})"
    ]


BROKEN_POSTPROCESS = """
import numpy as np

def preprocess(payload):
    return np.asarray(payload["features"], dtype=np.float32)

def postprocess(prediction):
    raise KeyError("label table missing")
"""


def test_once_with_a_failing_contract_exits_4_not_internal_error(tmp_path: Path) -> None:
    bundle = tmp_path / "broken"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "contract.py").write_text(BROKEN_POSTPROCESS)
    done = run_mlctl("serve", str(bundle), "--once", json.dumps({"features": [ROW]}), cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("mlctl: error: the server answered 500: internal error in postprocess")


# --- issue 14: stopping -------------------------------------------------------------------

SLOW_LOAD = """
import time

def load(model_dir):
    time.sleep(600)
"""


def test_sigterm_while_loading_stops_at_once(tmp_path: Path) -> None:
    bundle = tmp_path / "slow-load"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "contract.py").write_text(SLOW_LOAD)
    server = Server(str(bundle))
    deadline = time.monotonic() + 60
    while True:  # live (listening) while the model loads
        try:
            with urllib.request.urlopen(f"{server.base}/healthz", timeout=2) as response:
                assert response.status == 200
                break
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    server.process.send_signal(signal.SIGTERM)
    status, stderr = server.stop()  # communicate(timeout=60) would raise if load() held it
    assert status == 0, stderr


HUNG_PREDICT = """
import time
from pathlib import Path
import numpy as np

def preprocess(payload):
    return np.asarray(payload["features"], dtype=np.float32)

def predict(model, features):
    Path(__file__).with_name("entered").touch()  # tells the test the request is inside
    time.sleep(600)
"""


def test_in_flight_requests_get_a_json_503_when_the_drain_runs_out(tmp_path: Path) -> None:
    bundle = tmp_path / "hung"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "contract.py").write_text(HUNG_PREDICT)
    server = Server(str(bundle), "--drain-timeout", "2", "--inference-timeout", "600")
    server.wait_ready()
    answers: list[tuple[int, object]] = []
    client = threading.Thread(
        target=lambda: answers.append(server.post("/predict", {"features": [ROW]}, timeout=60))
    )
    client.start()
    deadline = time.monotonic() + 60
    while not (bundle / "entered").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.process.send_signal(signal.SIGTERM)
    client.join(timeout=60)
    status, stderr = server.stop()
    assert status == 0, stderr
    assert len(answers) == 1
    code, body = answers[0]
    assert code == 503 and "stopped before the model answered" in body["error"]  # type: ignore[index]
    assert "Cancel" not in stderr  # uvicorn never had to cancel the request


def test_silent_connections_under_a_small_fd_limit_leave_the_server_reachable(
    tmp_path: Path,
) -> None:
    import resource

    def limit_fds() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlctl", "serve", str(IRIS), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=clean_env(),
        text=True,
        preexec_fn=limit_fds,
    )
    server = Server.__new__(Server)
    server.port, server.base, server.process = port, f"http://127.0.0.1:{port}", process
    silent: list[socket.socket] = []
    try:
        server.wait_ready()
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
        for _ in range(5):  # fresh connections keep getting in
            with urllib.request.urlopen(f"{server.base}/readyz", timeout=30) as response:
                assert response.status == 200
    finally:
        for sock in silent:
            sock.close()
        status, stderr = server.stop()
    assert status == 0, stderr


# --- issue 14: --workers ------------------------------------------------------------------


def test_workers_whose_model_fails_to_load_make_serve_exit_4(tmp_path: Path) -> None:
    bundle = tmp_path / "corrupt"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "model.skops").write_bytes(b"garbage")
    done = run_mlctl("serve", str(bundle), "--port", "0", "--workers", "2", cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert done.stderr.splitlines()[-1].startswith("mlctl: error: model iris failed to load:")


SLOW_WORKER_LOAD = (
    (IRIS / "contract.py").read_text()
    + """
import time
import skops.io

def load(model_dir):
    time.sleep(2)
    path = model_dir / "model.skops"
    return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
"""
)


def test_a_killed_worker_is_logged_and_its_replacement_takes_no_traffic_while_loading(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "slow-load"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "contract.py").write_text(SLOW_WORKER_LOAD)
    server = Server(str(bundle), "--workers", "2", "--no-access-log")
    lines: list[str] = []
    stream = server.process.stderr
    assert stream is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, "")))
    reader.start()
    try:
        server.wait_ready()
        deadline = time.monotonic() + 60
        while sum("is ready and serving" in line for line in lines) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        first = next(line for line in lines if "is ready" in line)
        victim = int(first.split("(pid ")[1].split(")")[0])
        os.kill(victim, signal.SIGKILL)
        statuses: list[int] = []
        deadline = time.monotonic() + 60
        while sum("is ready and serving" in line for line in lines) < 3:
            assert time.monotonic() < deadline, lines
            # the dead worker's queued connections are reset by the kernel: not an answer
            with contextlib.suppress(urllib.error.URLError, ConnectionError):
                statuses.append(server.post("/predict", {"features": [ROW]})[0])
        assert statuses and set(statuses) == {200}  # never a 503 "loading"
        replaced = f"(pid {victim}) was killed by signal 9; starting a replacement"
        assert any(replaced in line for line in lines)
    finally:
        server.process.send_signal(signal.SIGTERM)
        status = server.process.wait(timeout=60)
        reader.join(timeout=60)
    assert status == 0, lines
