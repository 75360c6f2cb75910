"""The audit trail: every action taken from the TUI, who did it, when, and the result.

Entries go to the monitor's event log (one JSON object a line, the file ``mlctl events``
reads), so operator actions and the monitor's own alerts and actions share one history.
:func:`AuditTrail.record` is the only writer; nothing secret is ever in an entry (the
messages pass :func:`mlctl.redact.scrub`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlctl.monitor.clock import Clock, utc_now
from mlctl.redact import scrub

#: The event log under the state directory, unless the monitor's settings say otherwise.
EVENT_LOG_NAME = "events.jsonl"


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    action: str
    target: Mapping[str, str]
    summary: str  #: the confirmation text the operator agreed to
    result: str  #: ``ok``, ``failed`` or ``refused``
    message: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "kind": "audit",
            "source": "tui",
            "actor": self.actor,
            "action": self.action,
            "target": dict(self.target),
            "summary": scrub(self.summary),
            "result": self.result,
            "message": scrub(self.message),
        }


def default_event_log(state_dir: Path) -> Path:
    return state_dir / "monitor" / EVENT_LOG_NAME


class AuditTrail:
    """Appends entries to a JSONL file (0600, directory 0700), thread-safe.

    ``listeners`` hear about each entry too (the TUI's feed shows it at once). A failed
    write is reported to them instead of stopping the action: the action already
    happened, and the operator must hear that its record is missing.
    """

    def __init__(self, path: Path | None, clock: Clock = utc_now) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self.listeners: list[Callable[[AuditEntry, str], None]] = []

    def record(
        self,
        actor: str,
        action: str,
        target: Mapping[str, str],
        summary: str,
        result: str,
        message: str,
    ) -> AuditEntry:
        entry = AuditEntry(actor, action, target, summary, result, message, self._clock())
        problem = self._write(entry)
        for listener in list(self.listeners):
            listener(entry, problem)
        return entry

    def _write(self, entry: AuditEntry) -> str:
        if self.path is None:
            return ""
        line = json.dumps(entry.to_dict(), sort_keys=True) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as handle:
                    handle.write(line)
        except OSError as error:
            return f"the audit trail {self.path} could not be written: {error.strerror or error}"
        return ""
