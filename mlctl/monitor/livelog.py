"""One line per event-log record, for ``mlctl monitor run``'s live log and ``mlctl
events`` (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _time(record: dict[str, Any]) -> str:
    try:
        return datetime.fromisoformat(str(record.get("time"))).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(record.get("time", ""))


def _model(record: dict[str, Any]) -> str:
    model, namespace = record.get("model"), record.get("namespace")
    if not model:
        return ""
    return f"{model}/{namespace}" if namespace else str(model)


def line(record: dict[str, Any]) -> str:
    """``2025-03-03 09:00:01 FIRING   critical ModelCrashLooping iris/default: summary``."""
    kind = str(record.get("kind", ""))
    when = _time(record)
    if kind == "alert":
        status = str(record.get("status", "")).upper()
        return (
            f"{when} {status:<8} {record.get('severity', ''):<8} {record.get('alertname', '')} "
            f"{_model(record)}: {record.get('summary', '')}"
        )
    if kind == "action":
        return (
            f"{when} ACTION   {record.get('description', record.get('action', ''))}: "
            f"{record.get('result', '')} ({record.get('reason', '')})"
        )
    if kind == "notification":
        extra = f" — {record['error']}" if record.get("error") else ""
        return (
            f"{when} {record.get('status', '')!s:<8} {record.get('receiver', '')}: "
            f"{record.get('summary', '')}{extra}"
        )
    if kind == "probe":
        return (
            f"{when} probe    {_model(record)}: {record.get('ready', 0)} of "
            f"{record.get('endpoints', 0)} endpoints ready, {record.get('reachable', 0)} reachable"
        )
    if kind == "leadership":
        return f"{when} {record.get('role')} since {record.get('since')}: {record.get('message')}"
    if kind == "audit":
        return (
            f"{when} audit    {record.get('who', '')}: {record.get('what', '')} -> "
            f"{record.get('result', '')}"
        )
    known = {"time", "kind", "message", "model", "namespace"}
    rest = " ".join(f"{k}={v}" for k, v in record.items() if k not in known)
    text = record.get("message") or rest
    where = f" {_model(record)}:" if _model(record) else ""
    return f"{when} {kind:<8}{where} {text}".rstrip()
