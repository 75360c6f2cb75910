"""Training's pure parts: candidates, metrics, budgets, dataset checks, the leaderboard."""

from __future__ import annotations

import pandas as pd
import pytest

from mlctl.errors import InvalidInput
from mlctl.train import leaderboard as lb
from mlctl.train.bundle import bundle_name, config_for, contract_source
from mlctl.train.dataset import check_frame, infer_task, split
from mlctl.train.plan import (
    RunPlan,
    Task,
    better,
    hard_limit,
    resolve_candidates,
    resolve_metric,
    score_from_loss,
)


def test_hard_limit_is_the_automl_benchmark_rule() -> None:
    assert hard_limit(10) == 20
    assert hard_limit(60) == 120
    assert hard_limit(300) == 360


def test_candidates_resolve_aliases_per_task_and_refuse_unknown() -> None:
    assert resolve_candidates(Task.CLASSIFICATION, ["lgbm", "lr", "lrl2", "rf"]) == [
        "lgbm",
        "lrl2",
        "rf",
    ]
    assert resolve_candidates(Task.REGRESSION, ["lr"]) == ["enet"]
    with pytest.raises(InvalidInput, match="'lrl1' is not a regression candidate"):
        resolve_candidates(Task.REGRESSION, ["lrl1"])
    with pytest.raises(InvalidInput, match="at least one"):
        resolve_candidates(Task.REGRESSION, [])


def test_metrics_and_their_direction() -> None:
    assert resolve_metric(Task.CLASSIFICATION, None) == "accuracy"
    assert resolve_metric(Task.REGRESSION, None) == "r2"
    with pytest.raises(InvalidInput, match="'r2' is not a classification metric"):
        resolve_metric(Task.CLASSIFICATION, "r2")
    assert score_from_loss(Task.CLASSIFICATION, "accuracy", 0.1) == pytest.approx(0.9)
    assert score_from_loss(Task.REGRESSION, "mae", 3.0) == 3.0
    assert better(Task.REGRESSION, "mae", 1.0, 2.0) and not better(Task.REGRESSION, "r2", 0.1, 0.2)


def test_plan_bounds() -> None:
    with pytest.raises(InvalidInput, match="--time-budget"):
        RunPlan(Task.REGRESSION, "r2", ["rf"], budget=1, seed=0)
    with pytest.raises(InvalidInput, match="--max-iter"):
        RunPlan(Task.REGRESSION, "r2", ["rf"], budget=10, seed=0, max_iter=0)


def frame(rows: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [float(i) for i in range(rows)],
            "colour": ["red", "blue"] * (rows // 2),
            "label": ["a", "b"] * (rows // 2),
            "price": [i * 1.5 + 0.25 for i in range(rows)],
        }
    )


def test_task_inference() -> None:
    data = frame()
    assert infer_task(data["label"]) is Task.CLASSIFICATION
    assert infer_task(data["price"]) is Task.REGRESSION
    assert infer_task(pd.Series([0, 1, 2, 1] * 10)) is Task.CLASSIFICATION


def test_dataset_problems_are_all_listed() -> None:
    data = frame(10)
    data["empty"] = None
    _, problems = check_frame(data, "label", Task.REGRESSION, "d.csv")
    text = "\n".join(map(str, problems))
    assert "10 labelled rows; at least 20 needed" in text
    assert "column empty: is empty" in text
    assert "label is not numeric; use --task classification" in text
    _, missing = check_frame(frame(), "nope", None, "d.csv")
    assert "no column 'nope'" in str(missing[0])


def test_split_is_seeded_and_stratified() -> None:
    data = frame(100)
    a = split(data, "label", Task.CLASSIFICATION, seed=3, fraction=0.2)
    b = split(data, "label", Task.CLASSIFICATION, seed=3, fraction=0.2)
    assert a.holdout.equals(b.holdout) and len(a.holdout) == 20
    assert set(a.holdout["label"].value_counts()) == {10}


def test_leaderboard_ranks_by_cv_score_and_keeps_failures_last() -> None:
    rows = [
        lb.row("rf", lb.OK, {"status": "ok", "cv_score": 0.91, "holdout_score": 0.99}),
        lb.row("lgbm", lb.OK, {"status": "ok", "cv_score": 0.95, "holdout_score": 0.90}),
        lb.row("lrl2", lb.FAILED, {"status": "failed", "error": "boom"}),
        lb.row("xgboost", lb.TIMED_OUT, {"status": "timed_out"}),
    ]
    board = lb.ranked(rows, Task.CLASSIFICATION, "accuracy")
    assert [r["candidate"] for r in board] == ["lgbm", "rf", "lrl2", "xgboost"]
    assert [r["rank"] for r in board] == [1, 2, None, None]
    assert lb.best(rows, Task.CLASSIFICATION, "accuracy")["candidate"] == "lgbm"  # type: ignore[index]
    mae = [
        lb.row("a", lb.OK, {"status": "ok", "cv_score": 3.0}),
        lb.row("b", lb.OK, {"status": "ok", "cv_score": 2.0}),
    ]
    assert lb.best(mae, Task.REGRESSION, "mae")["candidate"] == "b"  # type: ignore[index]
    assert lb.best([rows[2]], Task.CLASSIFICATION, "accuracy") is None


RESULT = {
    "run": "r1",
    "candidate": "lgbm",
    "metric": "accuracy",
    "cv_score": 0.97,
    "holdout_score": 0.96,
    "estimator": "lightgbm.sklearn.LGBMClassifier",
    "untrusted_types": ["lightgbm.basic.Booster"],
    "columns": {"numeric": ["a", "b"], "categorical": ["c"]},
    "classes": ["no", "yes"],
}


def test_bundle_config_and_contract() -> None:
    config = config_for("churn", "r1", RESULT, "churn.csv")
    assert config["signature"]["inputs"][0] == {
        "name": "features",
        "datatype": "BYTES",
        "shape": [-1, 3],
    }
    assert config["signature"]["outputs"][0]["datatype"] == "BYTES"
    assert "lightgbm>=4.0" in config["requirements"] and "pandas>=2.0" in config["requirements"]
    assert config["model"]["trusted_types"] == ["lightgbm.basic.Booster"]
    namespace: dict[str, object] = {}
    exec(compile(contract_source(RESULT), "contract.py", "exec"), namespace)
    rows = namespace["preprocess"]({"records": [{"a": 1, "b": None, "c": "x"}]})  # type: ignore[operator]
    assert rows.tolist()[0][:1] == [1.0] and rows.tolist()[0][2] == "x"
    assert namespace["postprocess"]([1, 0]) == ["yes", "no"]  # type: ignore[operator]
    with pytest.raises(ValueError, match="unknown columns: z"):
        namespace["preprocess"]({"records": [{"z": 1}]})  # type: ignore[operator]
    with pytest.raises(ValueError, match="is not a number"):
        namespace["preprocess"]({"features": [["x", 1, "c"]]})  # type: ignore[operator]
    assert bundle_name("Breast_Cancer.v2") == "breast-cancer-v2"


def test_train_without_its_extra_says_so_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    data = tmp_path / "d.csv"
    data.write_text("a,label\n1,x\n")
    code = (
        "import sys\n"
        "sys.modules['flaml'] = None\n"
        "from mlctl.cli.main import main\n"
        f"main(['train', {str(data)!r}, '--target', 'label'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "the 'train' extra" in done.stderr and "pip install 'mlctl[train]'" in done.stderr
