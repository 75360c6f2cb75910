"""The audit trail: every action taken from the TUI, who did it, when, and the result.

Entries are ``audit`` records in the monitor's event log
(:class:`mlctl.monitor.eventlog.EventLog`, the file ``mlctl events`` reads), so operator
actions and the monitor's alerts and actions share one history. :meth:`AuditTrail.record`
is the only writer; the event log scrubs secrets from every line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mlctl.monitor.clock import Clock, utc_now
from mlctl.monitor.eventlog import EventLog


@dataclass(frozen=True)
class AuditEntry:
    time: datetime
    actor: str
    action: str
    target: Mapping[str, str]
    summary: str  #: the confirmation text the operator agreed to
    result: str  #: ``ok``, ``failed`` or ``refused``
    message: str


Listener = Callable[[AuditEntry, str], None]


class AuditTrail:
    """Writes audit records; ``listeners`` hear each one (and any write problem).

    A failed write never undoes or hides the action (it already happened): listeners get
    the problem so the operator hears that the record is missing.
    """

    def __init__(self, path: Path | None, clock: Clock = utc_now) -> None:
        self.path = path
        self._clock = clock
        self._log: EventLog | None = None
        self.listeners: list[Listener] = []

    def record(
        self,
        actor: str,
        action: str,
        target: Mapping[str, str],
        summary: str,
        result: str,
        message: str,
    ) -> AuditEntry:
        entry = AuditEntry(self._clock(), actor, action, dict(target), summary, result, message)
        problem = self._write(entry)
        for listener in list(self.listeners):
            listener(entry, problem)
        return entry

    def _write(self, entry: AuditEntry) -> str:
        if self.path is None:
            return ""
        try:
            if self._log is None:
                self._log = EventLog(self.path, self._clock)
            self._log.append(
                "audit",
                source="tui",
                actor=entry.actor,
                action=entry.action,
                target=dict(entry.target),
                model=entry.target.get("model", ""),
                namespace=entry.target.get("namespace", ""),
                summary=entry.summary,
                result=entry.result,
                message=entry.message,
            )
        except OSError as error:
            return f"the audit record could not be written to {self.path}: {error}"
        return ""
