"""The Models table: one row per model, built from the Store's views (pure).

Rows are cached by the identity of the model's view: the Store shares unchanged views
between snapshots, so a refresh rebuilds only the models that changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from mlctl.monitor.views import ModelKey, ModelView
from mlctl_tui.core import formatting as fmt
from mlctl_tui.core.health import NO_ALERTS, AlertSummary, Health, model_health
from mlctl_tui.core.schedules import NO_SCHEDULE, ScheduleCell, Schedules, schedule_cell
from mlctl_tui.core.table import Column, TableRow

COLUMNS = (
    Column("name", "NAME", 18),
    Column("namespace", "NAMESPACE", 10),
    Column("version", "VERSION", 12),
    Column("replicas", "DES/RUN/OK", 10, "right"),
    Column("gpus", "GPUS", 4, "right"),
    Column("schedule", "SCHEDULE", 10),
    Column("next", "NEXT", 14),
    Column("rate", "REQ/S", 7, "right"),
    Column("p99", "P99", 7, "right"),
    Column("errors", "ERR", 6, "right"),
    Column("alerts", "ALERTS", 10),
    Column("status", "STATUS", 0),
)

#: The REQ/S cell when the servers refused to show their metrics (401/403 on /metrics):
#: blank figures would read as "no traffic".
NO_ACCESS = "denied"


def row_key(key: ModelKey) -> str:
    return f"{key[0]}/{key[1]}"


def version_text(model: ModelView) -> str:
    return f"{model.model_version} v{model.version}" if model.model_version else f"v{model.version}"


def model_row(model: ModelView, alerts: AlertSummary, schedule: ScheduleCell) -> TableRow:
    health, reason = model_health(model, alerts)
    gpus = model.gpus_in_use  # a property that walks the allocations: read it once
    probe = model.probe
    rate = probe.req_rate if probe else None
    p99 = probe.p99_ms if probe else None
    errors = probe.error_rate if probe else None
    cells = (
        model.name,
        model.namespace,
        version_text(model),
        f"{model.desired}/{model.running}/{model.healthy}",
        str(gpus) if gpus else "-",
        schedule.state or "-",
        schedule.next_text or "-",
        NO_ACCESS if probe and probe.metrics_no_access else fmt.number(rate),
        fmt.millis(p99),
        fmt.percent(errors),
        alerts.text or "-",
        reason,
    )
    sort_values = (
        model.name,
        model.namespace,
        version_text(model),
        (model.desired, model.healthy),
        gpus,
        schedule.state,
        schedule.next_at.timestamp() if schedule.next_at else None,
        rate,
        p99,
        errors,
        alerts.firing or None,
        (health.rank, reason),
    )
    haystack = " ".join((model.name, model.namespace, model.job_id, cells[2], health, reason))
    return TableRow(row_key(model.key), cells, sort_values, health.value, haystack)


@dataclass
class _Cached:
    view: ModelView
    alerts: AlertSummary
    schedule: ScheduleCell
    row: TableRow


class ModelRows:
    """Builds the Models rows, reusing the rows of models whose inputs did not change."""

    def __init__(self) -> None:
        self._cache: dict[ModelKey, _Cached] = {}

    def build(
        self,
        models: Iterable[ModelView],
        alerts: Mapping[ModelKey, AlertSummary],
        schedules: Schedules,
        now: datetime,
    ) -> list[TableRow]:
        """One row per model; models whose view, alerts and schedule cell are unchanged
        reuse their previous row."""
        rows: list[TableRow] = []
        cache: dict[ModelKey, _Cached] = {}
        for view in models:
            key = view.key
            summary = alerts.get(key, NO_ALERTS)
            doc = schedules.get((view.namespace, view.name))
            cell = schedule_cell(doc, now) if doc is not None else NO_SCHEDULE
            old = self._cache.get(key)
            if (
                old is not None
                and old.view is view
                and old.alerts == summary
                and old.schedule == cell
            ):
                cache[key] = old
            else:
                cache[key] = _Cached(view, summary, cell, model_row(view, summary, cell))
            rows.append(cache[key].row)
        self._cache = cache
        return rows


def namespaces(models: Iterable[ModelView]) -> list[str]:
    return sorted({m.namespace for m in models})


def health_counts(rows: Iterable[TableRow]) -> dict[str, int]:
    counts = {h.value: 0 for h in Health}
    for row in rows:
        counts[row.style] = counts.get(row.style, 0) + 1
    return counts
