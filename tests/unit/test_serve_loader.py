"""Safe model loading and the contract import."""

from __future__ import annotations

import hashlib
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import skops.io
import yaml
from sklearn.linear_model import LogisticRegression

from mlctl.errors import ExitStatus, UnsafeInput
from mlctl.serve.contract import ContractError, import_contract
from mlctl.serve.loader import load_bundle, verify_sha256
from mlctl.serve.runtime import BadRequest, ModelRuntime, UserCodeError

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"


class Doubler:
    """A custom type skops does not know, standing in for untrusted code."""

    def predict(self, features: np.ndarray) -> np.ndarray:
        return features * 2


def bundle_with(
    tmp_path: Path, model_section: dict[str, object], contract: str | None = None
) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((bundle / "mlctl.yaml").read_text())
    config["model"] = model_section
    (bundle / "mlctl.yaml").write_text(yaml.safe_dump(config))
    if contract is not None:
        (bundle / "contract.py").write_text(contract)
    return bundle


def test_the_iris_bundle_loads_and_predicts_end_to_end() -> None:
    bundle = load_bundle(IRIS)
    assert bundle.platform == "sklearn"
    runtime = ModelRuntime(bundle)
    features = runtime.preprocess({"features": [[5.1, 3.5, 1.4, 0.2]]})
    assert runtime.run_batch([features, features]) == [["setosa"], ["setosa"]]


def test_skops_types_outside_the_safe_set_are_refused_by_name(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"file": "doubler.skops", "format": "skops"})
    skops.io.dump(Doubler(), bundle / "doubler.skops")
    with pytest.raises(UnsafeInput, match=r"Doubler") as refused:
        load_bundle(bundle)
    assert refused.value.status is ExitStatus.UNSAFE
    assert "trusted_types" in (refused.value.hint or "")


def test_skops_types_listed_in_trusted_types_load(tmp_path: Path) -> None:
    bundle = bundle_with(
        tmp_path,
        {"file": "doubler.skops", "format": "skops", "trusted_types": [f"{__name__}.Doubler"]},
        contract="",
    )
    skops.io.dump(Doubler(), bundle / "doubler.skops")
    assert isinstance(load_bundle(bundle).model, Doubler)


def test_pickle_loads_only_with_the_matching_pinned_hash(tmp_path: Path) -> None:
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    data = pickle.dumps(model)
    digest = hashlib.sha256(data).hexdigest()
    bundle = bundle_with(tmp_path, {"file": "model.pkl", "format": "pickle", "sha256": digest}, "")
    (bundle / "model.pkl").write_bytes(data)
    assert load_bundle(bundle).model.predict([[1.0]]).tolist() == [1]

    (bundle / "model.pkl").write_bytes(data + b"tampered")
    with pytest.raises(UnsafeInput, match="refusing to unpickle"):
        load_bundle(bundle)


def test_an_unpinned_pickle_is_refused_with_why(tmp_path: Path) -> None:
    with pytest.raises(UnsafeInput, match="run arbitrary code"):
        verify_sha256(tmp_path / "m.pkl", b"data", None)


def test_onnx_models_load_and_predict_by_default(tmp_path: Path) -> None:
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    model = LogisticRegression().fit(np.array([[0.0, 0.0], [1.0, 1.0]], np.float32), [0, 1])
    onnx_model = skl2onnx.convert_sklearn(
        model, initial_types=[("x", FloatTensorType([None, 2]))], options={"zipmap": False}
    )
    bundle = bundle_with(tmp_path, {"file": "model.onnx", "format": "onnx"}, "")
    (bundle / "model.onnx").write_bytes(onnx_model.SerializeToString())
    loaded = load_bundle(bundle)
    assert loaded.platform == "onnxruntime"
    labels, probabilities = ModelRuntime(loaded).predict(np.array([[1, 1], [0, 0]], np.float32))
    assert labels.tolist() == [1, 0] and probabilities.shape == (2, 2)


def test_a_contract_that_fails_to_import_names_the_file(tmp_path: Path) -> None:
    bundle = bundle_with(
        tmp_path, {"file": "model.skops", "format": "skops"}, "import nowhere_to_be_found\n"
    )
    with pytest.raises(
        ContractError, match=r"contract\.py: importing it failed: ModuleNotFoundError"
    ):
        import_contract(bundle)


def test_a_contract_hook_that_is_not_callable_is_refused(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, {"file": "model.skops", "format": "skops"}, "preprocess = 3\n")
    with pytest.raises(ContractError, match="preprocess: must be a function"):
        import_contract(bundle)


def test_a_contract_may_import_its_own_helper_modules(tmp_path: Path) -> None:
    bundle = bundle_with(
        tmp_path,
        {"file": "model.skops", "format": "skops"},
        "from helper_for_iris_test import SCALE\n",
    )
    (bundle / "helper_for_iris_test.py").write_text("SCALE = 2\n")
    assert import_contract(bundle).preprocess is None


def test_contract_errors_are_split_into_client_and_bundle_faults(tmp_path: Path) -> None:
    contract = (
        "def preprocess(payload):\n"
        "    if payload == 'bad':\n"
        "        raise ValueError('bad payload')\n"
        "    raise ZeroDivisionError('bug')\n"
    )
    runtime = ModelRuntime(
        load_bundle(bundle_with(tmp_path, {"file": "model.skops", "format": "skops"}, contract))
    )
    with pytest.raises(BadRequest, match="bad payload"):
        runtime.preprocess("bad")
    with pytest.raises(UserCodeError, match="preprocess failed: ZeroDivisionError"):
        runtime.preprocess("other")


def test_one_poisoned_request_does_not_fail_its_batch_neighbours() -> None:
    runtime = ModelRuntime(load_bundle(IRIS))
    good = np.array([[5.1, 3.5, 1.4, 0.2]], np.float32)
    poisoned = np.array([[np.nan, 1.0, 1.0, 1.0]], np.float32)  # sklearn refuses NaN
    results = runtime.run_batch([good, poisoned, good])
    assert results[0] == ["setosa"] and results[2] == ["setosa"]
    assert isinstance(results[1], UserCodeError)
