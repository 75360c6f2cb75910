"""Prediction notifications from the real model server: rules in mlctl.yaml and the
contract's on_prediction hook, evaluated off the request path, sent to a webhook."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
import yaml

from mlctl.bundle.validate import validate_bundle
from tests.integration.monitor_servers import WebhookSink
from tests.integration.monitor_support import wait_for
from tests.unit.test_serve_app import IRIS, start, wait_ready

VIRGINICA = [6.7, 3.0, 5.2, 2.3]
SETOSA = [5.1, 3.5, 1.4, 0.2]
HOOK = '''

def on_prediction(predictions):
    """Off the request path: one extra notification when a batch is all setosa."""
    if predictions and all(p == "setosa" for p in predictions):
        return [{"rule": "all-setosa", "summary": "only setosa here", "severity": "info"}]
    return None
'''


@pytest.fixture
def bundle(tmp_path: Path, webhook_sink: WebhookSink) -> Path:
    target = tmp_path / "iris"
    shutil.copytree(IRIS, target, ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((target / "mlctl.yaml").read_text())
    config["alerts"] = {
        "predictions": [
            {"name": "virginica", "equals": "virginica", "severity": "warning",
             "message": "a virginica was predicted"}
        ],
        "notify": {"webhook": webhook_sink.url, "token_env": "PRED_HOOK_TOKEN"},
    }  # fmt: skip
    (target / "mlctl.yaml").write_text(yaml.safe_dump(config))
    with (target / "contract.py").open("a") as handle:
        handle.write(HOOK)
    return target


def test_rules_and_the_hook_notify_after_predictions(
    bundle: Path, webhook_sink: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = validate_bundle(bundle)
    assert report.ok, report.problems
    assert "on_prediction" in report.hooks
    monkeypatch.setenv("PRED_HOOK_TOKEN", "pred-token-123456")
    with start(bundle, io.StringIO()) as client:
        wait_ready(client)
        for _ in range(3):
            answer = client.post("/predict", json={"features": [VIRGINICA, SETOSA]})
            assert answer.json() == {"predictions": ["virginica", "setosa"]}
        assert client.post("/predict", json={"features": [SETOSA]}).status_code == 200
        infer = client.post(
            "/v2/models/iris/infer",
            json={"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32",
                              "data": VIRGINICA}]},
        )  # fmt: skip
        assert infer.status_code == 200
    # Stopping the server flushed the window: one notification per rule.
    bodies = wait_for(lambda: webhook_sink.bodies(), "the notifications")
    by_rule = {b["alerts"][0]["labels"]["rule"]: b["alerts"][0] for b in bodies}
    assert set(by_rule) == {"virginica", "all-setosa"}
    virginica = by_rule["virginica"]
    assert virginica["labels"]["alertname"] == "ModelPredictionRule"
    assert virginica["annotations"]["summary"] == "a virginica was predicted"
    # three /predict answers and one OIP infer answer (it goes through postprocess too)
    assert virginica["annotations"]["description"].startswith("4 predictions of iris")
    assert by_rule["all-setosa"]["annotations"]["summary"] == "only setosa here"
    assert webhook_sink.headers[0]["authorization"] == "Bearer pred-token-123456"
