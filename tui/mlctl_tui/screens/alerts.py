"""Alerts & events: what is firing, what happened, and the operators' notes on alerts."""

from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from mlctl.monitor.notes import AlertNote
from mlctl.monitor.views import Alert
from mlctl_tui.core import plans
from mlctl_tui.core.alerts import (
    ALERT_COLUMNS,
    alert_namespace,
    alert_rows,
    describe,
    parse_duration,
)
from mlctl_tui.core.feed import FEED_COLUMNS, feed_rows
from mlctl_tui.core.table import RowFilter, TableView
from mlctl_tui.screens.base import FilteredScreen
from mlctl_tui.services.actions import Prepared
from mlctl_tui.state import View
from mlctl_tui.widgets.common.filter_bar import FilterBar
from mlctl_tui.widgets.common.row_table import RowTable

SEVERITY_CYCLE = (None, "critical", "warning", "info")


class AlertsScreen(FilteredScreen):
    PURPOSE = (
        "Alerts the health rules raise (firing first, worst first) and a live feed of what "
        "happened: allocations placed, failed or restarted, deployments, nodes, alerts, and "
        "every action taken from this TUI. Filter by severity (v) or by model with a regex "
        "(/). Acknowledge an alert (a) or silence it for a while (s); both are stored in "
        "Nomad so every operator and the monitor see them."
    )

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("v", "severity", "Severity"),
        Binding("a", "ack", "Acknowledge"),
        Binding("s", "silence", "Silence"),
        Binding("U", "clear_note", "Clear note"),
        Binding("tab", "focus_next", "Next table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.severity: str | None = None
        self.row_filter = RowFilter()
        self.table_view = TableView(ALERT_COLUMNS)
        self._feed_version = -1

    def compose_body(self) -> ComposeResult:
        yield FilterBar("regex over model, alert, summary, labels (! inverts)", id="filter")
        yield Static("", id="alerts-title", markup=False)
        yield RowTable(ALERT_COLUMNS, empty="no alerts", id="alerts")
        yield Static("", id="alert-detail", markup=False)
        yield Static("", id="feed-title", markup=False)
        yield RowTable(FEED_COLUMNS, empty="nothing has happened yet", id="feed")

    @property
    def table(self) -> RowTable:
        return self.query_one("#alerts", RowTable)

    def on_mount(self) -> None:
        self.table.focus()
        super().on_mount()

    def render_view(self, view: View) -> None:
        alerts = [
            a
            for a in view.snapshot.alerts
            if view.namespace is None or alert_namespace(a) == view.namespace
        ]
        rows = self.row_filter.apply(alert_rows(alerts, view.notes, view.now, self.severity))
        shown = self.table_view.arrange(rows)
        self.table.set_rows(shown)
        firing = sum(1 for a in alerts if a.status == "firing")
        notes = f" · notes unavailable: {view.notes_error}" if view.notes_error else ""
        self.query_one("#alerts-title", Static).update(
            f"Alerts: {firing} firing, {len(alerts) - firing} resolved · severity: "
            f"{self.severity or 'all'}"
            + (f" · filter: {self.row_filter.text}" if self.row_filter.active else "")
            + notes
        )
        self._describe()
        feed = self.mlctl.feed
        events = [
            e
            for e in feed.events
            if view.namespace is None or not e.namespace or e.namespace == view.namespace
        ]
        self.query_one("#feed", RowTable).set_rows(
            self.row_filter.apply(feed_rows(events, self.severity))
        )
        self.query_one("#feed-title", Static).update(f"Events ({len(events)}, newest first)")

    def current(self) -> Alert | None:
        key = self.table.cursor_key
        if key is None:
            return None
        return next((a for a in self.mlctl.view.snapshot.alerts if a.fingerprint == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in ("ack", "silence", "clear_note"):
            return True
        alert = self.current()
        if alert is None:
            return None
        if not self.allows("alert-note", alert_namespace(alert), fingerprint=alert.fingerprint):
            return False
        if action == "clear_note" and alert.fingerprint not in self.mlctl.view.notes:
            return None
        return True

    def on_row_table_highlighted(self, event: RowTable.Highlighted) -> None:
        if event.table.id == "alerts":
            self._describe()
            self.refresh_bindings()

    def _describe(self) -> None:
        alert = self.current()
        note = self.mlctl.view.notes.get(alert.fingerprint) if alert else None
        self.query_one("#alert-detail", Static).update(describe(alert, note) if alert else "")

    def apply_row_filter(self, row_filter: RowFilter) -> None:
        self.row_filter = row_filter

    # ------------------------------------------------------------------ actions

    def action_severity(self) -> None:
        index = SEVERITY_CYCLE.index(self.severity)
        self.severity = SEVERITY_CYCLE[(index + 1) % len(SEVERITY_CYCLE)]
        self.render_view(self.mlctl.view)

    def _note(self, alert: Alert) -> AlertNote:
        existing = self.mlctl.view.notes.get(alert.fingerprint)
        if existing is not None:
            return existing
        return AlertNote(alert.fingerprint, alert_namespace(alert), dict(alert.labels))

    def _save(self, alert: Alert, note: AlertNote, action: str, text: str) -> None:
        backend = self.mlctl.backend
        plan = plans.Plan(action, f"{action.title()} {alert.name}", text, destructive=False)
        target = {
            "namespace": note.namespace,
            "alert": alert.name,
            "fingerprint": alert.fingerprint,
            "model": alert.labels.get("model", ""),
        }
        self.mlctl.execute(
            Prepared(plan, target, lambda: f"{alert.name}: {backend.save_note(note)}"),
            after=self.mlctl.load_notes,
        )

    def action_ack(self) -> None:
        alert = self.current()
        if alert is None:
            return
        view = self.mlctl.view
        note = replace(self._note(alert), acked_by=view.actor or "unknown", acked_at=view.now)
        self._save(
            alert,
            note,
            "acknowledge",
            f"acknowledge alert {alert.name} "
            f"({alert.labels.get('model') or alert.labels.get('node') or 'cluster'})",
        )

    def action_silence(self) -> None:
        from mlctl_tui.screens.modals import TextPrompt

        alert = self.current()
        if alert is None:
            return

        def check(text: str) -> str:
            try:
                parse_duration(text)
            except ValueError as error:
                return str(error)
            return ""

        def chosen(text: str | None) -> None:
            if text is None:
                return
            view = self.mlctl.view
            until = view.now + parse_duration(text)
            note = replace(
                self._note(alert), silenced_until=until, silenced_by=view.actor or "unknown"
            )
            self._save(
                alert,
                note,
                "silence",
                f"silence alert {alert.name} for {text.strip()}: the monitor sends no "
                f"notification of it until {until:%Y-%m-%d %H:%M}Z (it stays listed, "
                "marked silenced for every operator)",
            )

        self.app.push_screen(
            TextPrompt(f"Silence {alert.name}", "For how long? (30m, 4h, 2d)", "1h", check), chosen
        )

    def action_clear_note(self) -> None:
        alert = self.current()
        if alert is None:
            return
        namespace = alert_namespace(alert)
        backend = self.mlctl.backend
        plan = plans.Plan(
            "unsilence",
            f"Clear the note on {alert.name}",
            f"remove the acknowledgement and silence of alert {alert.name}",
            False,
        )
        self.mlctl.confirm_and_run(
            Prepared(
                plan,
                {"namespace": namespace, "fingerprint": alert.fingerprint},
                lambda: backend.delete_note(namespace, alert.fingerprint),
            ),
            after=self.mlctl.load_notes,
        )
