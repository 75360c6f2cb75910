"""The best trial as a ready-to-deploy bundle: mlctl.yaml, model.skops, contract.py.

The model is the trial's scikit-learn Pipeline (its fitted preprocessing plus the
estimator), so the bundle predicts exactly what the trial scored. ``contract.py`` turns
request JSON into the rows the Pipeline takes (column order, numbers, categories) and
class indices back into the dataset's labels: the same steps the trial took.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from mlctl.bundle.validate import validate_bundle
from mlctl.errors import Conflict, InvalidInput

#: Estimator module -> the package serving needs besides scikit-learn.
PACKAGES = {"lightgbm": "lightgbm>=4.0", "xgboost": "xgboost>=2.0"}

CONTRACT = '''"""Contract of a model trained by `mlctl train` (run {run}, candidate {candidate}).

Requests: {{"features": [[one value per column, in COLUMNS order], ...]}} or
{{"records": [{{"column": value, ...}}, ...]}}. Missing values may be null.
The model is a scikit-learn Pipeline holding the trial's fitted preprocessing
(imputation{onehot}) and the estimator; this file repeats the trial's input handling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

COLUMNS = {columns}
CATEGORICAL = {categorical}
CLASSES = {classes}


def _row(record: Any) -> list[Any]:
    if isinstance(record, dict):
        unknown = sorted(set(record) - set(COLUMNS))
        if unknown:
            raise ValueError(f"unknown columns: {{', '.join(unknown)}}")
        return [record.get(name) for name in COLUMNS]
    if not isinstance(record, list) or len(record) != len(COLUMNS):
        raise ValueError(f"each row needs {{len(COLUMNS)}} values, in this order: {{COLUMNS}}")
    return record


def _cell(name: str, value: Any) -> Any:
    if name in CATEGORICAL:
        return None if value is None else str(value)
    if value is None:
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"column {{name}}: {{value!r}} is not a number")
    return float(value)


def preprocess(payload: Any) -> np.ndarray:
    """The request's rows as an array (numbers as float64; with categories, objects)."""
    if not isinstance(payload, dict):
        raise ValueError('expected {{"features": [[...], ...]}} or {{"records": [{{...}}, ...]}}')
    rows = payload.get("features", payload.get("records"))
    if not isinstance(rows, list) or not rows:
        raise ValueError('"features" (or "records") must be a non-empty list of rows')
    cells = [[_cell(n, v) for n, v in zip(COLUMNS, _row(r), strict=True)] for r in rows]
    return np.asarray(cells, dtype=object if CATEGORICAL else np.float64)


def predict(model: Any, features: np.ndarray) -> Any:
    if not CATEGORICAL:
        return model.predict(np.asarray(features, dtype=np.float64))
    import pandas as pd

    frame = pd.DataFrame(features, columns=COLUMNS)
    numeric = [c for c in COLUMNS if c not in CATEGORICAL]
    frame[numeric] = frame[numeric].astype(float)
    return model.predict(frame)


def postprocess(prediction: Any) -> list[Any]:
    """Class indices back to the dataset's labels; numbers stay numbers."""
    values = np.asarray(prediction).tolist()
    if CLASSES is None:
        return [float(v) for v in values]
    return [CLASSES[int(v)] for v in values]
'''


def bundle_name(text: str) -> str:
    """A DNS label from a dataset's file name (``Breast_Cancer.csv`` → ``breast-cancer``)."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].strip("-")
    return name or "model"


def _output_datatype(classes: list[Any] | None) -> str:
    if classes is None:
        return "FP64"
    if all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "INT64"
    if all(isinstance(c, int | float) and not isinstance(c, bool) for c in classes):
        return "FP64"
    return "BYTES"


def _requirements(result: dict[str, Any]) -> list[str]:
    import sklearn

    major_minor = ".".join(sklearn.__version__.split(".")[:2])
    reqs = [f"scikit-learn>={major_minor}", "skops>=0.10"]
    top = str(result.get("estimator", "")).split(".")[0]
    if top in PACKAGES:
        reqs.append(PACKAGES[top])
    if result["columns"]["categorical"]:
        reqs.append("pandas>=2.0")
    return reqs


def config_for(name: str, version: str, result: dict[str, Any], dataset: str) -> dict[str, Any]:
    columns = [*result["columns"]["numeric"], *result["columns"]["categorical"]]
    classes = result.get("classes") or None
    metric = result["metric"]
    return {
        "name": name,
        "version": version,
        "description": (
            f"{result['candidate']} trained by mlctl train (run {result['run']}) on {dataset}: "
            f"{metric} {result['cv_score']:.4f} (cross-validated), "
            f"{result['holdout_score']:.4f} (held-out rows)"
        ),
        "model": {
            "file": "model.skops",
            "format": "skops",
            "trusted_types": list(result.get("untrusted_types") or []),
        },
        "requirements": _requirements(result),
        "signature": {
            "inputs": [
                {
                    "name": "features",
                    "datatype": "BYTES" if result["columns"]["categorical"] else "FP64",
                    "shape": [-1, len(columns)],
                }
            ],
            "outputs": [
                {"name": "prediction", "datatype": _output_datatype(classes), "shape": [-1]}
            ],
        },
        "resources": {"cpu": 500, "memory": 512},
        "replicas": 1,
    }


def contract_source(result: dict[str, Any]) -> str:
    columns = [*result["columns"]["numeric"], *result["columns"]["categorical"]]
    classes = result.get("classes") or None
    categorical = result["columns"]["categorical"]
    return CONTRACT.format(
        run=result["run"],
        candidate=result["candidate"],
        onehot=", one-hot encoding" if categorical else "",
        columns=json.dumps(columns),
        categorical=json.dumps(categorical),
        classes="None" if classes is None else repr(classes),
    )


def write_bundle(
    target: Path, result: dict[str, Any], model: bytes, *, name: str, version: str, dataset: str
) -> Path:
    """Write the bundle directory (must be absent or empty) and check that it validates."""
    if target.exists() and any(target.iterdir()):
        raise Conflict(f"{target} exists and is not empty", hint="choose another --out directory")
    target.mkdir(parents=True, exist_ok=True)
    (target / "model.skops").write_bytes(model)
    (target / "contract.py").write_text(contract_source(result), encoding="utf-8")
    config = config_for(name, version, result, dataset)
    (target / "mlctl.yaml").write_text(
        "# Written by mlctl train; edit freely (README: The bundle contract).\n"
        + yaml.safe_dump(config, sort_keys=False),
        encoding="utf-8",
    )
    report = validate_bundle(target)
    if not report.ok:
        raise InvalidInput(
            f"the trained bundle at {target} does not validate: {report.errors[0]}",
            hint="a bug in mlctl train; report it with the run id",
        )
    return target
