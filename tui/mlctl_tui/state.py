"""What every screen renders from: one immutable view of the Store and its companions.

The app builds a new :class:`View` when the Store publishes (at most a few times a
second) and every second for the clocks; screens never read the Store or the network
themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mlctl.monitor.notes import AlertNote
from mlctl.monitor.store import Snapshot
from mlctl.monitor.views import ModelKey, ModelView
from mlctl.schedule.spec import StoredSchedule
from mlctl_tui.core.health import AlertSummary, summarize_alerts
from mlctl_tui.core.permissions import Abilities

EMPTY_SNAPSHOT = Snapshot(
    version=0,
    index=0,
    models={},
    nodes={},
    allocations={},
    alerts=(),
    connected=False,
    disconnected_since=None,
    mode="connecting",
    synced=False,
)


@dataclass(frozen=True)
class View:
    snapshot: Snapshot
    now: datetime
    abilities: Abilities
    schedules: Mapping[tuple[str, str], StoredSchedule] = field(default_factory=dict)
    schedules_error: str = ""
    notes: Mapping[str, AlertNote] = field(default_factory=dict)
    notes_error: str = ""
    namespace: str | None = None  #: the namespace shown; None: every namespace
    address: str = ""
    actor: str = ""
    readonly: bool = False
    _alerts: dict[ModelKey, AlertSummary] | None = field(default=None, repr=False)

    @property
    def alert_summaries(self) -> dict[ModelKey, AlertSummary]:
        if self._alerts is None:
            object.__setattr__(self, "_alerts", summarize_alerts(self.snapshot.alerts))
        assert self._alerts is not None
        return self._alerts

    def model(self, key: ModelKey) -> ModelView | None:
        return self.snapshot.models.get(key)

    def schedule_of(self, model: ModelView) -> StoredSchedule | None:
        return self.schedules.get((model.namespace, model.name))

    def models(self) -> list[ModelView]:
        """Models mlctl deployed, in the namespace shown."""
        return [
            m
            for m in self.snapshot.models.values()
            if m.managed and (self.namespace is None or m.namespace == self.namespace)
        ]
