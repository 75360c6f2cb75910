"""The Textual app and its factory, :func:`make_app`, used by ``mlctl tui`` and the tests.

Data flows one way. The monitor engine (started by ``mlctl tui``, or by a test) writes
the Store on its own threads and publishes; the app hears that through a thread-safe
message, takes an immutable snapshot (at most a few times a second) and hands screens a
:class:`~mlctl_tui.state.View`. Screens never call HTTP: every read that is not in the
Store (schedules, alert notes, version history, abilities) and every action runs on a
worker thread through the backend and the action layer, and comes back as a
notification, a refreshed view or the one :class:`~mlctl_tui.screens.modals.ErrorModal`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from mlctl.errors import MlctlError
from mlctl.monitor.clock import Clock, utc_now
from mlctl.monitor.store import Snapshot, Store
from mlctl.settings import Settings
from mlctl_tui.core import feed as feed_logic
from mlctl_tui.core.permissions import Abilities
from mlctl_tui.services.access import read_abilities
from mlctl_tui.services.actions import ActionFailed, ActionLayer, Prepared
from mlctl_tui.services.audit import AuditEntry, AuditTrail
from mlctl_tui.services.backend import Backend, NomadBackend
from mlctl_tui.state import EMPTY_SNAPSHOT, View

T = TypeVar("T")

#: Least time between two redraws caused by Store changes (seconds).
REFRESH_MIN_INTERVAL = 0.2


@dataclass
class Intervals:
    """How often the app re-reads what the Store does not hold (seconds)."""

    clock: float = 1.0
    schedules: float = 15.0
    notes: float = 20.0


@dataclass
class AppContext:
    """Everything the app is built from (see :func:`make_app`)."""

    store: Store
    backend: Backend
    actions: ActionLayer
    clock: Clock = utc_now
    readonly: bool = False
    intervals: Intervals = field(default_factory=Intervals)
    namespace: str | None = None
    freeze_heap: bool = False
    """After the first full listing, move everything alive into Python's permanent GC
    generation, so full collections stop rescanning the big, long-lived Store (they put
    100 ms pauses into refreshes of 1,000 models). Process-wide: ``mlctl tui`` only."""


class StoreChanged(Message):
    """The Store published (sent from the engine's thread)."""


class AuditRecorded(Message):
    def __init__(self, entry: AuditEntry, problem: str) -> None:
        super().__init__()
        self.entry = entry
        self.problem = problem


class MlctlApp(App[None]):
    """mlctl's operator UI."""

    CSS_PATH = "app.tcss"
    TITLE = "mlctl"

    BINDINGS = [
        Binding("1", "go('models')", "Models"),
        Binding("2", "go('nodes')", "Nodes"),
        Binding("3", "go('schedules')", "Schedules"),
        Binding("4", "go('alerts')", "Alerts"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.store = context.store
        self.backend = context.backend
        self.actions = context.actions
        self.feed = feed_logic.Feed()
        self._abilities = (
            Abilities(readonly=True, source="checking…")
            if context.readonly
            else Abilities(source="checking…")
        )
        self.view = View(
            snapshot=EMPTY_SNAPSHOT,
            now=context.clock(),
            abilities=self._abilities,
            namespace=context.namespace,
            address=context.backend.address,
            readonly=context.readonly,
        )
        self._last_snapshot: Snapshot | None = None
        self._store_message_pending = False
        self._last_refresh = 0.0
        self._refresh_timer: Any = None
        self._unsubscribe: Callable[[], None] | None = None
        self._was_connected = False

    # ------------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        from mlctl_tui.screens.alerts import AlertsScreen
        from mlctl_tui.screens.models import ModelsScreen
        from mlctl_tui.screens.nodes import NodesScreen
        from mlctl_tui.screens.schedules import SchedulesScreen

        self.add_mode("models", ModelsScreen)
        self.add_mode("nodes", NodesScreen)
        self.add_mode("schedules", SchedulesScreen)
        self.add_mode("alerts", AlertsScreen)
        self.actions.audit.listeners.append(self._on_audit)
        self._unsubscribe = self.store.subscribe(self._on_store_publish)
        self.refresh_view(force=True)
        self.switch_mode("models")
        intervals = self.context.intervals
        self.set_interval(intervals.clock, self._tick)
        self.set_interval(intervals.schedules, self.load_schedules)
        self.set_interval(intervals.notes, self.load_notes)
        self.load_actor()
        self.load_abilities()
        self.load_schedules()
        self.load_notes()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._on_audit in self.actions.audit.listeners:
            self.actions.audit.listeners.remove(self._on_audit)

    # ------------------------------------------------------------------ the view

    def _on_store_publish(self, _snapshot: Snapshot) -> None:
        """Called on the engine's thread: only post a message (thread-safe), once."""
        if not self._store_message_pending:
            self._store_message_pending = True
            self.post_message(StoreChanged())

    def on_store_changed(self, _message: StoreChanged) -> None:
        self._store_message_pending = False
        wait = REFRESH_MIN_INTERVAL - (time.monotonic() - self._last_refresh)
        if wait <= 0:
            self.refresh_view()
        elif self._refresh_timer is None:
            self._refresh_timer = self.set_timer(wait, self._delayed_refresh)

    def _delayed_refresh(self) -> None:
        self._refresh_timer = None
        self.refresh_view()

    def _tick(self) -> None:
        self.refresh_view(force=True)

    def refresh_view(self, force: bool = False) -> None:
        """Take the Store's snapshot and redraw the visible screen."""
        snapshot = self.store.snapshot()
        now = self.context.clock()
        if snapshot is self.view.snapshot and not force:
            return
        self._last_refresh = time.monotonic()
        self.feed.add(feed_logic.changes(self._last_snapshot, snapshot, now))
        if snapshot.synced and (self._last_snapshot is None or not self._last_snapshot.synced):
            self._settle_heap()
        self._last_snapshot = snapshot
        if snapshot.connected and not self._was_connected and self.is_running:
            self.load_abilities()  # the token may have changed while we were away
        self._was_connected = snapshot.connected
        self.update_view(snapshot=snapshot, now=now)

    def _settle_heap(self) -> None:
        if self.context.freeze_heap:
            gc.collect()
            gc.freeze()

    def update_view(self, **changes: Any) -> None:
        self.view = replace(self.view, _alerts=None, **changes)
        self._show()

    def _show(self) -> None:
        from mlctl_tui.screens.base import BaseScreen

        for screen in reversed(self.screen_stack):
            if isinstance(screen, BaseScreen):
                screen.show_view(self.view)
                break

    def set_namespace(self, namespace: str | None) -> None:
        self.update_view(namespace=namespace)

    # ------------------------------------------------------------------ background reads

    def _background(self, fn: Callable[[], T], done: Callable[[T], None], what: str) -> None:
        """Run ``fn`` on a worker thread; ``done`` gets its result on the UI thread."""

        def body() -> None:
            try:
                result = fn()
            except ActionFailed as failure:
                self.call_from_thread(self.show_error, failure.title, failure.message)
                return
            except MlctlError as error:
                self.call_from_thread(self.show_error, f"Could not {what}", error.one_line())
                return
            self.call_from_thread(done, result)

        self.run_worker(body, thread=True, group=what, exit_on_error=False)

    @work(thread=True, exclusive=True, group="actor", exit_on_error=False)
    def load_actor(self) -> None:
        actor = self.backend.actor()
        self.call_from_thread(self.update_view, actor=actor)

    @work(thread=True, exclusive=True, group="abilities", exit_on_error=False)
    def load_abilities(self) -> None:
        abilities = read_abilities(self.backend, self.context.readonly)
        self.call_from_thread(self.update_view, abilities=abilities)

    @work(thread=True, exclusive=True, group="schedules", exit_on_error=False)
    def load_schedules(self) -> None:
        try:
            schedules = self.backend.schedules()
        except MlctlError as error:
            self.call_from_thread(self.update_view, schedules_error=error.one_line())
            return
        self.call_from_thread(self.update_view, schedules=schedules, schedules_error="")

    @work(thread=True, exclusive=True, group="notes", exit_on_error=False)
    def load_notes(self) -> None:
        try:
            notes = self.backend.notes()
        except MlctlError as error:
            self.call_from_thread(self.update_view, notes_error=error.one_line())
            return
        self.call_from_thread(self.update_view, notes=notes, notes_error="")

    # ------------------------------------------------------------------ actions

    def confirm_and_run(
        self, prepared: Prepared, after: Callable[[], object] | None = None
    ) -> None:
        """Show the confirmation; run the action on a worker thread if confirmed."""
        from mlctl_tui.screens.modals import ConfirmModal

        def answered(yes: bool | None) -> None:
            if yes:
                self.execute(prepared, after)

        self.push_screen(ConfirmModal(prepared.plan), answered)

    def execute(self, prepared: Prepared, after: Callable[[], object] | None = None) -> None:
        def body() -> None:
            try:
                message = self.actions.execute(prepared)
            except ActionFailed as failure:
                self.call_from_thread(self.show_error, failure.title, failure.message)
                return
            self.call_from_thread(self.notify, message, title=prepared.plan.title)
            if after is not None:
                self.call_from_thread(after)

        self.run_worker(body, thread=True, group="actions", exit_on_error=False)

    def prepare(self, fn: Callable[[], T], then: Callable[[T], None], what: str) -> None:
        """Run a read that an action needs first (a target count, the versions) off the
        UI thread, then continue with its result on the UI thread."""
        self._background(fn, then, what)

    def show_error(self, title: str, message: str) -> None:
        from mlctl_tui.screens.modals import ErrorModal

        self.push_screen(ErrorModal(title, message))

    def _on_audit(self, entry: AuditEntry, problem: str) -> None:
        self.post_message(AuditRecorded(entry, problem))

    def on_audit_recorded(self, message: AuditRecorded) -> None:
        entry = message.entry
        severity = "info" if entry.result == "ok" else "warning"
        subject = f"{entry.actor} (you)"
        text = f"{entry.action} {entry.result}: {entry.summary}"
        self.feed.add(
            [
                feed_logic.FeedEvent(
                    entry.time,
                    severity,
                    subject,
                    text,
                    entry.target.get("model", ""),
                    entry.target.get("namespace", ""),
                )
            ]
        )
        if message.problem:
            self.notify(message.problem, title="Audit trail", severity="warning", timeout=10)

    # ------------------------------------------------------------------ navigation

    def action_go(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        from mlctl_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def open_model(self, key: tuple[str, str]) -> None:
        from mlctl_tui.screens.model_detail import ModelDetailScreen

        if self.current_mode != "models":
            self.switch_mode("models")
        self.push_screen(ModelDetailScreen(key))

    def show_schedule(self, key: tuple[str, str]) -> None:
        from mlctl_tui.screens.schedules import SchedulesScreen

        self.action_go("schedules")
        screen = self.screen
        if isinstance(screen, SchedulesScreen):
            screen.show_model(f"{key[0]}/{key[1]}")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, label in (
            ("models", "Models"),
            ("nodes", "Nodes"),
            ("schedules", "Schedules"),
            ("alerts", "Alerts & events"),
        ):
            yield SystemCommand(
                f"Go to {label}", f"Show the {label} screen", lambda mode=mode: self.action_go(mode)
            )
        yield SystemCommand(
            "Namespace: all", "Show every namespace", lambda: self.set_namespace(None)
        )
        for namespace in sorted({m.namespace for m in self.view.snapshot.models.values()}):
            yield SystemCommand(
                f"Namespace: {namespace}",
                f"Show only namespace {namespace}",
                lambda ns=namespace: self.set_namespace(ns),
            )
        for model in sorted(self.view.models(), key=lambda m: (m.name, m.namespace)):
            yield SystemCommand(
                f"Open {model.name} ({model.namespace})",
                "Model detail: allocations, deployment, versions, events",
                lambda key=model.key: self.open_model(key),
            )


def make_app(
    settings: Settings,
    store: Store,
    *,
    backend: Backend | None = None,
    readonly: bool = False,
    clock: Clock = utc_now,
    event_log: Path | None = None,
    audit: AuditTrail | None = None,
    intervals: Intervals | None = None,
    freeze_heap: bool = False,
) -> MlctlApp:
    """Build the app. ``mlctl tui`` and the tests both call this.

    ``store`` is kept current by whoever owns it (``mlctl tui`` runs the monitor
    engine; a test may fill it by hand). ``backend`` defaults to Nomad as ``settings``
    describe it; ``event_log`` is where the audit trail goes (default: the monitor's
    event log under the state directory); ``readonly`` hides and refuses every action.
    """
    from mlctl.monitor.eventlog import default_path

    chosen = backend if backend is not None else NomadBackend(settings, clock)
    audit = AuditTrail(
        event_log if event_log is not None else default_path(settings.state_dir), clock
    )
    layer = ActionLayer(audit, chosen.actor, readonly=readonly)
    namespace = (
        settings.nomad_namespace if settings.nomad_namespace not in ("default", "*") else None
    )
    context = AppContext(
        store=store,
        backend=chosen,
        actions=layer,
        clock=clock,
        readonly=readonly,
        intervals=intervals or Intervals(),
        namespace=namespace,
        freeze_heap=freeze_heap,
    )
    return MlctlApp(context)
