"""The Nodes screen's rows: client nodes, and each GPU with the allocation holding it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from mlctl.monitor.store import Snapshot
from mlctl.monitor.views import AllocView, ModelView, NodeView
from mlctl_tui.core import formatting as fmt
from mlctl_tui.core.table import Column, TableRow

NODE_COLUMNS = (
    Column("name", "NODE", 16),
    Column("status", "STATUS", 8),
    Column("eligibility", "ELIGIBILITY", 11),
    Column("drain", "DRAIN", 5),
    Column("pool", "POOL", 10),
    Column("class", "CLASS", 8),
    Column("cpu", "CPU MHz", 11, "right"),
    Column("memory", "MEMORY", 13, "right"),
    Column("gpus", "GPUS", 6, "right"),
    Column("allocs", "ALLOCS", 6, "right"),
    Column("id", "ID", 0),
)

GPU_COLUMNS = (
    Column("id", "GPU INSTANCE", 40),
    Column("model", "MODEL", 22),
    Column("memory", "MEMORY", 8, "right"),
    Column("healthy", "HEALTHY", 8),
    Column("alloc", "ALLOCATION", 10),
    Column("holder", "HELD BY", 0),
)


def node_style(node: NodeView) -> str:
    if node.status != "ready":
        return "failing"
    if node.drain or node.eligibility != "eligible" or not all(g.healthy for g in node.gpus):
        return "degraded"
    return "healthy"


def live_allocs_per_node(allocations: Mapping[str, AllocView]) -> Counter[str]:
    return Counter(a.node_id for a in allocations.values() if a.live)


def node_row(node: NodeView, allocs: int) -> TableRow:
    used = sum(1 for g in node.gpus if g.alloc_id)
    cells = (
        node.name,
        node.status,
        node.eligibility,
        "yes" if node.drain else "no",
        node.pool,
        node.node_class or "-",
        fmt.ratio(node.cpu_allocated, node.cpu_total),
        f"{fmt.mib(node.memory_allocated)}/{fmt.mib(node.memory_total)}",
        f"{used}/{len(node.gpus)}" if node.gpus else "-",
        str(allocs),
        node.id,
    )
    sort_values = (
        node.name,
        node.status,
        node.eligibility,
        node.drain,
        node.pool,
        node.node_class,
        node.cpu_allocated / node.cpu_total if node.cpu_total else 0.0,
        node.memory_allocated / node.memory_total if node.memory_total else 0.0,
        (used, len(node.gpus)),
        allocs,
        node.id,
    )
    return TableRow(node.id, cells, sort_values, node_style(node))


def node_rows(snapshot: Snapshot) -> list[TableRow]:
    counts = live_allocs_per_node(snapshot.allocations)
    return [node_row(node, counts.get(node.id, 0)) for node in snapshot.nodes.values()]


def holder_text(alloc: AllocView | None, models: Mapping[tuple[str, str], ModelView]) -> str:
    if alloc is None:
        return ""
    model = models.get((alloc.namespace, alloc.job_id))
    name = model.name if model else alloc.job_id
    return f"{name} ({alloc.namespace}) on {alloc.node_name or alloc.node_id[:8]}"


def gpu_rows(node: NodeView, snapshot: Snapshot) -> list[TableRow]:
    rows = []
    for gpu in node.gpus:
        alloc = snapshot.allocations.get(gpu.alloc_id) if gpu.alloc_id else None
        cells = (
            gpu.id,
            gpu.name.rsplit("/", 1)[-1],
            fmt.mib(gpu.memory_mib) if gpu.memory_mib else "-",
            "yes" if gpu.healthy else "NO",
            fmt.short_id(gpu.alloc_id) if gpu.alloc_id else "free",
            holder_text(alloc, snapshot.models),
        )
        style = "failing" if not gpu.healthy else ("healthy" if gpu.alloc_id else "")
        rows.append(TableRow(gpu.id, cells, (), style))
    return rows
