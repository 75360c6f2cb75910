"""The monitor's append-only event log: one JSON object per line (JSONL).

Who writes what (``kind``): the monitor itself (``monitor``: connected, lost the
stream, polling), alerts (``alert``: firing/resolved with labels), notifications
(``notification``: delivered or given up per receiver), actions (``action``: what,
why, the alert that caused it, the result), probes (``probe``: a compact summary per
model, used for schedule compliance), schedules (``schedule``: window transitions) and
the TUI's audit trail (``audit``: who, what, when, result). Any caller may add fields;
``time`` (ISO 8601, UTC) and ``kind`` are always present, and ``model``/``namespace``
name the model when there is one (``mlctl events --model`` filters on them).

Where it lives: ``$MLCTL_STATE_DIR/monitor/events.jsonl`` by default
(``~/.local/state/mlctl/monitor/events.jsonl``), or ``--event-log PATH``. It rotates
at ``max_bytes`` to ``events.jsonl.1`` … ``.N`` like logrotate; readers see the rotated
files too, oldest first. From another machine, ``mlctl events`` reads the recent events
the running monitor publishes to the Nomad Variable ``mlctl/monitor/events`` (see
:mod:`mlctl.monitor.publish`).

Secrets never reach the file: every line passes through :func:`mlctl.redact.scrub`.
Writes are serialised by a lock and flushed per line; a partial last line (a crash
mid-write) is skipped by readers.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from mlctl.monitor.clock import Clock, utc_now
from mlctl.redact import scrub

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 5
FILE_NAME = "events.jsonl"


def default_path(state_dir: Path) -> Path:
    """The event log's default location under mlctl's state directory."""
    return state_dir / "monitor" / FILE_NAME


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def encode(record: dict[str, Any]) -> str:
    """One record as its line (no newline), secrets scrubbed."""
    return scrub(json.dumps(record, default=_json_default, separators=(",", ":")))


class EventLog:
    """Append records; rotate by size. Thread-safe within one process."""

    def __init__(
        self,
        path: Path | None,
        clock: Clock = utc_now,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
        listeners: Iterable[Callable[[dict[str, Any]], None]] = (),
    ) -> None:
        self.path = path
        self.clock = clock
        self.max_bytes = max_bytes
        self.backups = backups
        self._listeners = list(listeners)
        self._lock = threading.Lock()
        if path is not None:  # None: records go to the listeners only (a watch-only monitor)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def add_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Also hand every appended record to ``listener`` (the live log, publication)."""
        with self._lock:
            self._listeners.append(listener)

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one record ``{"time", "kind", **fields}`` and return it."""
        record: dict[str, Any] = {"time": self.clock().isoformat(), "kind": kind, **fields}
        line = encode(record) + "\n"
        data = line.encode("utf-8")
        with self._lock:
            if self.path is not None:
                self._write(self.path, data)
            listeners = list(self._listeners)
        published: dict[str, Any] = json.loads(line)
        for listener in listeners:
            listener(published)
        return published

    def _write(self, path: Path, data: bytes) -> None:
        if path.exists() and path.stat().st_size + len(data) > self.max_bytes:
            self._rotate(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def _rotate(self, path: Path) -> None:
        for n in range(self.backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{n}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{n + 1}"))
        if self.backups > 0:
            path.replace(path.with_name(f"{path.name}.1"))
        else:
            path.unlink()


# ---------------------------------------------------------------------- reading


def files(path: Path) -> list[Path]:
    """The log and its rotated files, oldest first."""
    rotated = sorted(
        (p for p in path.parent.glob(f"{path.name}.*") if p.suffix.lstrip(".").isdigit()),
        key=lambda p: -int(p.suffix.lstrip(".")),
    )
    return [*rotated, *([path] if path.exists() else [])]


def parse(line: str) -> dict[str, Any] | None:
    """A record, or None for a blank or partial line."""
    line = line.strip()
    if not line:
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "kind" in record else None


class Filter:
    """``mlctl events`` filters: model name, kinds, a regular expression, a start time."""

    def __init__(
        self,
        model: str | None = None,
        grep: str | None = None,
        kinds: Iterable[str] = (),
        since: datetime | None = None,
        namespace: str | None = None,
    ) -> None:
        self.model = model
        self.namespace = namespace
        self.kinds = set(kinds)
        self.since = since
        try:
            self.pattern = re.compile(grep) if grep else None
        except re.error as error:
            raise ValueError(f"--grep {grep!r} is not a regular expression: {error}") from None

    def __call__(self, record: dict[str, Any]) -> bool:
        if self.model and record.get("model") != self.model:
            return False
        if self.namespace and record.get("namespace") not in (None, self.namespace):
            return False
        if self.kinds and record.get("kind") not in self.kinds:
            return False
        if self.since is not None:
            try:
                if datetime.fromisoformat(str(record.get("time"))) < self.since:
                    return False
            except ValueError:
                return False
        return self.pattern is None or bool(self.pattern.search(json.dumps(record, default=str)))


def read(path: Path, keep: Callable[[dict[str, Any]], bool] = lambda _r: True) -> Iterator[Any]:
    """Every record (rotated files included), oldest first, that ``keep`` accepts."""
    for file in files(path):
        with file.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                record = parse(line)
                if record is not None and keep(record):
                    yield record


def follow(
    path: Path,
    keep: Callable[[dict[str, Any]], bool] = lambda _r: True,
    stop: Callable[[], bool] = lambda: False,
    poll: float = 0.2,
    from_end: bool = True,
) -> Iterator[dict[str, Any]]:
    """Records appended from now on (``from_end``; else from the current file's start),
    across rotations, until ``stop()`` is true."""
    handle = None
    inode: int | None = None
    at_start = from_end  # the first file is followed from its end; rotated-in ones from 0
    buffered = ""
    try:
        while not stop():
            if handle is None:
                if not path.exists():
                    time.sleep(poll)
                    at_start = False
                    continue
                handle = path.open(encoding="utf-8", errors="replace")
                inode = os.fstat(handle.fileno()).st_ino
                if at_start:
                    handle.seek(0, os.SEEK_END)
                at_start = False
            chunk = handle.read()
            if chunk:
                buffered += chunk
                *lines, buffered = buffered.split("\n")
                for line in lines:
                    record = parse(line)
                    if record is not None and keep(record):
                        yield record
            elif _rotated(path, inode):
                handle.close()
                handle, buffered = None, ""
            else:
                time.sleep(poll)
    finally:
        if handle is not None:
            handle.close()


def _rotated(path: Path, inode: int | None) -> bool:
    try:
        return path.stat().st_ino != inode
    except FileNotFoundError:
        return False
