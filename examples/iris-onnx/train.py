"""Train the iris classifier and export it to ONNX as ``model.onnx`` next to this file.

Deterministic: sklearn's bundled iris data (no download), a fixed seed, and a fixed
ONNX opset, so rerunning it writes the same bytes (with the same library versions).
The graph takes one input ``features`` (FP32, shape [-1, 4]) and returns two plain
tensors, ``label`` (INT64 class indices) and ``probabilities`` (FP32, [-1, 3]):
skl2onnx's ZipMap is switched off so no output is a list of dictionaries.

    python examples/iris-onnx/train.py      # needs skl2onnx (in mlctl's dev extra)
"""

from __future__ import annotations

from pathlib import Path

from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
OPSET = 17  # supported by every onnxruntime >= 1.14


def train() -> Pipeline:
    """The same model as examples/iris: a scaled logistic regression on all 150 samples."""
    data = load_iris()
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(max_iter=1000, random_state=0)),
        ]
    )
    model.fit(data.data.astype("float32"), data.target)
    return model


def export(model: Pipeline) -> bytes:
    onnx_model = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, 4]))],
        options={id(model): {"zipmap": False}},
        target_opset=OPSET,
    )
    return bytes(onnx_model.SerializeToString())


def main() -> None:
    target = HERE / "model.onnx"
    target.write_bytes(export(train()))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
