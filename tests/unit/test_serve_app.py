"""The Starlette app in-process (Starlette's TestClient runs the lifespan, so loading too)."""

from __future__ import annotations

import io
import json
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

with warnings.catch_warnings():  # starlette >= 1.x prefers httpx2 for its TestClient; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from mlctl.serve.app import make_app
from mlctl.serve.http import EventLog
from mlctl.serve.options import ServeOptions

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"
ROW = [5.1, 3.5, 1.4, 0.2]


def copy_iris(target: Path, contract: str | None = None, **serving: object) -> Path:
    shutil.copytree(IRIS, target, ignore=shutil.ignore_patterns("__pycache__"))
    if contract is not None:
        (target / "contract.py").write_text(contract)
    if serving:
        config = yaml.safe_load((target / "mlctl.yaml").read_text())
        config["serving"].update(serving)
        (target / "mlctl.yaml").write_text(yaml.safe_dump(config))
    return target


def wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "model did not load"
        time.sleep(0.01)


@pytest.fixture
def log_stream() -> io.StringIO:
    return io.StringIO()


def start(bundle: Path, log_stream: io.StringIO, **options: object) -> TestClient:
    app = make_app(ServeOptions(bundle_dir=bundle, **options), log=EventLog(log_stream))  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(log_stream: io.StringIO) -> Iterator[TestClient]:
    with start(IRIS, log_stream) as test_client:
        wait_ready(test_client)
        yield test_client


def log_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- the simple JSON API -------------------------------------------------------------


def test_predict_runs_the_contract_and_returns_class_names(client: TestClient) -> None:
    response = client.post("/predict", json={"features": [ROW, [6.7, 3.0, 5.2, 2.3]]})
    assert response.status_code == 200
    assert response.json() == {"predictions": ["setosa", "virginica"]}


