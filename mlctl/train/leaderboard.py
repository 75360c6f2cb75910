"""The leaderboard: one row per candidate, best first (pure)."""

from __future__ import annotations

from typing import Any

from mlctl.train.plan import METRICS, Task

PENDING, RUNNING, OK, FAILED, TIMED_OUT, CANCELLED = (
    "pending",
    "running",
    "ok",
    "failed",
    "timed_out",
    "cancelled",
)
FINISHED = frozenset({OK, FAILED, TIMED_OUT, CANCELLED})
COLUMNS = {
    "rank": "#",
    "candidate": "CANDIDATE",
    "status": "STATUS",
    "cv_score": "CV SCORE",
    "holdout_score": "HELD-OUT",
    "fit_seconds": "FIT S",
    "predict_ms_per_row": "PREDICT MS/ROW",
    "configs_tried": "CONFIGS",
}


def row(candidate: str, status: str, result: dict[str, Any] | None) -> dict[str, Any]:
    result = result or {}
    return {
        "candidate": candidate,
        "status": result.get("status", status),
        "cv_score": result.get("cv_score"),
        "holdout_score": result.get("holdout_score"),
        "fit_seconds": result.get("fit_seconds"),
        "predict_ms_per_row": result.get("predict_ms_per_row"),
        "configs_tried": result.get("configs_tried"),
        "seconds": result.get("seconds"),
        "error": result.get("error"),
    }


def ranked(rows: list[dict[str, Any]], task: Task, metric: str) -> list[dict[str, Any]]:
    """Finished trials by cross-validated score (the held-out rows never pick the winner),
    then the rest in candidate order; ``rank`` numbers the scored ones."""
    higher = METRICS[task][metric]
    scored = [r for r in rows if r["status"] == OK and r["cv_score"] is not None]
    scored.sort(key=lambda r: -r["cv_score"] if higher else r["cv_score"])
    others = [r for r in rows if r not in scored]
    out = [{**r, "rank": i} for i, r in enumerate(scored, start=1)]
    return out + [{**r, "rank": None} for r in others]


def best(rows: list[dict[str, Any]], task: Task, metric: str) -> dict[str, Any] | None:
    board = ranked(rows, task, metric)
    return board[0] if board and board[0]["rank"] == 1 else None


def display(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rounded numbers for a table."""

    def fmt(value: Any, digits: int) -> Any:
        return None if value is None else round(float(value), digits)

    return [
        {
            **r,
            "cv_score": fmt(r["cv_score"], 4),
            "holdout_score": fmt(r["holdout_score"], 4),
            "fit_seconds": fmt(r["fit_seconds"], 3),
            "predict_ms_per_row": fmt(r["predict_ms_per_row"], 4),
        }
        for r in rows
    ]
