"""One training trial, as it runs inside a dispatched Nomad task: ``python -m mlctl.train.trial``.

The supervisor (``main``) runs the search in a child process and kills it at the hard
limit, min(2 x budget, budget + 60 s), so a runaway candidate is stopped and recorded as
timed out even when nobody watches the run. The child (``--work``) cross-validates the
candidate's hyperparameters with FLAML within the budget, refits the best configuration
on all training rows, scores it on the held-out rows, and saves the preprocessing and the
estimator as one scikit-learn Pipeline with skops. The supervisor then writes the model
and ``result.json`` (last: its presence means the trial ended) to the artifact store at
``train/<run>/<candidate>/``.

Inputs come from the environment: the job's ``MLCTL_TRAIN_*`` variables and the dispatch
meta (``NOMAD_META_candidate``, ``NOMAD_META_budget``, ``NOMAD_META_seed``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlctl.train.plan import Task, hard_limit, score_from_loss

RESULT = "result.json"
MODEL = "model.skops"


@dataclass(frozen=True)
class TrialConfig:
    run: str
    candidate: str
    budget: float
    seed: int
    dataset: str
    target: str
    task: Task
    metric: str
    holdout: float
    threads: int = 1
    max_iter: int | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> TrialConfig:
        max_iter = env.get("MLCTL_TRAIN_MAX_ITER") or ""
        return cls(
            run=env["MLCTL_TRAIN_RUN"],
            candidate=env["NOMAD_META_candidate"],
            budget=float(env["NOMAD_META_budget"]),
            seed=int(env["NOMAD_META_seed"]),
            dataset=env["MLCTL_TRAIN_DATASET"],
            target=env["MLCTL_TRAIN_TARGET"],
            task=Task(env["MLCTL_TRAIN_TASK"]),
            metric=env["MLCTL_TRAIN_METRIC"],
            holdout=float(env.get("MLCTL_TRAIN_HOLDOUT", "0.2")),
            threads=max(1, int(env.get("MLCTL_TRAIN_THREADS", "1"))),
            max_iter=int(max_iter) if max_iter else None,
        )

    def prefix(self) -> str:
        return f"train/{self.run}/{self.candidate}"


def holdout_score(metric: str, task: Task, model: Any, features: Any, truth: Any) -> float:
    """The metric on held-out rows, computed with scikit-learn (not FLAML)."""
    import numpy as np
    from sklearn import metrics

    if metric in {"roc_auc", "roc_auc_ovr", "log_loss"}:
        proba = model.predict_proba(features)
        if metric == "log_loss":
            return float(metrics.log_loss(truth, proba, labels=list(range(proba.shape[1]))))
        if proba.shape[1] == 2:
            return float(metrics.roc_auc_score(truth, proba[:, 1]))
        return float(metrics.roc_auc_score(truth, proba, multi_class="ovr"))
    predicted = model.predict(features)
    scorers: dict[str, Callable[[], Any]] = {
        "accuracy": lambda: metrics.accuracy_score(truth, predicted),
        "f1": lambda: metrics.f1_score(truth, predicted),
        "micro_f1": lambda: metrics.f1_score(truth, predicted, average="micro"),
        "macro_f1": lambda: metrics.f1_score(truth, predicted, average="macro"),
        "r2": lambda: metrics.r2_score(truth, predicted),
        "mae": lambda: metrics.mean_absolute_error(truth, predicted),
        "mse": lambda: metrics.mean_squared_error(truth, predicted),
        "rmse": lambda: float(np.sqrt(metrics.mean_squared_error(truth, predicted))),
    }
    return float(scorers[metric]())


def _predict_ms_per_row(model: Any, features: Any) -> float:
    """Median over a few repeats, so one slow call (a page fault) does not decide it."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        model.predict(features)
        times.append(time.perf_counter() - started)
    return sorted(times)[2] * 1000 / max(1, len(features))


