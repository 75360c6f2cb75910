"""Schedules: every model's windows, its state now and next transitions; edit them."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from mlctl.monitor.views import ModelView
from mlctl.schedule.edit import raw_label
from mlctl.schedule.spec import StoredSchedule
from mlctl.schedule.timeline import next_transitions
from mlctl.schedule.view import schedule_zone
from mlctl_tui.core import plans
from mlctl_tui.core.schedules import (
    SCHEDULE_COLUMNS,
    WINDOW_COLUMNS,
    schedule_rows,
    transition_lines,
    window_rows,
)
from mlctl_tui.core.table import RowFilter, TableView
from mlctl_tui.screens.base import FilteredScreen
from mlctl_tui.screens.models import parse_key
from mlctl_tui.screens.schedule_form import FormContext, ScheduleForm
from mlctl_tui.services.actions import Prepared
from mlctl_tui.state import View
from mlctl_tui.widgets.common.filter_bar import FilterBar
from mlctl_tui.widgets.common.row_table import RowTable


class SchedulesScreen(FilteredScreen):
    PURPOSE = (
        "Start/stop schedules: each model's windows, what the schedule wants now (or a "
        "manual override, or paused) and its next start and stop, in the schedule's zone and "
        "UTC. Add or edit a window in a form that checks every field as you type and shows "
        "the next five transitions before you save; remove a window; pause or resume."
    )

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("a", "add", "Add window"),
        Binding("e", "edit", "Edit window"),
        Binding("x", "remove", "Remove window"),
        Binding("p", "pause", "Pause/resume"),
        Binding("R", "reload", "Reload"),
        Binding("tab", "focus_next", "Next table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.table_view = TableView(SCHEDULE_COLUMNS)
        self.focus_key: str | None = None

    def compose_body(self) -> ComposeResult:
        yield FilterBar(id="filter")
        yield RowTable(SCHEDULE_COLUMNS, empty="no models", id="schedules")
        yield Static("", id="schedule-title", markup=False)
        yield RowTable(WINDOW_COLUMNS, empty="no windows: press a to add one", id="windows")
        yield Static("", id="transitions", markup=False)

    @property
    def table(self) -> RowTable:
        return self.query_one("#schedules", RowTable)

    def on_mount(self) -> None:
        self.table.focus()
        super().on_mount()

    def render_view(self, view: View) -> None:
        rows = self.table_view.arrange(schedule_rows(view.models(), view.schedules, view.now))
        self.table.set_rows(rows)
        if self.focus_key is not None and self.table.move_to(self.focus_key):
            self.focus_key = None
        self._render_windows(view)

    def _render_windows(self, view: View) -> None:
        model, doc = self.current()
        title = self.query_one("#schedule-title", Static)
        windows = self.query_one("#windows", RowTable)
        transitions = self.query_one("#transitions", Static)
        if view.schedules_error:
            title.update(f"schedules could not be read: {view.schedules_error}")
        if model is None:
            windows.set_rows([])
            transitions.update("")
            return
        if doc is None:
            title.update(f"{model.name} in {model.namespace}: no schedule")
            windows.set_rows([])
            transitions.update("")
            return
        paused = " (paused)" if doc.paused else ""
        title.update(
            f"Windows of {model.name} in {model.namespace}{paused} · default "
            f"replicas {doc.replicas}, outside windows {doc.idle_replicas or 0}"
        )
        windows.set_rows(window_rows(doc, view.now))
        schedule = doc.schedule()
        upcoming = next_transitions(schedule, view.now, 5)
        transitions.update(
            "Next transitions:\n" + "\n".join(transition_lines(upcoming, schedule_zone(schedule)))
            if upcoming
            else "no transition within five years"
        )

    def show_model(self, key: str) -> None:
        """Put the cursor on a model (from the Models screen's ``e``), now or once drawn."""
        self.focus_key = key
        if self.is_mounted and self.table.move_to(key):
            self.focus_key = None

    # ------------------------------------------------------------------ targets

    def current(self) -> tuple[ModelView | None, StoredSchedule | None]:
        key = self.table.cursor_key
        view = self.mlctl.view
        model = view.model(parse_key(key)) if key else None
        return model, (view.schedule_of(model) if model else None)

    def window_index(self) -> int | None:
        key = self.query_one("#windows", RowTable).cursor_key
        return int(key) - 1 if key else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in ("add", "edit", "remove", "pause"):
            return True
        model, doc = self.current()
        if model is None:
            return None
        if not self.allows("schedule", model.namespace, model=model.name):
            return False
        if action != "add" and doc is None:
            return None
        return True

    def on_row_table_highlighted(self, event: RowTable.Highlighted) -> None:
        if event.table.id == "schedules":
            self._render_windows(self.mlctl.view)
            self.refresh_bindings()

    def apply_row_filter(self, row_filter: RowFilter) -> None:
        self.table_view.row_filter = row_filter

    # ------------------------------------------------------------------ actions

    def action_reload(self) -> None:
        self.mlctl.load_schedules()

    def _form(self, model: ModelView, doc: StoredSchedule | None, index: int | None) -> None:
        others = [w.to_dict() for i, w in enumerate(doc.windows) if i != index] if doc else []
        context = FormContext(
            model=model.name,
            namespace=model.namespace,
            others=others,
            replicas=doc.replicas if doc else max(1, model.desired),
            idle_replicas=doc.idle_replicas if doc else None,
            now=self.mlctl.view.now,
        )
        spec = doc.windows[index] if doc is not None and index is not None else None
        backend = self.mlctl.backend

        def saved(raw: dict[str, Any] | None) -> None:
            if raw is None:
                return
            verb = "edit" if index is not None else "add"
            plan = plans.Plan(
                "schedule-" + verb,
                f"Schedule of {model.name}",
                f"{verb} window {raw_label(raw)!r} of {model.name} in {model.namespace}",
                False,
            )

            def call() -> str:
                backend.save_window(model.namespace, model.name, raw, index)
                return f"{model.name}: schedule saved"

            self.mlctl.execute(
                Prepared(plan, {"namespace": model.namespace, "model": model.name}, call),
                after=self.mlctl.load_schedules,
            )

        self.app.push_screen(ScheduleForm(context, spec), saved)

    def action_add(self) -> None:
        model, doc = self.current()
        if model is not None:
            self._form(model, doc, None)

    def action_edit(self) -> None:
        model, doc = self.current()
        index = self.window_index()
        if model is None or doc is None:
            return
        self._form(model, doc, index if index is not None else 0)

    def action_remove(self) -> None:
        model, doc = self.current()
        index = self.window_index()
        if model is None or doc is None or index is None:
            self.notify("choose a window in the lower table first (tab)", severity="warning")
            return
        plan = plans.remove_window(
            model.name, model.namespace, doc.windows[index].label, last=len(doc.windows) == 1
        )
        backend = self.mlctl.backend
        self.mlctl.confirm_and_run(
            Prepared(
                plan,
                {
                    "namespace": model.namespace,
                    "model": model.name,
                    "window": doc.windows[index].label,
                },
                lambda: backend.remove_window(model.namespace, model.name, index),
            ),
            after=self.mlctl.load_schedules,
        )

    def action_pause(self) -> None:
        model, doc = self.current()
        if model is None or doc is None:
            return
        paused = not doc.paused
        plan = plans.pause(model.name, model.namespace, paused)
        backend = self.mlctl.backend
        self.mlctl.confirm_and_run(
            Prepared(
                plan,
                {"namespace": model.namespace, "model": model.name},
                lambda: backend.set_paused(model.namespace, model.name, paused),
            ),
            after=self.mlctl.load_schedules,
        )
