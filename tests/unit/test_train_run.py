"""The run watcher: results from the store, hard limits, the best packaged, the record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlctl.artifacts.file_store import FileStore
from mlctl.train import history
from mlctl.train import leaderboard as lb
from mlctl.train.plan import RunPlan, Task, hard_limit
from mlctl.train.run import START_GRACE, Run, finish, poll


class FakeJobs:
    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.stopped: list[str] = []

    def allocations(self, job_id: str) -> tuple[list[dict[str, Any]], int]:
        state = self.states.get(job_id, "pending")
        return [{"ClientStatus": state}], 1

    def stop(self, job_id: str, purge: bool = False) -> dict[str, Any]:
        self.stopped.append(job_id)
        self.states[job_id] = "complete"
        return {"EvalID": "e"}


class FakeVariables:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, str]] = {}

    def write(self, path: str, items: dict[str, str], cas: int | None = None) -> dict[str, Any]:
        self.items[path] = items
        return {"Path": path}

    def read(self, path: str) -> dict[str, Any] | None:
        return {"Path": path, "Items": self.items[path]} if path in self.items else None

    def list(self, prefix: str = "") -> list[dict[str, Any]]:
        return [{"Path": p} for p in self.items if p.startswith(prefix)]


class FakeClient:
    namespace = "default"

    def __init__(self) -> None:
        self.jobs = FakeJobs()
        self.variables = FakeVariables()


def make_run() -> Run:
    plan = RunPlan(Task.CLASSIFICATION, "accuracy", ["lgbm", "rf", "lrl2"], budget=10, seed=0)
    run = Run(
        "r1",
        "mlctl-train-r1",
        plan,
        "target",
        "iris.csv",
        "ab" * 32,
        "alice",
        "2026-01-01T00:00:00Z",
    )
    for candidate in plan.candidates:
        run.trials[candidate] = f"mlctl-train-r1/dispatch-{candidate}"
        run.dispatched_at[candidate] = 0.0
        run.rows[candidate] = lb.row(candidate, lb.PENDING, None)
    return run


def put_result(
    store: FileStore, tmp: Path, candidate: str, score: float, model: bytes | None
) -> None:
    result: dict[str, Any] = {
        "run": "r1",
        "candidate": candidate,
        "status": "ok",
        "metric": "accuracy",
        "cv_score": score,
        "holdout_score": score - 0.01,
        "fit_seconds": 0.1,
        "predict_ms_per_row": 0.01,
        "configs_tried": 3,
        "estimator": "sklearn.pipeline.Pipeline",
        "untrusted_types": [],
        "columns": {"numeric": ["a", "b", "c", "d"], "categorical": []},
        "classes": [0, 1, 2],
    }
    if model is not None:
        path = tmp / f"{candidate}.skops"
        path.write_bytes(model)
        store.put_object(f"train/r1/{candidate}/model.skops", path)
        result["model_key"] = f"train/r1/{candidate}/model.skops"
    path = tmp / f"{candidate}.json"
    path.write_text(json.dumps(result))
    store.put_object(f"train/r1/{candidate}/result.json", path)


def test_watcher_enforces_the_hard_limit_and_packages_the_best(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    (tmp_path / "store").mkdir()
    client = FakeClient()
    run = make_run()
    x, y = load_iris(return_X_y=True)
    model = sio.dumps(
        Pipeline([("s", StandardScaler()), ("m", LogisticRegression(max_iter=500))]).fit(x, y)
    )
    put_result(store, tmp_path, "lgbm", 0.95, model)
    client.jobs.states["mlctl-train-r1/dispatch-rf"] = "running"
    assert not poll(client, store, run, clock=lambda: 1.0)  # type: ignore[arg-type]
    assert run.rows["lgbm"]["status"] == lb.OK and run.rows["rf"]["status"] == lb.RUNNING
    # lrl2 never started and rf keeps running past min(2 x budget, budget + 60) + grace.
    late = hard_limit(10) + START_GRACE + 1
    assert poll(client, store, run, clock=lambda: late)  # type: ignore[arg-type]
    assert run.rows["rf"]["status"] == lb.TIMED_OUT
    assert sorted(client.jobs.stopped) == [
        "mlctl-train-r1/dispatch-lrl2",
        "mlctl-train-r1/dispatch-rf",
    ]
    summary = finish(client, store, run, tmp_path / "out", "iris")  # type: ignore[arg-type]
    assert summary["best"]["candidate"] == "lgbm"
    bundle = Path(summary["bundle"])
    assert (bundle / "mlctl.yaml").is_file() and (bundle / "contract.py").is_file()
    assert summary["deploy"] == f"mlctl deploy {bundle}"
    record = history.read(client, "r1")  # type: ignore[arg-type]
    assert record is not None and record["status"] == "succeeded" and record["best"] == "lgbm"
    assert record["dataset_sha256"] == "ab" * 32 and record["user"] == "alice"
    assert [r["run"] for r in history.list_runs(client)] == ["r1"]  # type: ignore[arg-type]


def test_a_trial_that_died_without_a_result_is_failed(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    (tmp_path / "store").mkdir()
    client = FakeClient()
    run = make_run()
    for child in run.trials.values():
        client.jobs.states[child] = "failed"
    assert poll(client, store, run, clock=lambda: 1.0)  # type: ignore[arg-type]
    assert {r["status"] for r in run.rows.values()} == {lb.FAILED}
    summary = finish(client, store, run, tmp_path / "out", None)  # type: ignore[arg-type]
    assert summary["best"] is None
    assert history.read(client, "r1")["status"] == "failed"  # type: ignore[arg-type,index]