def work(config: TrialConfig, out: Path) -> dict[str, Any]:
    """The search (child process): returns the result and writes the model to ``out``."""
    import warnings

    warnings.filterwarnings("ignore")
    import skops.io as sio
    from flaml.automl.automl import AutoML
    from sklearn.pipeline import Pipeline

    from mlctl.train.dataset import (
        design_matrix,
        encode_labels,
        feature_columns,
        preprocessor,
        read_frame,
        split,
    )

    frame = read_frame(Path(config.dataset))
    parts = split(frame, config.target, config.task, config.seed, config.holdout)
    columns = feature_columns(frame, config.target)
    prep = preprocessor(columns)
    features = prep.fit_transform(design_matrix(parts.train, columns))
    classes: list[Any] = []
    if config.task is Task.CLASSIFICATION:
        labels, classes = encode_labels(parts.train[config.target])
        index = {label: i for i, label in enumerate(classes)}
        truth = [index[v] for v in parts.holdout[config.target]]
    else:
        labels = parts.train[config.target].to_numpy(dtype=float)
        truth = parts.holdout[config.target].to_numpy(dtype=float)
    automl = AutoML()
    started = time.perf_counter()
    automl.fit(
        features,
        labels,
        task=config.task.value,
        metric=config.metric,
        estimator_list=[config.candidate],
        time_budget=config.budget,
        max_iter=config.max_iter,
        eval_method="cv",
        n_splits=5,
        split_type="stratified" if config.task is Task.CLASSIFICATION else "uniform",
        seed=config.seed,
        n_jobs=config.threads,
        verbose=0,
    )
    search_seconds = time.perf_counter() - started
    if automl.model is None:
        raise RuntimeError(f"{config.candidate}: no configuration finished within the budget")
    model = Pipeline([("prep", prep), ("model", automl.model.estimator)])
    holdout = design_matrix(parts.holdout, columns)
    data = sio.dumps(model)
    (out / MODEL).write_bytes(data)
    return {
        "cv_score": score_from_loss(config.task, config.metric, float(automl.best_loss)),
        "holdout_score": holdout_score(config.metric, config.task, model, holdout, truth),
        "fit_seconds": float(automl.best_config_train_time or 0.0),
        "search_seconds": search_seconds,
        "predict_ms_per_row": _predict_ms_per_row(model, holdout),
        "params": {k: _plain(v) for k, v in (automl.best_config or {}).items()},
        # FLAML counts the configurations it evaluated per estimator here (config_history
        # only keeps the improvements).
        "configs_tried": int(
            (getattr(automl, "_iter_per_learner", None) or {}).get(config.candidate, 0)
        ),
        "estimator": _qualified(automl.model.estimator),
        "untrusted_types": sorted(sio.get_untrusted_types(data=data)),
        "columns": {"numeric": columns.numeric, "categorical": columns.categorical},
        "classes": [_plain(c) for c in classes],
        "train_rows": len(parts.train),
        "holdout_rows": len(parts.holdout),
    }


def _qualified(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__name__}"


def _plain(value: Any) -> Any:
    """numpy scalars as plain JSON numbers/strings."""
    return value.item() if hasattr(value, "item") else value


def supervise(config: TrialConfig, env: dict[str, str]) -> tuple[dict[str, Any], Path | None]:
    """Run ``work`` in a child, stopping it at the hard limit; the result and the model."""
    out = Path(tempfile.mkdtemp(prefix="mlctl-trial-"))
    (out / "config.json").write_text(json.dumps(asdict(config), default=str))
    limit = hard_limit(config.budget)
    base: dict[str, Any] = {
        "run": config.run,
        "candidate": config.candidate,
        "metric": config.metric,
        "task": config.task.value,
        "budget": config.budget,
        "limit_seconds": limit,
        "seed": config.seed,
    }
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "mlctl.train.trial", "--work", str(out)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, stderr = child.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return {**base, "status": "timed_out", "seconds": time.monotonic() - started}, None
    seconds = time.monotonic() - started
    if child.returncode != 0 or not (out / RESULT).is_file():
        tail = (stderr or "").strip().splitlines()[-5:]
        sys.stderr.write(stderr or "")
        return {**base, "status": "failed", "error": " | ".join(tail), "seconds": seconds}, None
    result = json.loads((out / RESULT).read_text())
    return {**base, **result, "status": "ok", "seconds": seconds}, out / MODEL


def publish(config: TrialConfig, result: dict[str, Any], model: Path | None) -> None:
    """Model first, then result.json: a reader that sees the result finds the model."""
    from mlctl.artifacts import sha256_file, store_from_settings
    from mlctl.settings import load_settings

    store = store_from_settings(load_settings({}))
    if model is not None:
        key = f"{config.prefix()}/{MODEL}"
        store.put_object(key, model)
        result = {**result, "model_key": key, "model_sha256": sha256_file(model)}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(result, handle, indent=2, sort_keys=True)
    try:
        store.put_object(f"{config.prefix()}/{RESULT}", Path(handle.name))
    finally:
        Path(handle.name).unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--work":
        out = Path(argv[1])
        raw = json.loads((out / "config.json").read_text())
        raw["task"] = Task(raw["task"])
        result = work(TrialConfig(**raw), out)
        (out / RESULT).write_text(json.dumps(result))
        return 0
    env = dict(os.environ)
    config = TrialConfig.from_env(env)
    print(f"trial {config.run}/{config.candidate}: budget {config.budget:g}s, seed {config.seed}")
    result, model = supervise(config, env)
    publish(config, result, model)
    score = result.get("cv_score")
    print(f"trial {config.candidate}: {result['status']}" + (f", cv {score:.4f}" if score else ""))
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
