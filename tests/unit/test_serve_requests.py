"""What the app refuses and how, in-process: each hostile or faulty request class of issue 14.

The real-socket attacks (headers, slow and silent connections) are in
tests/integration/test_serve_hostile.py; the OpenAPI fuzzing in test_serve_fuzz.py.
"""

from __future__ import annotations

import io
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tests.unit.test_serve_app import ROW, copy_iris, log_lines, start, wait_ready

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"
ONNX = IRIS.parent / "iris-onnx"
INFER = "/v2/models/iris/infer"
BINARY = {"binary_data": True}


@pytest.fixture
def log_stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def client(log_stream: io.StringIO) -> Iterator[TestClient]:
    with start(IRIS, log_stream) as c:
        wait_ready(c)
        yield c


def infer(data: object, shape: list[int], datatype: str = "FP32", **extra: object) -> dict:
    return {
        "inputs": [{"name": "features", "shape": shape, "datatype": datatype, "data": data}],
        **extra,
    }


# --- bounded work: outputs are named once, and only known ones -----------------------------


def test_duplicate_and_unknown_outputs_are_refused(log_stream: io.StringIO) -> None:
    with start(ONNX, log_stream) as client:
        wait_ready(client)
        path = "/v2/models/iris-onnx/infer"
        twice = infer(ROW, [1, 4], outputs=[{"name": "probabilities"}] * 2000)
        response = client.post(path, json=twice)
        assert response.status_code == 400
        assert "requested twice" in response.json()["error"]
        unknown = client.post(path, json=infer(ROW, [1, 4], outputs=[{"name": "nope"}]))
        assert unknown.status_code == 400 and "unknown output" in unknown.json()["error"]
        both = infer(ROW, [1, 4], outputs=[{"name": "label"}, {"name": "probabilities"}])
        answer = client.post(path, json=both).json()
        assert [o["name"] for o in answer["outputs"]] == ["label", "probabilities"]


def test_a_response_over_the_limit_is_refused(log_stream: io.StringIO) -> None:
    with start(ONNX, log_stream, max_response_bytes=4096) as client:
        wait_ready(client)
        path = "/v2/models/iris-onnx/infer"
        small = client.post(path, json=infer([ROW], [1, 4]))
        assert small.status_code == 200
        rows = [ROW] * 200  # about 12 kB of answer
        large = client.post(path, json=infer(rows, [200, 4]))
        assert large.status_code == 400
        assert "limit of 4096 bytes" in large.json()["error"]
        predict = client.post("/predict", json={"features": rows})
        assert predict.status_code == 400 and "limit" in predict.json()["error"]


