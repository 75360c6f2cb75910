"""The trial program: a real (tiny) FLAML search, its result, and its reproducibility."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.datasets import load_wine

from mlctl.train.plan import Task
from mlctl.train.trial import TrialConfig, supervise, work


@pytest.fixture
def wine_csv(tmp_path: Path) -> Path:
    path = tmp_path / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(path, index=False)
    return path


def config(dataset: Path, **changes: object) -> TrialConfig:
    values: dict[str, object] = {
        "run": "r1",
        "candidate": "rf",
        "budget": 30.0,
        "seed": 3,
        "dataset": str(dataset),
        "target": "target",
        "task": Task.CLASSIFICATION,
        "metric": "accuracy",
        "holdout": 0.2,
        "max_iter": 3,
    }
    values.update(changes)
    return TrialConfig(**values)  # type: ignore[arg-type]


def test_same_seed_and_max_iter_give_the_same_result(wine_csv: Path, tmp_path: Path) -> None:
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    first = work(config(wine_csv), first_dir)
    second = work(config(wine_csv), second_dir)
    for key in ("cv_score", "holdout_score", "params", "configs_tried"):
        assert first[key] == second[key], key
    assert first["configs_tried"] == 3 and first["holdout_rows"] == 36
    assert first["classes"] == [0, 1, 2] and 0.5 < first["holdout_score"] <= 1.0
    assert (first_dir / "model.skops").stat().st_size > 0


def test_supervisor_records_a_timeout_at_the_hard_limit(
    wine_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlctl.train.trial as trial

    # A budget of 5 s gives a hard limit of 10 s; make the limit tiny to hit it.
    monkeypatch.setattr(trial, "hard_limit", lambda budget: 0.5)
    result, model = supervise(
        config(wine_csv, budget=5.0, max_iter=None), dict(__import__("os").environ)
    )
    assert result["status"] == "timed_out" and model is None
    assert result["limit_seconds"] == 0.5
