"""Model detail: why a model is (un)healthy, and everything to act on it.

Allocations (node, status, deployment health, restarts, age, GPU instances), the
current deployment with canaries and progress, the latest task events, version history
(bundle sha256, who deployed, when), endpoints, the model's alerts and its schedule.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static, TabbedContent, TabPane

from mlctl.monitor.views import ModelKey, ModelView
from mlctl_tui.core import detail
from mlctl_tui.core.health import NO_ALERTS, model_health
from mlctl_tui.core.schedules import describe_next
from mlctl_tui.screens import model_actions as act
from mlctl_tui.screens.base import BaseScreen
from mlctl_tui.state import View
from mlctl_tui.widgets.common.row_table import RowTable


class ModelDetailScreen(BaseScreen):
    PURPOSE = (
        "One model: its allocations with node, status, deployment health, restarts, age and "
        "GPU instances; the current deployment with canaries and progress; recent task events "
        "(why an allocation failed); version history with bundle sha256, who deployed and when; "
        "endpoints, alerts and schedule. Space selects allocations for restart."
    )

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("space", "select", "Select", show=False),
        Binding("l", "logs", "Logs"),
        Binding("L", "all_logs", "All logs"),
        Binding("k", "stop_alloc", "Stop alloc"),
        Binding("r", "restart", "Restart"),
        Binding("u", "start", "Start"),
        Binding("x", "stop", "Stop"),
        Binding("c", "scale", "Scale"),
        Binding("p", "promote", "Promote"),
        Binding("b", "rollback", "Rollback"),
        Binding("e", "schedule", "Schedule"),
        Binding("h", "history", "Reload versions", show=False),
    ]

    def __init__(self, key: ModelKey) -> None:
        super().__init__()
        self.key = key
        self.history: list[dict[str, Any]] | None = None
        self.history_error = ""
        self._history_of: int | None = None  #: the job version the history was read at

    def compose_body(self) -> ComposeResult:
        with Vertical(id="detail"):
            yield Static("", id="headline", markup=False)
            yield Static("", id="deployment", markup=False)
            yield RowTable(
                detail.ALLOC_COLUMNS, multi_select=True, empty="no allocations", id="allocs"
            )
            with TabbedContent(id="tabs"):
                with TabPane("Task events", id="tab-events"):
                    yield RowTable(detail.EVENT_COLUMNS, empty="no task events", id="events")
                with TabPane("Versions", id="tab-versions"):
                    yield RowTable(detail.VERSION_COLUMNS, empty="loading versions…", id="versions")
                with TabPane("Alerts, endpoints, schedule", id="tab-more"), Horizontal():
                    yield Static("", id="alerts", markup=False)
                    yield Static("", id="more", markup=False)

    def on_mount(self) -> None:
        self.query_one("#allocs", RowTable).focus()
        super().on_mount()
        self.action_history()

    @property
    def model(self) -> ModelView | None:
        return self.mlctl.view.model(self.key)

    def render_view(self, view: View) -> None:
        model = view.model(self.key)
        headline = self.query_one("#headline", Static)
        if model is None:
            headline.update(f"{self.key[1]} in {self.key[0]}: no longer in Nomad (purged?)")
            return
        summary = view.alert_summaries.get(self.key, NO_ALERTS)
        health, reason = model_health(model, summary)
        # Text, not markup: names, reasons and Nomad's messages may hold brackets.
        headline.update(
            Text.assemble(
                (model.name, "bold"),
                f" in {model.namespace} · job {model.job_id} v{model.version}"
                f"{' · ' + model.model_version if model.model_version else ''} · "
                f"{model.desired} desired, {model.running} running, {model.healthy} healthy · "
                f"GPUs {model.gpus_in_use} · ",
                (f"{health.value}: {reason}", _colour(health.value)),
            )
        )
        deployment = Text(detail.deployment_text(model.deployment, model.version))
        if model.blocked:
            deployment.append("\nblocked: ", "bold").append(model.blocked.reason)
        self.query_one("#deployment", Static).update(deployment)
        self.query_one("#allocs", RowTable).set_rows(detail.alloc_rows(model, view.now))
        self.query_one("#events", RowTable).set_rows(detail.event_rows(model.allocations))
        if self._history_of is not None and self._history_of != model.version:
            self.action_history()  # a new version (deploy, rollback): read the history again
        self._render_versions()
        alerts = view.snapshot.alerts_for(self.key)
        self.query_one("#alerts", Static).update(
            "\n".join(
                f"{a.labels.get('severity', '-')}: {a.name} ({a.status}) — "
                f"{a.annotations.get('summary', '')}"
                for a in alerts
            )
            or "no alerts"
        )
        doc = view.schedule_of(model)
        endpoints = detail.endpoint_lines(model) or ["no endpoints registered"]
        schedule = (
            [
                "schedule: " + ", ".join(w.label for w in doc.windows),
                describe_next(doc, view.now) + (" (paused)" if doc.paused else ""),
            ]
            if doc
            else ["no schedule (e to add one)"]
        )
        probe = model.probe
        traffic = (
            [
                f"probe: {probe.ready}/{probe.endpoints} ready"
                + (f", {probe.error}" if probe.error else "")
                + (
                    f", metrics: no access ({probe.metrics_denied} of {probe.endpoints} "
                    "endpoints answered 401/403)"
                    if probe.metrics_denied
                    else ""
                )
            ]
            if probe
            else []
        )
        self.query_one("#more", Static).update("\n".join([*endpoints, "", *schedule, *traffic]))

    def _render_versions(self) -> None:
        table = self.query_one("#versions", RowTable)
        if self.history_error:
            table.empty = f"versions unavailable: {self.history_error}"
            table.set_rows([])
        elif self.history is not None:
            table.set_rows(detail.version_rows(self.history))

    # ------------------------------------------------------------------ targets

    def allocs_chosen(self) -> list[Any]:
        model = self.model
        if model is None:
            return []
        keys = self.query_one("#allocs", RowTable).targets()
        by_id = {a.id: a for a in model.allocations}
        return [by_id[k] for k in keys if k in by_id]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        name = {"stop_alloc": "stop-alloc", "all_logs": "logs"}.get(
            action, act.MODEL_ACTIONS.get(action)
        )
        if name is None:
            return True
        model = self.model
        if model is None:
            return None
        if not self.allows(name, model.namespace, model=model.name):
            return False
        if action == "promote" and not act.awaiting_promotion(model):
            return None
        if action == "stop_alloc" and not any(a.live for a in self.allocs_chosen()):
            return None
        return True

    def on_row_table_highlighted(self, _event: RowTable.Highlighted) -> None:
        self.refresh_bindings()

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_select(self) -> None:
        table = self.query_one("#allocs", RowTable)
        table.toggle_selection()
        table.action_cursor(1)

    def action_history(self) -> None:
        model = self.model
        if model is None:
            return

        self._history_of = model.version

        def loaded(history: list[dict[str, Any]]) -> None:
            self.history, self.history_error = history, ""
            self._render_versions()

        backend = self.mlctl.backend
        self.mlctl.prepare(
            lambda: backend.history(model.namespace, model.name),
            loaded,
            f"read the versions of {model.name}",
        )

    def action_logs(self) -> None:
        model = self.model
        if model is not None:
            act.open_logs(self.mlctl, model, self.allocs_chosen()[:1])

    def action_all_logs(self) -> None:
        model = self.model
        if model is not None:
            act.open_logs(self.mlctl, model)

    def action_stop_alloc(self) -> None:
        model = self.model
        live = [a for a in self.allocs_chosen() if a.live]
        if model is not None and live:
            act.stop_alloc(self.mlctl, model, live[0])

    def action_restart(self) -> None:
        model = self.model
        if model is None:
            return
        table = self.query_one("#allocs", RowTable)
        chosen = self.allocs_chosen() if table.selected else list(model.allocations)
        act.restart_allocs(self.mlctl, model, chosen)
        table.clear_selection()

    def _after_version_change(self) -> None:
        self.action_history()

    def action_start(self) -> None:
        if (model := self.model) is not None:
            act.start(self.mlctl, model)

    def action_stop(self) -> None:
        if (model := self.model) is not None:
            act.stop(self.mlctl, model)

    def action_scale(self) -> None:
        if (model := self.model) is not None:
            act.scale(self.mlctl, model)

    def action_promote(self) -> None:
        if (model := self.model) is not None:
            act.promote(self.mlctl, model)

    def action_rollback(self) -> None:
        if (model := self.model) is not None:
            act.rollback(self.mlctl, model)

    def action_schedule(self) -> None:
        if (model := self.model) is not None:
            self.mlctl.show_schedule(model.key)


def _colour(health: str) -> str:
    return {
        "healthy": "green",
        "degraded": "yellow",
        "failing": "red",
        "deploying": "cyan",
        "pending": "magenta",
    }.get(health, "grey50")
