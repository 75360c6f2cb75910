"""Join many requests' features into one batch, and split a batch prediction back.

Micro-batching assumes the model is row-wise: row i of the output depends only on row i
of the input. Features and predictions may be an array, a list, or a dict of those
(one entry per named tensor); the batch axis is always the first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def count_rows(features: Any) -> int:
    """Rows in ``features`` (the first dimension); a dict counts its first entry."""
    if type(features) is np.ndarray:  # the usual case, before the slower ABC check
        return int(features.shape[0]) if features.ndim else 1
    if isinstance(features, Mapping):
        first = next(iter(features.values()), None)
        return 0 if first is None else count_rows(first)
    if isinstance(features, np.ndarray):
        return int(features.shape[0]) if features.ndim else 1
    if isinstance(features, (list, tuple)):
        return len(features)
    return 1


def concat_rows(parts: Sequence[Any]) -> Any:
    """One batch from several requests' features, in order."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    if isinstance(first, Mapping):
        return {key: concat_rows([part[key] for part in parts]) for key in first}
    if isinstance(first, np.ndarray):
        return np.concatenate(parts, axis=0)
    if isinstance(first, list):
        return [row for part in parts for row in part]
    raise TypeError(f"cannot batch features of type {type(first).__name__}")


def split_rows(prediction: Any, sizes: Sequence[int]) -> list[Any]:
    """Cut a batch prediction into consecutive pieces of ``sizes`` rows.

    The row count is checked for a lone request too: a model that answers 3 rows for 1
    must not be passed on as if it had answered that request.
    """
    if isinstance(prediction, Mapping):
        columns = {key: split_rows(value, sizes) for key, value in prediction.items()}
        return [{key: pieces[i] for key, pieces in columns.items()} for i in range(len(sizes))]
    if isinstance(prediction, tuple):  # several outputs, e.g. an ONNX session's list
        per_output = [split_rows(value, sizes) for value in prediction]
        return [tuple(pieces[i] for pieces in per_output) for i in range(len(sizes))]
    total = count_rows(prediction)
    if total != sum(sizes):
        raise ValueError(
            f"the model returned {total} rows for {sum(sizes)} input rows; "
            "predict must answer one row per input row"
        )
    if len(sizes) == 1:
        return [prediction]
    pieces: list[Any] = []
    start = 0
    for size in sizes:
        pieces.append(prediction[start : start + size])
        start += size
    return pieces
