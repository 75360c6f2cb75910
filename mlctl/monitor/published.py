"""Read what a running monitor publishes: for ``mlctl alerts`` and ``mlctl events`` on
any machine that can reach Nomad (``mlctl/monitor/alerts`` and ``mlctl/monitor/events``
Variables in the monitor's state namespace), or from a local event log file."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlctl.errors import NotFound
from mlctl.monitor import eventlog
from mlctl.monitor.state import ALERTS_PATH, EVENTS_PATH
from mlctl.nomad.client import NomadClient

Record = dict[str, Any]


@dataclass(frozen=True)
class Published:
    records: list[Record]
    updated: datetime | None
    index: int


def _read(client: NomadClient, namespace: str, path: str, index: int = 0,
          wait: float = 30.0) -> tuple[dict[str, str] | None, int]:  # fmt: skip
    try:
        data, new_index = client.transport.blocking(
            "var", *path.split("/"), index=index, wait=wait, params={"namespace": namespace}
        )
    except NotFound:
        return None, 0
    return dict((data or {}).get("Items") or {}), new_index


def _updated(items: dict[str, str]) -> datetime | None:
    try:
        return datetime.fromisoformat(items["updated"])
    except (KeyError, ValueError):
        return None


def alerts(client: NomadClient, namespace: str) -> Published:
    """The alerts the monitor published (NotFound when it never ran here)."""
    items, index = _read(client, namespace, ALERTS_PATH)
    if items is None:
        raise NotFound(
            f"no alerts published in namespace {namespace}: the monitor has not run there",
            hint="start it (mlctl monitor run / mlctl monitor deploy) or pass "
            "--monitor-namespace",
        )
    return Published(list(json.loads(items.get("alerts") or "[]")), _updated(items), index)


def events(client: NomadClient, namespace: str, index: int = 0, wait: float = 30.0) -> Published:
    items, new_index = _read(client, namespace, EVENTS_PATH, index, wait)
    if items is None:
        raise NotFound(
            f"no events published in namespace {namespace}: the monitor has not run there",
            hint="give the monitor's --event-log file, or pass --monitor-namespace",
        )
    records = [r for r in map(eventlog.parse, (items.get("events") or "").splitlines()) if r]
    return Published(records, _updated(items), new_index)


def follow_published(
    client: NomadClient,
    namespace: str,
    keep: Callable[[Record], bool],
    stop: threading.Event,
    wait: float = 30.0,
) -> Iterator[Record]:
    """New published events as they appear (blocking queries on the Variable)."""
    first = events(client, namespace)
    seen = {json.dumps(r, sort_keys=True) for r in first.records}
    index = first.index
    while not stop.is_set():
        page = events(client, namespace, index, wait)
        index = page.index
        for record in page.records:
            key = json.dumps(record, sort_keys=True)
            if key not in seen:
                seen.add(key)
                if keep(record):
                    yield record
        if len(seen) > 10 * len(page.records) + 1000:
            seen = {json.dumps(r, sort_keys=True) for r in page.records}


def age(updated: datetime | None, now: datetime | None = None) -> str:
    if updated is None:
        return "unknown"
    seconds = int(((now or datetime.now(UTC)) - updated).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


def local_log(explicit: Path | None, default: Path) -> Path | None:
    """The event log file to read: the one named, else the default one if it exists."""
    if explicit is not None:
        if not explicit.exists() and not eventlog.files(explicit):
            raise NotFound(f"{explicit}: no such event log")
        return explicit
    return default if default.exists() else None
