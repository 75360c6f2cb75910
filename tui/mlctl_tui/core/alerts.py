"""Alerts as the TUI lists them, and the notes operators attach: acknowledged, silenced.

A note lives in a Nomad Variable ``mlctl/alerts/notes/<fingerprint>`` in the alert's
namespace (:mod:`mlctl.monitor.notes`, shared with the monitor, which holds back the
notifications of a silenced alert), so every TUI and the monitor see the same
acknowledgements and silences. This module is the TUI's pure part: silence durations
and the rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from mlctl.monitor.notes import AlertNote, namespace_of
from mlctl.monitor.views import Alert
from mlctl_tui.core import formatting as fmt
from mlctl_tui.core.health import SEVERITY_RANK
from mlctl_tui.core.table import Column, TableRow

ALERT_COLUMNS = (
    Column("severity", "SEVERITY", 8),
    Column("alert", "ALERT", 22),
    Column("model", "MODEL", 16),
    Column("namespace", "NAMESPACE", 10),
    Column("state", "STATE", 34),
    Column("since", "SINCE", 7, "right"),
    Column("summary", "SUMMARY", 0),
)

#: Longest silence the TUI sets (a forgotten silence must end by itself).
MAX_SILENCE = timedelta(days=14)
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``4h``, ``2d`` → a timedelta; ValueError naming what is allowed."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text.strip()!r} is not a duration like 30m, 4h or 2d")
    value = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if value <= timedelta(0):
        raise ValueError("a silence must last at least one minute")
    if value > MAX_SILENCE:
        raise ValueError(f"at most {MAX_SILENCE.days}d: a forgotten silence must end by itself")
    return value


def alert_namespace(alert: Alert) -> str:
    return namespace_of(alert.labels)


def state_text(alert: Alert, note: AlertNote | None, now: datetime) -> str:
    parts = [alert.status]
    if note is not None:
        if note.silenced(now) and note.silenced_until is not None:
            parts.append(f"silenced {fmt.duration((note.silenced_until - now).total_seconds())}")
        if note.acked_by:
            parts.append("acked")
    return " · ".join(parts)


def alert_rows(
    alerts: Iterable[Alert],
    notes: Mapping[str, AlertNote],
    now: datetime,
    severity: str | None = None,
) -> list[TableRow]:
    rows = []
    for alert in alerts:
        labels = alert.labels
        level = labels.get("severity", "")
        if severity and level != severity:
            continue
        note = notes.get(alert.fingerprint)
        summary = alert.annotations.get("summary", "")
        cells = (
            level or "-",
            alert.name,
            labels.get("model") or labels.get("node") or "-",
            labels.get("namespace", "-"),
            state_text(alert, note, now),
            fmt.age(alert.starts_at, now),
            summary,
        )
        firing = alert.status == "firing"
        silenced = note is not None and note.silenced(now)
        style = (
            "stopped"
            if not firing or silenced
            else ("failing" if SEVERITY_RANK.get(level, 3) == 0 else "degraded")
        )
        sort_values = (
            (not firing, SEVERITY_RANK.get(level, 3)),
            alert.name,
            cells[2],
            cells[3],
            cells[4],
            -alert.starts_at.timestamp(),
            summary,
        )
        haystack = " ".join((*cells, " ".join(f"{k}={v}" for k, v in labels.items())))
        rows.append(TableRow(alert.fingerprint, cells, sort_values, style, haystack))
    return rows


def describe(alert: Alert, note: AlertNote | None = None) -> str:
    """Every label, the description and the operators' note, for the lines under the table."""
    lines = [" ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))]
    if alert.annotations.get("description"):
        lines.append(alert.annotations["description"])
    if note is not None:
        said = []
        if note.acked_by:
            said.append(f"acknowledged by {note.acked_by} at {fmt.stamp(note.acked_at)}")
        if note.silenced_until is not None:
            said.append(
                f"silenced by {note.silenced_by or '?'} until {fmt.stamp(note.silenced_until)}"
            )
        if said:
            lines.append("; ".join(said))
    return "\n".join(lines)
