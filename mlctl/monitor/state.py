"""Where the monitor keeps what must survive a restart, and what it publishes.

- **State** (alerts with their pending/firing/resolved times, what each receiver was
  told, undelivered notifications): the Nomad Variable ``mlctl/monitor/state`` in the
  monitor's state namespace (compressed JSON, written with check-and-set), or a local
  0600 file for a monitor run without Nomad Variables (``state: file``).
- **Publication** for ``mlctl alerts`` and ``mlctl events`` on any machine:
  ``mlctl/monitor/alerts`` (every firing and recently resolved alert) and
  ``mlctl/monitor/events`` (the most recent event-log records that fit).

A Nomad Variable holds at most 64 KiB; state and publications are trimmed to fit
(oldest undelivered notifications, then resolved alerts, then the oldest events), and
any trimming is written to the event log.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from mlctl.errors import MlctlError
from mlctl.monitor.varstore import CasConflict, Variables

STATE_PATH = "mlctl/monitor/state"
ALERTS_PATH = "mlctl/monitor/alerts"
EVENTS_PATH = "mlctl/monitor/events"
#: Nomad refuses variables over 64 KiB; keep a margin for the envelope.
MAX_ITEM_BYTES = 60 * 1024


def pack(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode()


def unpack(text: str) -> dict[str, Any]:
    data = json.loads(zlib.decompress(base64.b64decode(text)))
    if not isinstance(data, dict):
        raise ValueError("state is not a JSON object")
    return data


def fit(data: dict[str, Any]) -> tuple[str, list[str]]:
    """``data`` packed under the size limit, and what had to be dropped for that."""
    dropped: list[str] = []
    packed = pack(data)
    while len(packed) > MAX_ITEM_BYTES:
        outbox = data.get("outbox") or []
        alerts = data.get("alerts") or []
        resolved = [a for a in alerts if a.get("endsAt")]
        if outbox:
            dropped.append(f"undelivered notification {outbox[0].get('summary', '')}")
            data["outbox"] = outbox[1:]
        elif resolved:
            dropped.append(f"resolved alert {resolved[0].get('fingerprint')}")
            alerts.remove(resolved[0])
        else:
            raise ValueError("the monitor's state does not fit in a Nomad Variable")
        packed = pack(data)
    return packed, dropped


class StateBackend(Protocol):
    def load(self) -> dict[str, Any] | None: ...

    def save(self, data: dict[str, Any]) -> list[str]: ...

    def still_ours(self) -> bool:
        """Is the saved state still the version this process last loaded or saved?
        (A monitor that lost the leader lock and took it back may then resume as it
        was; otherwise someone else led meanwhile and the saved state must be
        reloaded.)"""
        ...


class VariableState:
    """State in a Nomad Variable, check-and-set against the version this monitor read."""

    def __init__(self, variables: Variables, path: str = STATE_PATH) -> None:
        self.variables = variables
        self.path = path
        self._index: int | None = None

    def load(self) -> dict[str, Any] | None:
        items, index = self.variables.read(self.path)
        self._index = index
        if not items or "state" not in items:
            return None
        return unpack(items["state"])

    def save(self, data: dict[str, Any]) -> list[str]:
        packed, dropped = fit(dict(data))
        try:
            self._index = self.variables.write(self.path, {"state": packed}, cas=self._index)
        except CasConflict as conflict:
            # Someone else wrote it (another monitor?): take their version as the base
            # of the next write, and say so; this monitor's view wins from now on.
            self._index = conflict.current_index
            dropped.append("the state was changed by someone else since it was read")
            self._index = self.variables.write(self.path, {"state": packed}, cas=self._index)
        return dropped

    def still_ours(self) -> bool:
        if self._index is None:
            return False
        try:
            _, index = self.variables.read(self.path)
        except MlctlError:
            return False  # cannot tell: reloading is the safe answer
        return index == self._index


class FileState:
    """State in a local JSON file (0600), written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None  #: (mtime, size) last loaded or saved

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def load(self) -> dict[str, Any] | None:
        self._stamp = self._current_stamp()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data if isinstance(data, dict) else None

    def still_ours(self) -> bool:
        return self._current_stamp() == self._stamp

    def save(self, data: dict[str, Any]) -> list[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            Path(tmp).chmod(0o600)
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._stamp = self._current_stamp()
        return []


# ---------------------------------------------------------------------- publication


def events_item(records: Iterable[dict[str, Any]]) -> str:
    """The newest records (JSONL, oldest first) that fit in one Variable item."""
    lines: list[str] = []
    size = 0
    for record in reversed(list(records)):
        line = json.dumps(record, separators=(",", ":"))
        if size + len(line) + 1 > MAX_ITEM_BYTES:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(reversed(lines))


def alerts_item(alerts: list[dict[str, Any]]) -> str:
    """Alerts as JSON, newest resolved ones dropped first if they do not fit."""
    kept = list(alerts)
    text = json.dumps(kept, separators=(",", ":"))
    while len(text) > MAX_ITEM_BYTES and any(a.get("endsAt") for a in kept):
        oldest = min((a for a in kept if a.get("endsAt")), key=lambda a: a["endsAt"])
        kept.remove(oldest)
        text = json.dumps(kept, separators=(",", ":"))
    return text


def read_published(variables: Variables, path: str, item: str) -> tuple[str | None, str | None]:
    """An item of a published Variable and its ``updated`` time (None when absent)."""
    items, _ = variables.read(path)
    if not items:
        return None, None
    return items.get(item), items.get("updated")