def test_preprocess_and_postprocess_expose_the_contract_stages(client: TestClient) -> None:
    features = client.post("/preprocess", json={"features": [ROW]}).json()["features"]
    assert features[0] == pytest.approx(ROW)
    answer = client.post("/postprocess", json={"predictions": [0, 2]})
    assert answer.json() == {"predictions": ["setosa", "virginica"]}


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/healthCheck").status_code == 200
    assert client.get("/readyz").json()["status"] == "ready"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"rows": []}', "expected a JSON object"),
        (b'{"features": [[1, 2, 3]]}', "shape [rows, 4]"),
        (b'{"features": [["a", "b", "c", "d"]]}', "numbers only"),
    ],
)
def test_bad_payloads_are_400_with_a_json_error(
    client: TestClient, body: bytes, fragment: str
) -> None:
    response = client.post("/predict", content=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_unknown_routes_and_methods_answer_json(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and "error" in missing.json()
    wrong_method = client.get("/predict")
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


def test_bodies_over_the_limit_are_413_by_header_and_by_count(log_stream: io.StringIO) -> None:
    with start(IRIS, log_stream, max_body_bytes=2048) as client:
        wait_ready(client)
        big = json.dumps({"features": [ROW] * 200}).encode()
        assert client.post("/predict", content=big).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: the stream is counted
            for _ in range(10):
                yield b" " * 1000

        streamed = client.post("/predict", content=chunks())
        assert streamed.status_code == 413
        assert "over the limit" in streamed.json()["error"]
        assert client.post("/predict", json={"features": [ROW]}).status_code == 200


# --- failures inside the bundle's own code -----------------------------------------------

BROKEN_POSTPROCESS = """
import numpy as np

def preprocess(payload):
    return np.asarray(payload["features"], dtype=np.float32)

def postprocess(prediction):
    raise KeyError("label table missing")
"""


def test_a_contract_exception_is_500_with_an_error_id_that_is_logged(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    bundle = copy_iris(tmp_path / "broken", contract=BROKEN_POSTPROCESS)
    with start(bundle, log_stream) as client:
        wait_ready(client)
        response = client.post("/predict", json={"features": [ROW]})
        assert response.status_code == 500
        error_id = response.json()["error_id"]
        assert error_id in response.json()["error"]
        assert client.get("/healthz").status_code == 200  # still serving
    lines = log_lines(log_stream)
    report = next(line for line in lines if line.get("level") == "error")
    assert report["error_id"] == error_id
    assert "label table missing" in str(report["traceback"])
    access = next(line for line in lines if line.get("path") == "/predict")
    assert access["status"] == 500 and access["error_id"] == error_id


def test_a_bundle_whose_model_fails_to_load_stays_live_but_never_ready(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    bundle = copy_iris(tmp_path / "corrupt")
    (bundle / "model.skops").write_bytes(b"not a zip file")
    with start(bundle, log_stream) as client:
        deadline = time.monotonic() + 30
        while "failed to load" not in client.get("/readyz").text:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
        assert client.post("/predict", json={"features": [ROW]}).status_code == 503


# --- Open Inference Protocol v2 ----------------------------------------------------------


def test_server_and_model_metadata(client: TestClient) -> None:
    assert client.get("/v2").json()["name"] == "mlctl"
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/iris/ready").status_code == 200
    assert client.get("/v2/models/iris/versions/1.0.0/ready").status_code == 200
    metadata = client.get("/v2/models/iris").json()
    assert metadata == {
        "name": "iris",
        "versions": ["1.0.0"],
        "platform": "sklearn",
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "label", "datatype": "BYTES", "shape": [-1]}],
    }


def infer_body(
    data: object, shape: list[int], datatype: str = "FP32", **extra: object
) -> dict[str, object]:
    return {
        "inputs": [{"name": "features", "shape": shape, "datatype": datatype, "data": data}],
        **extra,
    }


def test_infer_with_flat_and_nested_data_echoes_the_id(client: TestClient) -> None:
    flat = client.post(
        "/v2/models/iris/infer", json=infer_body([*ROW, 6.7, 3.0, 5.2, 2.3], [2, 4], id="r1")
    )
    assert flat.status_code == 200
    assert flat.json() == {
        "model_name": "iris",
        "model_version": "1.0.0",
        "id": "r1",
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["setosa", "virginica"]}
        ],
    }
    nested = client.post("/v2/models/iris/versions/1.0.0/infer", json=infer_body([ROW], [1, 4]))
    assert nested.json()["outputs"][0]["data"] == ["setosa"]
    assert "id" not in nested.json()


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("/v2/models/other/infer", infer_body(ROW, [1, 4]), 404, "unknown model"),
        ("/v2/models/iris/versions/9/infer", infer_body(ROW, [1, 4]), 404, "unknown version"),
        ("/v2/models/iris/infer", infer_body(ROW, [1, 4], "FP64"), 400, "datatype"),
        ("/v2/models/iris/infer", infer_body(ROW, [1, 3]), 400, "does not match"),
        ("/v2/models/iris/infer", infer_body(ROW, [2, 4]), 400, "needs 8 values"),
        ("/v2/models/iris/infer", infer_body(["a", "b", "c", "d"], [1, 4]), 400, "must be numbers"),
        ("/v2/models/iris/infer", {"inputs": []}, 400, "non-empty"),
        (
            "/v2/models/iris/infer",
            {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]},
            400,
            "unknown input",
        ),
        (
            "/v2/models/iris/infer",
            infer_body(ROW, [1, 4], outputs=[{"name": "proba"}]),
            400,
            "unknown output",
        ),
    ],
)
def test_infer_rejects_bad_requests(
    client: TestClient, path: str, body: dict[str, object], status: int, fragment: str
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status
    assert fragment in response.json()["error"]


def test_unknown_model_metadata_is_404(client: TestClient) -> None:
    assert client.get("/v2/models/other").status_code == 404
    assert client.get("/v2/models/other/ready").status_code == 404


# --- metrics and logs --------------------------------------------------------------------


def test_metrics_count_requests_batches_and_load_time(
    client: TestClient, log_stream: io.StringIO
) -> None:
    client.post("/predict", json={"features": [ROW, ROW, ROW]})
    client.post("/predict", content=b"{")
    text = client.get("/metrics").text
    assert 'mlctl_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'mlctl_requests_total{method="POST",route="/predict",status="400"} 1.0' in text
    assert 'mlctl_request_duration_seconds_count{route="/predict"} 2.0' in text
    assert 'mlctl_batch_rows_bucket{le="4.0",model="iris"} 1.0' in text
    assert "mlctl_queue_seconds_count" in text and "mlctl_compute_seconds_count" in text
    assert 'mlctl_model_ready{model="iris"} 1.0' in text
    assert "mlctl_requests_in_flight" in text
    load = next(line for line in text.splitlines() if line.startswith("mlctl_model_load_seconds{"))
    assert float(load.split()[-1]) > 0
    client.app.state.server.log.flush()  # access lines are written in batches
    access = [line for line in log_lines(log_stream) if line.get("path") == "/predict"]
    assert [line["status"] for line in access] == [200, 400]
    assert all(isinstance(line["duration_ms"], float) for line in access)
