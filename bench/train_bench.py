"""``mlctl train`` on the local runtime against FLAML in one process, same total budget.

One command:  python bench/train_bench.py            (needs `mlctl local up` running)

For each dataset scikit-learn ships (breast cancer, wine: accuracy; diabetes: r2), it
runs ``mlctl train`` with 4 candidates and ``--time-budget B`` (each candidate is one
Nomad job), and FLAML's AutoML in this process over the same 4 estimators with a
4 x B budget, on the same training rows and the same 5 cross-validation folds.
Target: mlctl's best cross-validated score within 1% of FLAML's (for error metrics,
at most 1% above). The scores on the held-out rows (mlctl's seeded 20% split) are
printed too; on these small datasets one held-out row moves them by 1-3%, so they
are not the target. Printed side by side with wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

CANDIDATES = ["lgbm", "rf", "extra_tree", "lr"]
TARGET_RATIO = 0.99


def datasets() -> dict[str, tuple[object, str]]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

    return {
        "breast_cancer": (load_breast_cancer(as_frame=True).frame, "accuracy"),
        "wine": (load_wine(as_frame=True).frame, "accuracy"),
        "diabetes": (load_diabetes(as_frame=True).frame, "r2"),
    }


def run_mlctl(csv: Path, budget: int, seed: int, out: Path) -> tuple[dict[str, object], float]:
    command = [
        sys.executable,
        "-m",
        "mlctl",
        "-o",
        "json",
        "train",
        str(csv),
        "--target",
        "target",
        "--candidates",
        ",".join(CANDIDATES),
        "--time-budget",
        str(budget),
        "--seed",
        str(seed),
        "--out",
        str(out),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mlctl train failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout), wall


def run_flaml(
    frame: object, metric: str, budget: int, seed: int
) -> tuple[float, float, float, str]:
    """FLAML over the same estimators and rows, the whole budget in one process."""
    from flaml.automl.automl import AutoML

    from mlctl.train.dataset import (
        design_matrix,
        encode_labels,
        feature_columns,
        preprocessor,
        split,
    )
    from mlctl.train.plan import HOLDOUT_FRACTION, Task, resolve_candidates, score_from_loss
    from mlctl.train.trial import holdout_score

    task = Task.REGRESSION if metric == "r2" else Task.CLASSIFICATION
    parts = split(frame, "target", task, seed, HOLDOUT_FRACTION)  # type: ignore[arg-type]
    columns = feature_columns(frame, "target")  # type: ignore[arg-type]
    prep = preprocessor(columns)
    features = prep.fit_transform(design_matrix(parts.train, columns))
    if task is Task.CLASSIFICATION:
        labels, classes = encode_labels(parts.train["target"])
        truth = [classes.index(v) for v in parts.holdout["target"]]
    else:
        labels = parts.train["target"].to_numpy(dtype=float)
        truth = parts.holdout["target"].to_numpy(dtype=float)
    automl = AutoML()
    started = time.perf_counter()
    automl.fit(
        features,
        labels,
        task=task.value,
        metric=metric,
        estimator_list=resolve_candidates(task, CANDIDATES),
        time_budget=budget * len(CANDIDATES),
        eval_method="cv",
        n_splits=5,
        seed=seed,
        verbose=0,
    )
    wall = time.perf_counter() - started
    from sklearn.pipeline import Pipeline

    model = Pipeline([("prep", prep), ("model", automl.model.estimator)])
    score = holdout_score(metric, task, model, design_matrix(parts.holdout, columns), truth)
    cv = score_from_loss(task, metric, float(automl.best_loss))
    return cv, score, wall, str(automl.best_estimator)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=20, help="seconds per trial")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if not os.environ.get("NOMAD_ADDR") and not os.environ.get("MLCTL_CONTEXT"):
        print("note: using the current mlctl context (start one with: mlctl local up)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlctl-train-bench-") as tmp:
        for name, (frame, metric) in datasets().items():
            csv = Path(tmp) / f"{name}.csv"
            frame.to_csv(csv, index=False)  # type: ignore[attr-defined]
            summary, mlctl_wall = run_mlctl(csv, args.budget, args.seed, Path(tmp) / "out")
            best = summary["best"] or {}
            mlctl_cv = float(best.get("cv_score", float("nan")))  # type: ignore[union-attr]
            mlctl_score = float(best.get("holdout_score", float("nan")))  # type: ignore[union-attr]
            flaml_cv, flaml_score, flaml_wall, flaml_best = run_flaml(
                frame, metric, args.budget, args.seed
            )
            ratio = mlctl_cv / flaml_cv if flaml_cv else float("nan")
            rows.append(
                (
                    name,
                    metric,
                    mlctl_cv,
                    mlctl_score,
                    str(best.get("candidate")),
                    mlctl_wall,  # type: ignore[union-attr]
                    flaml_cv,
                    flaml_score,
                    flaml_best,
                    flaml_wall,
                    ratio,
                )
            )
    print(
        f"budget: {args.budget} s per trial x {len(CANDIDATES)} candidates "
        f"(FLAML in one process: {args.budget * len(CANDIDATES)} s); cv = 5-fold score of the "
        "best, held = held-out rows"
    )
    header = (
        "dataset",
        "metric",
        "mlctl cv",
        "held",
        "best",
        "wall s",
        "FLAML cv",
        "held",
        "best",
        "wall s",
        "cv ratio",
    )
    line = "{:<14}{:<9}{:>9}{:>8} {:<11}{:>7}{:>9}{:>8} {:<11}{:>7}{:>9}"
    print(line.format(*header))
    ok = True
    for name, metric, mcv, mh, mb, mw, fcv, fh, fb, fw, ratio in rows:
        print(
            line.format(
                name,
                metric,
                f"{mcv:.4f}",
                f"{mh:.4f}",
                mb,
                f"{mw:.1f}",
                f"{fcv:.4f}",
                f"{fh:.4f}",
                fb,
                f"{fw:.1f}",
                f"{ratio:.3f}",
            )
        )
        ok = ok and ratio >= TARGET_RATIO
    print(f"target: cv ratio >= {TARGET_RATIO} on every dataset: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
