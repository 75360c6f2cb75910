"""Nodes: every client, its state, what it has allocated, and each GPU with its holder."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from mlctl.monitor.views import NodeView
from mlctl_tui.core import nodes as logic
from mlctl_tui.core import plans
from mlctl_tui.core.table import RowFilter, TableView
from mlctl_tui.screens.base import FilteredScreen
from mlctl_tui.services.actions import Prepared
from mlctl_tui.state import View
from mlctl_tui.widgets.common.filter_bar import FilterBar
from mlctl_tui.widgets.common.row_table import RowTable


class NodesScreen(FilteredScreen):
    PURPOSE = (
        "Client nodes: status, scheduling eligibility, drain, node pool and class, CPU and "
        "memory allocated of total, GPUs in use, live allocations. Below, the GPUs of the "
        "node under the cursor: model, memory, health and which allocation holds each. "
        "Drain moves every allocation off a node (seed 002: kill all instances on a machine)."
    )

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("d", "drain", "Drain"),
        Binding("i", "eligibility", "Eligible/ineligible"),
        Binding("tab", "focus_next", "Next table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.table_view = TableView(logic.NODE_COLUMNS)

    def compose_body(self) -> ComposeResult:
        yield FilterBar(id="filter")
        yield RowTable(logic.NODE_COLUMNS, empty="no client nodes", id="nodes")
        yield Static("", id="gpu-title", markup=False)
        yield RowTable(logic.GPU_COLUMNS, empty="no GPUs on this node", id="gpus")

    @property
    def table(self) -> RowTable:
        return self.query_one("#nodes", RowTable)

    def on_mount(self) -> None:
        self.table.focus()
        super().on_mount()

    def render_view(self, view: View) -> None:
        rows = self.table_view.arrange(logic.node_rows(view.snapshot))
        self.table.set_rows(rows)
        self.table.set_sort(self.table_view.sort_column, self.table_view.reverse)
        self._render_gpus(view)

    def _render_gpus(self, view: View) -> None:
        node = self.current()
        title = self.query_one("#gpu-title", Static)
        gpus = self.query_one("#gpus", RowTable)
        if node is None:
            title.update("GPUs")
            gpus.set_rows([])
            return
        used = sum(1 for g in node.gpus if g.alloc_id)
        title.update(f"GPUs of {node.name}: {used} of {len(node.gpus)} in use")
        gpus.set_rows(logic.gpu_rows(node, view.snapshot))

    def current(self) -> NodeView | None:
        key = self.table.cursor_key
        return self.mlctl.view.snapshot.nodes.get(key) if key else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in ("drain", "eligibility"):
            return True
        node = self.current()
        if node is None:
            return None
        if not self.allows(action):
            return False
        if action == "drain" and node.drain:
            return None
        return True

    def on_row_table_highlighted(self, event: RowTable.Highlighted) -> None:
        if event.table.id == "nodes":
            self._render_gpus(self.mlctl.view)
            self.refresh_bindings()

    def on_row_table_header_clicked(self, event: RowTable.HeaderClicked) -> None:
        if event.table.id == "nodes":
            self.table_view.sort_by(event.column)
            self.render_view(self.mlctl.view)

    def apply_row_filter(self, row_filter: RowFilter) -> None:
        self.table_view.row_filter = row_filter

    def action_sort(self) -> None:
        self.table_view.cycle_sort()
        self.render_view(self.mlctl.view)

    def action_drain(self) -> None:
        node = self.current()
        if node is None:
            return
        snapshot = self.mlctl.view.snapshot
        allocs = [a for a in snapshot.allocations.values() if a.node_id == node.id]
        names = {m.job_id: m.name for m in snapshot.models.values()}
        plan = plans.drain(node, allocs, names)
        backend = self.mlctl.backend
        self.mlctl.confirm_and_run(
            Prepared(plan, {"node": node.name, "node_id": node.id}, lambda: backend.drain(node.id))
        )

    def action_eligibility(self) -> None:
        node = self.current()
        if node is None:
            return
        eligible = node.eligibility != "eligible"
        live = sum(
            1
            for a in self.mlctl.view.snapshot.allocations.values()
            if a.node_id == node.id and a.live
        )
        plan = plans.eligibility(node, eligible, live)
        backend = self.mlctl.backend
        self.mlctl.confirm_and_run(
            Prepared(
                plan,
                {
                    "node": node.name,
                    "node_id": node.id,
                    "eligibility": "eligible" if eligible else "ineligible",
                },
                lambda: backend.set_eligibility(node.id, eligible),
            )
        )
