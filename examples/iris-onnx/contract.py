"""The ONNX iris bundle's contract: JSON rows in, class names and probabilities out.

The server loads ``model.onnx`` into an onnxruntime session itself and runs it with
every output, in the graph's order: ``(label, probabilities)``. This file only checks
the request and names the classes; it defines no ``load`` or ``predict`` hook.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CLASS_NAMES = ("setosa", "versicolor", "virginica")
N_FEATURES = 4  # sepal length, sepal width, petal length, petal width (cm)


def preprocess(payload: Any) -> np.ndarray:
    """``{"features": [[4 numbers], ...]}`` -> float32 array (rows, 4); ValueError -> 400."""
    rows = payload.get("features") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ValueError('expected a JSON object {"features": [[4 numbers], ...]}')
    try:
        features = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f'"features" must hold numbers only: {exc}') from None
    if features.ndim != 2 or features.shape[1] != N_FEATURES:
        raise ValueError(
            f'"features" must have shape [rows, {N_FEATURES}], got {list(features.shape)}'
        )
    if not np.isfinite(features).all():
        raise ValueError('"features" must be finite numbers (no NaN or infinity)')
    return features


def postprocess(prediction: Any) -> dict[str, Any]:
    """The session's ``(label, probabilities)`` -> class names and per-class probabilities."""
    labels, probabilities = prediction
    return {
        "label": [CLASS_NAMES[int(index)] for index in np.asarray(labels).reshape(-1)],
        "probabilities": np.asarray(probabilities, dtype=np.float32).tolist(),
    }
