"""Models (home): every model's health, replicas, GPUs, schedule, traffic and alerts."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from mlctl.monitor.views import ModelKey, ModelView
from mlctl_tui.core.models import COLUMNS, ModelRows, health_counts
from mlctl_tui.core.table import RowFilter, TableView
from mlctl_tui.screens import model_actions as act
from mlctl_tui.screens.base import FilteredScreen
from mlctl_tui.state import View
from mlctl_tui.widgets.common.filter_bar import FilterBar
from mlctl_tui.widgets.common.row_table import RowTable


def parse_key(key: str) -> ModelKey:
    namespace, _, job = key.partition("/")
    return (namespace, job)


class ModelsScreen(FilteredScreen):
    PURPOSE = (
        "Every model mlctl deployed: desired/running/healthy replicas, GPUs in use, the "
        "schedule's state and next start or stop, request rate, p99 latency, error rate and "
        "firing alerts. Rows are coloured by health (green healthy, yellow degraded, red "
        "failing, blue deploying, grey stopped). Enter opens a model."
    )

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("n", "namespace", "Namespace"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse", show=False),
        Binding("space", "select", "Select", show=False),
        Binding("u", "start", "Start"),
        Binding("x", "stop", "Stop"),
        Binding("c", "scale", "Scale"),
        Binding("r", "restart", "Restart"),
        Binding("p", "promote", "Promote"),
        Binding("b", "rollback", "Rollback"),
        Binding("l", "logs", "Logs"),
        Binding("e", "schedule", "Schedule"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.table_view = TableView(COLUMNS)
        self.builder = ModelRows()

    def compose_body(self) -> ComposeResult:
        yield FilterBar("regex over name, namespace, version, status (! inverts)", id="filter")
        yield RowTable(
            COLUMNS,
            multi_select=True,
            empty="no models (deploy one with mlctl deploy)",
            id="models",
        )
        yield Static("", id="summary", markup=False)

    @property
    def table(self) -> RowTable:
        return self.query_one("#models", RowTable)

    def on_mount(self) -> None:
        self.table.focus()
        super().on_mount()

    def render_view(self, view: View) -> None:
        rows = self.builder.build(view.models(), view.alert_summaries, view.schedules, view.now)
        shown = self.table_view.arrange(rows)
        table = self.table
        table.set_rows(shown)
        table.set_sort(self.table_view.sort_column, self.table_view.reverse)
        counts = health_counts(shown)
        parts = [
            f"{len(shown)} of {len(rows)} models"
            if len(shown) != len(rows)
            else f"{len(rows)} models"
        ]
        parts += [f"{n} {name}" for name, n in counts.items() if n]
        if table.selected:
            parts.append(f"{len(table.selected)} selected")
        parts.append(f"namespace: {view.namespace or 'all'}")
        parts.append(
            f"sort: {COLUMNS[self.table_view.sort_column].label}"
            + (" ▼" if self.table_view.reverse else " ▲")
        )
        if self.table_view.row_filter.active:
            parts.append(f"filter: {self.table_view.row_filter.text}")
        if view.schedules_error:
            parts.append(f"schedules unavailable: {view.schedules_error}")
        self.query_one("#summary", Static).update(" · ".join(parts))

    # ------------------------------------------------------------------ targets

    def current(self) -> ModelView | None:
        key = self.table.cursor_key
        return self.mlctl.view.model(parse_key(key)) if key else None

    def chosen(self) -> list[ModelView]:
        view = self.mlctl.view
        models = [view.model(parse_key(k)) for k in self.table.targets()]
        return [m for m in models if m is not None]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        name = act.MODEL_ACTIONS.get(action)
        if name is None:
            return True
        models = self.chosen() if action == "restart" else [m for m in [self.current()] if m]
        if not models:
            return None
        if not all(self.allows(name, m.namespace, model=m.name) for m in models):
            return False
        if action == "promote" and not act.awaiting_promotion(models[0]):
            return None
        return True

    # ------------------------------------------------------------------ events

    def on_row_table_activated(self, event: RowTable.Activated) -> None:
        self.mlctl.open_model(parse_key(event.key))

    def on_row_table_highlighted(self, _event: RowTable.Highlighted) -> None:
        self.refresh_bindings()

    def on_row_table_header_clicked(self, event: RowTable.HeaderClicked) -> None:
        self.table_view.sort_by(event.column)
        self.render_view(self.mlctl.view)

    def apply_row_filter(self, row_filter: RowFilter) -> None:
        self.table_view.row_filter = row_filter

    # ------------------------------------------------------------------ actions

    def action_namespace(self) -> None:
        from mlctl_tui.screens.modals import ChoiceModal

        view = self.mlctl.view
        names = sorted({m.namespace for m in view.snapshot.models.values() if m.managed})
        options = [("*", "all namespaces"), *((n, n) for n in names)]

        def chosen(value: str | None) -> None:
            if value is not None:
                self.mlctl.set_namespace(None if value == "*" else value)

        self.app.push_screen(
            ChoiceModal("Show which namespace?", options, view.namespace or "*"), chosen
        )

    def action_sort(self) -> None:
        self.table_view.cycle_sort()
        self.table_view.reverse = False
        self.render_view(self.mlctl.view)

    def action_reverse(self) -> None:
        self.table_view.reverse = not self.table_view.reverse
        self.render_view(self.mlctl.view)

    def action_select(self) -> None:
        self.table.toggle_selection()
        self.table.action_cursor(1)
        self.render_view(self.mlctl.view)

    def _with_current(self) -> ModelView | None:
        model = self.current()
        if model is None:
            self.notify("no model under the cursor", severity="warning")
        return model

    def action_start(self) -> None:
        if (model := self._with_current()) is not None:
            act.start(self.mlctl, model)

    def action_stop(self) -> None:
        if (model := self._with_current()) is not None:
            act.stop(self.mlctl, model)

    def action_scale(self) -> None:
        if (model := self._with_current()) is not None:
            act.scale(self.mlctl, model)

    def action_restart(self) -> None:
        models = self.chosen()
        if models:
            act.restart_models(self.mlctl, models)
            self.table.clear_selection()

    def action_promote(self) -> None:
        if (model := self._with_current()) is not None:
            act.promote(self.mlctl, model)

    def action_rollback(self) -> None:
        if (model := self._with_current()) is not None:
            act.rollback(self.mlctl, model)

    def action_logs(self) -> None:
        if (model := self._with_current()) is not None:
            act.open_logs(self.mlctl, model)

    def action_schedule(self) -> None:
        if (model := self._with_current()) is not None:
            self.mlctl.show_schedule(model.key)
