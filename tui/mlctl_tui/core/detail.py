"""The Model detail screen's parts: allocations, task events, deployment, versions (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from mlctl.monitor.views import AllocView, DeploymentView, ModelView
from mlctl_tui.core import formatting as fmt
from mlctl_tui.core.table import Column, TableRow

ALLOC_COLUMNS = (
    Column("id", "ALLOC", 8),
    Column("node", "NODE", 12),
    Column("status", "STATUS", 9),
    Column("health", "HEALTH", 14),
    Column("restarts", "RESTARTS", 8, "right"),
    Column("age", "AGE", 7, "right"),
    Column("version", "VER", 4, "right"),
    Column("gpus", "GPU INSTANCES", 24),
    Column("event", "LAST EVENT", 0),
)

EVENT_COLUMNS = (
    Column("time", "TIME", 8),
    Column("alloc", "ALLOC", 8),
    Column("task", "TASK", 8),
    Column("type", "TYPE", 16),
    Column("message", "MESSAGE", 0),
)

VERSION_COLUMNS = (
    Column("version", "VER", 4, "right"),
    Column("model_version", "MODEL VERSION", 14),
    Column("bundle", "BUNDLE SHA256", 14),
    Column("by", "DEPLOYED BY", 12),
    Column("when", "SUBMITTED", 18),
    Column("stable", "STABLE", 6),
    Column("replicas", "REPLICAS", 8, "right"),
    Column("current", "", 0),
)

#: Finished allocations shown below the live ones (the newest).
RECENT_TERMINAL = 10


def alloc_health(alloc: AllocView) -> str:
    label = {True: "healthy", False: "unhealthy", None: "-"}[alloc.healthy]
    return f"{label} canary" if alloc.canary else label


def alloc_style(alloc: AllocView) -> str:
    if alloc.client_status in ("failed", "lost") or alloc.healthy is False:
        return "failing"
    if not alloc.live:
        return "stopped"
    if alloc.client_status == "pending" or (alloc.healthy is None and alloc.deployment_id):
        return "pending"
    return "healthy" if alloc.is_healthy else "degraded"


def status_text(alloc: AllocView) -> str:
    if alloc.desired_status != "run" and not alloc.terminal:
        return f"{alloc.client_status}→{alloc.desired_status}"
    return alloc.client_status


def alloc_row(alloc: AllocView, now: datetime) -> TableRow:
    last = alloc.last_events[-1] if alloc.last_events else None
    cells = (
        fmt.short_id(alloc.id),
        alloc.node_name or fmt.short_id(alloc.node_id),
        status_text(alloc),
        alloc_health(alloc),
        str(alloc.restarts),
        fmt.age(alloc.created, now),
        str(alloc.job_version),
        ", ".join(g.removeprefix("GPU-")[:8] for g in alloc.gpu_ids) or "-",
        f"{last.type}: {last.message}" if last and last.message else (last.type if last else ""),
    )
    sort_values = (
        alloc.id,
        alloc.node_name,
        alloc.client_status,
        cells[3],
        alloc.restarts,
        -alloc.created.timestamp() if alloc.created else None,
        alloc.job_version,
        cells[7],
        cells[8],
    )
    return TableRow(alloc.id, cells, sort_values, alloc_style(alloc))


def shown_allocations(model: ModelView) -> list[AllocView]:
    """Live allocations, then the most recent finished ones."""
    live = [a for a in model.allocations if a.live]
    done = sorted(
        (a for a in model.allocations if not a.live), key=lambda a: a.create_index, reverse=True
    )
    return live + done[:RECENT_TERMINAL]


def alloc_rows(model: ModelView, now: datetime) -> list[TableRow]:
    return [alloc_row(a, now) for a in shown_allocations(model)]


def event_rows(allocs: Iterable[AllocView], limit: int = 60) -> list[TableRow]:
    """Every allocation's recent task events, newest first."""
    items = [(event, alloc) for alloc in allocs for event in alloc.last_events]
    items.sort(key=lambda item: (item[0].time is not None, item[0].time), reverse=True)
    rows = []
    for number, (event, alloc) in enumerate(items[:limit]):
        style = "failing" if event.is_crash else ""
        cells = (
            fmt.clock(event.time),
            fmt.short_id(alloc.id),
            event.task,
            event.type,
            event.message + (" (OOM killed)" if event.oom_killed else ""),
        )
        rows.append(TableRow(f"{alloc.id}:{number}", cells, (), style))
    return rows


def deployment_text(deployment: DeploymentView | None, job_version: int) -> str:
    """One or two lines: status, progress, canaries."""
    if deployment is None:
        return "no deployment"
    lines = [
        f"deployment {fmt.short_id(deployment.id)} of version {deployment.job_version}: "
        f"{deployment.status} — {deployment.description or '-'}",
        f"placed {deployment.placed}/{deployment.desired_total}, healthy "
        f"{deployment.healthy}, unhealthy {deployment.unhealthy}"
        + (", auto-revert on" if deployment.auto_revert else ""),
    ]
    if deployment.canaries_desired:
        state = "promoted" if deployment.promoted else "not promoted"
        lines.append(
            f"canaries {deployment.canaries_healthy}/{deployment.canaries_desired} healthy, "
            f"{state}" + (" — press p to promote" if deployment.awaiting_promotion else "")
        )
    if deployment.job_version != job_version:
        lines.append(f"(the job is now at version {job_version})")
    return "\n".join(lines)


def version_rows(history: Iterable[Mapping[str, Any]]) -> list[TableRow]:
    rows = []
    for item in history:
        sha = str(item.get("bundle_sha256") or "")
        cells = (
            str(item.get("version")),
            str(item.get("model_version") or "-"),
            sha[:12] or "-",
            str(item.get("deployed_by") or "-"),
            str(item.get("submitted") or "-"),
            "yes" if item.get("stable") else "no",
            str(item.get("replicas", "-")),
            "◀ current" if item.get("current") else "",
        )
        style = "healthy" if item.get("current") else ""
        sort_values = (int(item.get("version") or 0), *cells[1:])
        rows.append(TableRow(str(item.get("version")), cells, sort_values, style))
    return rows


def endpoint_lines(model: ModelView) -> list[str]:
    return [f"{e.url}  ({e.service}, alloc {fmt.short_id(e.alloc_id)})" for e in model.endpoints]
