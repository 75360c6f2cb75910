"""Train the reference iris classifier and write ``model.skops`` next to this file.

Deterministic (fixed seed, sklearn's bundled data), so rerunning it reproduces the
committed model's predictions. skops is used instead of pickle because loading it
does not execute code from the file: ``mlctl serve`` checks every type it contains.

    python examples/iris/train.py
"""

from __future__ import annotations

from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skops.io import dump

HERE = Path(__file__).resolve().parent


def train() -> Pipeline:
    """Fit a scaled logistic regression on all 150 samples (it is a demo, not a study)."""
    data = load_iris()
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(max_iter=1000, random_state=0)),
        ]
    )
    model.fit(data.data.astype("float32"), data.target)
    return model


def main() -> None:
    model = train()
    target = HERE / "model.skops"
    dump(model, target)
    data = load_iris()
    accuracy = model.score(data.data.astype("float32"), data.target)
    print(f"wrote {target} (training accuracy {accuracy:.3f})")


if __name__ == "__main__":
    main()
