"""examples/iris-onnx: loadable by onnxruntime with the documented tensors, and regenerable."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from sklearn.datasets import load_iris

from mlctl.serve.loader import load_bundle
from mlctl.serve.runtime import ModelRuntime

ONNX_DIR = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx"


def _session(model: bytes | str) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])


def test_committed_model_has_the_documented_tensors() -> None:
    session = _session(str(ONNX_DIR / "model.onnx"))
    inputs = [(i.name, i.type, i.shape[1:]) for i in session.get_inputs()]
    outputs = [(o.name, o.type) for o in session.get_outputs()]
    assert inputs == [("features", "tensor(float)", [4])]
    assert outputs == [("label", "tensor(int64)"), ("probabilities", "tensor(float)")]


def test_train_py_regenerates_an_equivalent_model() -> None:
    pytest.importorskip("skl2onnx")
    spec = importlib.util.spec_from_file_location("iris_onnx_train", ONNX_DIR / "train.py")
    assert spec is not None and spec.loader is not None
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    rebuilt = _session(train.export(train.train()))
    committed = _session(str(ONNX_DIR / "model.onnx"))
    features = load_iris().data.astype(np.float32)
    new_label, new_proba = rebuilt.run(None, {"features": features})
    old_label, old_proba = committed.run(None, {"features": features})
    np.testing.assert_array_equal(new_label, old_label)
    np.testing.assert_allclose(new_proba, old_proba, rtol=1e-5, atol=1e-6)
    assert (new_label == load_iris().target).mean() > 0.95


def test_served_through_the_model_server_runtime() -> None:
    runtime = ModelRuntime(load_bundle(ONNX_DIR))
    features = runtime.preprocess({"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]})
    result = runtime.run_batch([features])[0]
    assert result["label"] == ["setosa", "virginica"]
    assert np.allclose(np.sum(result["probabilities"], axis=1), 1.0, atol=1e-5)
