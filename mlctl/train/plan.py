"""What a training run asks for, checked before anything is uploaded (pure, no I/O).

Candidates are FLAML estimator names (plus ``lr``, which means the task's linear
model); metrics are FLAML's, each with the direction that makes a score "better".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from mlctl.errors import InvalidInput


class Task(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


#: FLAML's estimator names per task (those that need no extra package beyond the extra).
CANDIDATES: dict[Task, tuple[str, ...]] = {
    Task.CLASSIFICATION: (
        "lgbm",
        "rf",
        "extra_tree",
        "xgboost",
        "xgb_limitdepth",
        "lrl1",
        "lrl2",
        "kneighbor",
        "sgd",
        "histgb",
    ),
    Task.REGRESSION: (
        "lgbm",
        "rf",
        "extra_tree",
        "xgboost",
        "xgb_limitdepth",
        "kneighbor",
        "sgd",
        "histgb",
        "enet",
        "lassolars",
    ),
}
ALIASES: dict[Task, dict[str, str]] = {
    Task.CLASSIFICATION: {"lr": "lrl2", "logistic": "lrl2"},
    Task.REGRESSION: {"lr": "enet", "linear": "enet"},
}
DEFAULT_CANDIDATES = ("lgbm", "rf", "extra_tree", "lr")

#: metric -> True when higher is better (FLAML minimises 1 - score for those).
METRICS: dict[Task, dict[str, bool]] = {
    Task.CLASSIFICATION: {
        "accuracy": True,
        "roc_auc": True,
        "roc_auc_ovr": True,
        "f1": True,
        "micro_f1": True,
        "macro_f1": True,
        "log_loss": False,
    },
    Task.REGRESSION: {"r2": True, "mae": False, "mse": False, "rmse": False},
}
DEFAULT_METRIC = {Task.CLASSIFICATION: "accuracy", Task.REGRESSION: "r2"}

MIN_BUDGET = 5
MAX_BUDGET = 24 * 3600
HOLDOUT_FRACTION = 0.2
_RUN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


def hard_limit(budget: float) -> float:
    """When a trial is stopped and recorded as timed out: min(2 x budget, budget + 60 s),
    the AutoML Benchmark's rule."""
    return min(2 * budget, budget + 60)


def resolve_candidates(task: Task, requested: list[str]) -> list[str]:
    """FLAML names for the requested candidates (aliases resolved, order kept, no repeats)."""
    names = []
    for raw in requested:
        name = ALIASES[task].get(raw, raw)
        if name not in CANDIDATES[task]:
            raise InvalidInput(
                f"--candidates: {raw!r} is not a {task.value} candidate",
                hint="choose from " + ", ".join([*CANDIDATES[task], *ALIASES[task]]),
            )
        if name not in names:
            names.append(name)
    if not names:
        raise InvalidInput("--candidates: give at least one candidate")
    return names


def resolve_metric(task: Task, metric: str | None) -> str:
    chosen = metric or DEFAULT_METRIC[task]
    if chosen not in METRICS[task]:
        raise InvalidInput(
            f"--metric: {chosen!r} is not a {task.value} metric",
            hint="choose from " + ", ".join(METRICS[task]),
        )
    return chosen


def score_from_loss(task: Task, metric: str, loss: float) -> float:
    """FLAML reports a loss to minimise; the score people read (higher or lower better)."""
    return 1 - loss if METRICS[task][metric] else loss


def better(task: Task, metric: str, a: float, b: float) -> bool:
    """Is score ``a`` better than ``b``?"""
    return a > b if METRICS[task][metric] else a < b


@dataclass(frozen=True)
class RunPlan:
    task: Task
    metric: str
    candidates: list[str]
    budget: int
    seed: int
    gpus: int = 0
    max_iter: int | None = None
    holdout: float = HOLDOUT_FRACTION
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not MIN_BUDGET <= self.budget <= MAX_BUDGET:
            raise InvalidInput(
                f"--time-budget: {self.budget} s must be between {MIN_BUDGET} and {MAX_BUDGET}"
            )
        if not 0 <= self.gpus <= 16:
            raise InvalidInput(f"--gpus: {self.gpus} must be between 0 and 16")
        if self.max_iter is not None and self.max_iter < 1:
            raise InvalidInput(f"--max-iter: {self.max_iter} must be 1 or more")


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise InvalidInput(f"run id {run_id!r} is not valid", hint="mlctl train list shows run ids")
    return run_id
