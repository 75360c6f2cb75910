"""Conditions -> alerts with Alertmanager's firing/resolved model (pure state machine).

- A condition seen for the first time is *pending*; once it has held for its
  ``for_seconds`` the alert *fires* (``startsAt`` = that moment).
- While it keeps holding, the alert stays firing; its annotations follow the latest
  observation (counts and values change), its identity does not.
- When the condition is gone, a pending alert is dropped silently and a firing one
  *resolves* (``endsAt`` = now). Resolved alerts are kept for ``resolved_retention``
  so ``mlctl alerts --all`` and late receivers can see them.
- Identity is the fingerprint of the labels (Alertmanager's FNV-1a 64 over the sorted
  label pairs), so the same problem is the same alert here and in Alertmanager.

The book's state round-trips through :meth:`AlertBook.dump`/:meth:`AlertBook.load`, so
a restarted monitor continues with the same alerts instead of firing them again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mlctl.monitor.rules import Condition
from mlctl.monitor.views import Alert, frozen_map

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's label-set fingerprint (``model.LabelSet.Fingerprint``), as hex."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8"):
                value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
            value = ((value ^ _SEPARATOR) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


@dataclass(frozen=True)
class Transition:
    """An alert that just fired or resolved."""

    kind: str  # "firing" | "resolved"
    alert: Alert


@dataclass
class _Entry:
    labels: dict[str, str]
    annotations: dict[str, str]
    pending_since: datetime
    starts_at: datetime | None = None  # set once firing
    ends_at: datetime | None = None

    def alert(self, fp: str) -> Alert:
        assert self.starts_at is not None
        return Alert(
            labels=frozen_map(self.labels),
            annotations=frozen_map(self.annotations),
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            fingerprint=fp,
        )


class AlertBook:
    """Every alert the monitor knows, keyed by fingerprint."""

    def __init__(self, resolved_retention: timedelta = timedelta(hours=1)) -> None:
        self.resolved_retention = resolved_retention
        self._entries: dict[str, _Entry] = {}

    def update(self, conditions: Iterable[Condition], now: datetime) -> list[Transition]:
        """Apply what holds at ``now``; returns the alerts that fired or resolved."""
        transitions: list[Transition] = []
        holding: set[str] = set()
        for condition in conditions:
            labels = condition.all_labels()
            fp = fingerprint(labels)
            holding.add(fp)
            annotations = {"summary": condition.summary, "description": condition.description}
            entry = self._entries.get(fp)
            if entry is None or entry.ends_at is not None:
                entry = _Entry(labels, annotations, pending_since=now)
                self._entries[fp] = entry
            entry.annotations = annotations
            if entry.starts_at is None and now - entry.pending_since >= timedelta(
                seconds=condition.for_seconds
            ):
                entry.starts_at = now
                transitions.append(Transition("firing", entry.alert(fp)))
        for fp, entry in list(self._entries.items()):
            if fp in holding or entry.ends_at is not None:
                continue
            if entry.starts_at is None:
                del self._entries[fp]  # pending, never fired: nothing to tell
                continue
            entry.ends_at = now
            transitions.append(Transition("resolved", entry.alert(fp)))
        self._expire(now)
        return transitions

    def _expire(self, now: datetime) -> None:
        horizon = now - self.resolved_retention
        for fp, entry in list(self._entries.items()):
            if entry.ends_at is not None and entry.ends_at < horizon:
                del self._entries[fp]

    def alerts(self) -> list[Alert]:
        """Firing and recently resolved alerts (not pending ones), oldest first."""
        out = [e.alert(fp) for fp, e in self._entries.items() if e.starts_at is not None]
        return sorted(out, key=lambda a: (a.starts_at, a.fingerprint))

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts() if a.ends_at is None]

    # ------------------------------------------------------------------ persistence

    def dump(self) -> list[dict[str, Any]]:
        return [
            {
                "fingerprint": fp,
                "labels": e.labels,
                "annotations": e.annotations,
                "pendingSince": e.pending_since.isoformat(),
                "startsAt": e.starts_at.isoformat() if e.starts_at else None,
                "endsAt": e.ends_at.isoformat() if e.ends_at else None,
            }
            for fp, e in self._entries.items()
        ]

    def load(self, data: Iterable[Mapping[str, Any]]) -> None:
        """Restore a dumped book (a restarted monitor carries on where it stopped)."""
        self._entries.clear()
        for item in data:
            labels = {str(k): str(v) for k, v in dict(item["labels"]).items()}
            self._entries[fingerprint(labels)] = _Entry(
                labels=labels,
                annotations={str(k): str(v) for k, v in dict(item["annotations"]).items()},
                pending_since=datetime.fromisoformat(item["pendingSince"]),
                starts_at=_time(item.get("startsAt")),
                ends_at=_time(item.get("endsAt")),
            )


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
