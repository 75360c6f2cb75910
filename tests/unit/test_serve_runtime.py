"""The model path on its own: how batched requests become predict calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlctl.serve.loader import LoadedBundle, load_bundle
from mlctl.serve.runtime import ModelRuntime, UserCodeError

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"
ROWS_64 = np.tile(np.array([[5.1, 3.5, 1.4, 0.2]], np.float32), (64, 1))


@pytest.fixture(scope="module")
def bundle() -> LoadedBundle:
    return load_bundle(IRIS)


@pytest.mark.parametrize(
    ("max_rows", "calls"),
    [(2048, [192]), (128, [128, 64]), (100, [64, 64, 64]), (10, [64, 64, 64])],
)
def test_requests_larger_than_a_row_limit_still_share_predict_calls(
    bundle: LoadedBundle, max_rows: int, calls: list[int]
) -> None:
    seen: list[int] = []
    runtime = ModelRuntime(bundle, max_batch_rows=max_rows, on_model_call=seen.append)
    results = runtime.run_batch([ROWS_64, ROWS_64, ROWS_64])
    assert seen == calls
    assert [len(r) for r in results] == [64, 64, 64]


def test_a_lone_request_answered_with_the_wrong_row_count_is_a_bundle_error(
    bundle: LoadedBundle,
) -> None:
    runtime = ModelRuntime(bundle)
    runtime.predict = lambda features: np.zeros(len(features) + 2, dtype=int)  # type: ignore[method-assign]
    (result,) = runtime.run_batch([ROWS_64[:1]])
    assert isinstance(result, UserCodeError)
    assert "3 rows for 1 input rows" in str(result)