# --- OIP inputs: types, finiteness, empty batches, duplicates, id ---------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (infer([None, 1, 2, 3], [1, 4]), "found null"),
        (infer([1e39, 1, 2, 3], [1, 4]), "NaN or infinity"),
        (infer([1, 2, 3, True], [1, 4]), "found true/false"),
        (infer([1, 2, 3, "4"], [1, 4]), "found strings"),
        (infer([[1, 2], [3, 4, 5, 6]], [1, 4]), "nested lists"),
        (infer([], [0, 4]), "holds no values"),
        (
            {
                "inputs": [
                    {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": ROW},
                    {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": ROW},
                ]
            },
            "given twice",
        ),
        (infer(ROW, [1, 4], id={"a": 1}), "'id' must be a string"),
        (infer(ROW, [1, 4], id=7), "'id' must be a string"),
        (infer(ROW, [1, 4], parameters={"binary_data_output": "yes"}), "true or false"),
    ],
)
def test_oip_inputs_are_checked_element_by_element(
    client: TestClient, body: dict, fragment: str
) -> None:
    response = client.post(INFER, json=body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


def test_nan_in_binary_tensor_data_is_refused(client: TestClient) -> None:
    import numpy as np

    values = np.array([[np.nan, 1, 2, 3]], dtype="<f4")
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "features",
                    "shape": [1, 4],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": values.nbytes},
                }
            ]
        }
    ).encode()
    response = client.post(
        INFER,
        content=header + values.tobytes(),
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert response.status_code == 400 and "NaN" in response.json()["error"]


@pytest.mark.parametrize("route", ["/predict", "/preprocess"])
@pytest.mark.parametrize(
    ("body", "fragment"),
    [({"features": []}, "at least one row"), ({"features": [[1, 2, 3, 1e39]]}, "finite")],
)
def test_every_route_refuses_empty_batches_and_non_finite_values(
    tmp_path: Path, log_stream: io.StringIO, route: str, body: dict, fragment: str
) -> None:
    # No contract: the server's default preprocess and its feature check decide.
    bundle = copy_iris(tmp_path / "plain")
    (bundle / "contract.py").write_text(
        "import numpy as np\n"
        "CLASS_NAMES = ('setosa', 'versicolor', 'virginica')\n"
        "def postprocess(prediction):\n"
        "    return [CLASS_NAMES[int(i)] for i in np.asarray(prediction).reshape(-1)]\n"
    )
    with start(bundle, log_stream) as client:
        wait_ready(client)
        response = client.post(route, json=body)
        assert response.status_code == 400, response.text
        assert fragment in response.json()["error"]
        good = client.post("/predict", json={"features": [ROW]})
        assert good.json() == {"predictions": ["setosa"]}


def test_405_names_the_allowed_method(client: TestClient) -> None:
    response = client.get("/predict")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "error" in response.json()
    allowed = client.delete("/readyz").headers["allow"]
    assert set(allowed.split(", ")) == {"GET", "HEAD"}


# --- BYTES outputs ---------------------------------------------------------------------------

BINARY_LABELS = """
import numpy as np

def postprocess(prediction):
    return [b"\\xff\\xferaw" for _ in np.asarray(prediction).reshape(-1)]
"""


def test_bytes_that_are_not_utf8_are_never_replaced_silently(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    bundle = copy_iris(tmp_path / "raw", contract=BINARY_LABELS)
    with start(bundle, log_stream) as client:
        wait_ready(client)
        as_json = client.post(INFER, json=infer(ROW, [1, 4]))
        assert as_json.status_code == 400
        assert "not UTF-8" in as_json.json()["error"]
        assert "binary_data" in as_json.json()["error"]
        binary = client.post(
            INFER,
            json=infer(
                ROW, [1, 4], outputs=[{"name": "label", "parameters": {"binary_data": True}}]
            ),
        )
        assert binary.status_code == 200
        header_length = int(binary.headers["inference-header-content-length"])
        assert binary.content[header_length:] == b"\x05\x00\x00\x00\xff\xferaw"


# --- faulty contracts: row counts, threads, timeouts -------------------------------------------

TOO_MANY_ROWS = """
import numpy as np

def predict(model, features):
    return np.zeros(len(features) + 2, dtype=int)
"""


def test_a_model_answering_the_wrong_number_of_rows_is_a_500(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    bundle = copy_iris(tmp_path / "rows")
    (bundle / "contract.py").write_text((IRIS / "contract.py").read_text() + TOO_MANY_ROWS)
    with start(bundle, log_stream) as client:
        wait_ready(client)
        for path, body in [("/predict", {"features": [ROW]}), (INFER, infer(ROW, [1, 4]))]:
            response = client.post(path, json=body)
            assert response.status_code == 500, response.text
            assert "error_id" in response.json()
    report = next(line for line in log_lines(log_stream) if line.get("level") == "error")
    assert "3 rows for 1 input rows" in str(report["message"])


WHERE_HOOKS_RUN = """
import threading
import numpy as np

def load(model_dir):
    global LOADED_ON
    LOADED_ON = threading.current_thread().name
    import skops.io
    path = model_dir / "model.skops"
    return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))

def preprocess(payload):
    if payload.get("where"):
        raise ValueError(f"load={LOADED_ON} preprocess={threading.current_thread().name}")
    return np.asarray(payload["features"], dtype=np.float32)

def postprocess(prediction):
    return [threading.current_thread().name for _ in range(len(prediction))]
"""


def test_every_hook_runs_off_the_event_loop(tmp_path: Path, log_stream: io.StringIO) -> None:
    bundle = copy_iris(tmp_path / "threads", contract=WHERE_HOOKS_RUN)
    with start(bundle, log_stream) as client:
        wait_ready(client)
        where = client.post("/predict", json={"where": True}).json()["error"]
        assert where == "load=mlctl-load preprocess=mlctl-model"
        assert client.post("/predict", json={"features": [ROW]}).json() == {
            "predictions": ["mlctl-model"]
        }
        assert client.post("/postprocess", json={"predictions": [0]}).json() == {
            "predictions": ["mlctl-model"]
        }


SLOW_PREDICT = """
import time
import numpy as np
from pathlib import Path

def preprocess(payload):
    return np.asarray(payload["features"], dtype=np.float32)

def predict(model, features):
    gate = Path(__file__).with_name("gate")
    while not gate.exists():  # hangs until the test opens the gate
        time.sleep(0.01)
    return model.predict(features)
"""


def test_a_hung_model_times_out_with_an_error_id_and_readiness_says_so(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    bundle = copy_iris(tmp_path / "hung", contract=SLOW_PREDICT)
    with start(bundle, log_stream, inference_timeout_s=0.3) as client:
        wait_ready(client)
        response = client.post("/predict", json={"features": [ROW]})
        assert response.status_code == 504
        error_id = response.json()["error_id"]
        assert "within 0.3 s" in response.json()["error"] and error_id in response.json()["error"]
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 503:
            assert time.monotonic() < deadline, "readiness never reported the stuck model"
            time.sleep(0.05)
        assert "stuck" in client.get("/readyz").json()["error"]
        assert client.get("/v2/health/ready").status_code == 400
        assert client.get("/healthz").status_code == 200  # alive, just not ready
        (bundle / "gate").touch()
        wait_ready(client)  # the batch came back: ready again
        assert client.post("/predict", json={"features": [ROW]}).status_code == 200
    logged = [line for line in log_lines(log_stream) if line.get("error_id") == error_id]
    assert logged and "traceback" not in logged[0]


def test_load_failures_reach_clients_as_generic_text(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    bundle = copy_iris(tmp_path / "secret-path-xyz")
    (bundle / "model.skops").write_bytes(b"not a zip file")
    with start(bundle, log_stream) as client:
        deadline = time.monotonic() + 30
        while "failed to load" not in client.get("/readyz").text:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for response in (client.get("/readyz"), client.post("/predict", json={"features": []})):
            assert response.status_code == 503
            assert "secret-path-xyz" not in response.text
            assert "error id" in response.json()["error"]
    report = next(line for line in log_lines(log_stream) if line.get("level") == "error")
    assert "secret-path-xyz" in str(report["message"])  # the details are in the log
    assert "traceback" not in report  # a known refusal needs no traceback


def test_observers_see_every_answered_model_request(client: TestClient) -> None:
    seen: list[tuple[str, object]] = []
    state = client.app.state.server  # type: ignore[attr-defined]
    state.observers.append(lambda exchange: 1 / 0)  # a broken observer harms no one
    state.observers.append(lambda exchange: seen.append((exchange.route, exchange.reply.result)))
    client.post("/predict", json={"features": [ROW]})
    client.post(INFER, json=infer(ROW, [1, 4]))
    deadline = time.monotonic() + 10
    while len(seen) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert seen[0] == ("/predict", ["setosa"])
    assert seen[1][0] == INFER


def test_the_openapi_document_describes_the_served_model(client: TestClient) -> None:
    document = client.get("/v2/openapi.json").json()
    assert document["openapi"].startswith("3.")
    infer_path = document["paths"]["/v2/models/{model_name}/infer"]
    assert infer_path["parameters"][0]["schema"]["enum"] == ["iris"]
    assert {"200", "400", "404", "413", "503", "504"} <= set(infer_path["post"]["responses"])
