"""The iris bundle's contract (seed 003): turn JSON into features, and predictions into names.

``mlctl serve`` imports this file from the bundle and calls the hooks it defines:
``preprocess(payload)`` for ``POST /predict`` bodies and ``postprocess(prediction)``
for the model's output. ``load`` and ``predict`` are not defined here, so the server
uses its defaults (load ``model.skops`` safely; call ``model.predict``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

CLASS_NAMES = ("setosa", "versicolor", "virginica")
N_FEATURES = 4  # sepal length, sepal width, petal length, petal width (cm)


def preprocess(payload: Any) -> np.ndarray:
    """``{"features": [[4 numbers], ...]}`` -> float32 array of shape (rows, 4).

    Raises ValueError with a message a client can act on; the server answers it with 400.
    """
    if not isinstance(payload, dict) or "features" not in payload:
        raise ValueError('expected a JSON object {"features": [[4 numbers], ...]}')
    rows = payload["features"]
    if not isinstance(rows, list) or not rows:
        raise ValueError('"features" must be a non-empty list of rows of 4 numbers')
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


def postprocess(prediction: Any) -> list[str]:
    """Class indices (0, 1, 2) -> class names, one per input row."""
    return [CLASS_NAMES[int(index)] for index in np.asarray(prediction).reshape(-1)]
