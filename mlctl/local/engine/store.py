"""The simulator's in-memory state: tables, the Raft-like index and change notification.

One re-entrant lock guards everything; a condition variable wakes blocking queries
and event-stream readers whenever a table's index moves.  Each table remembers the
index of its last change, which is what Nomad reports in ``X-Nomad-Index``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .clock import SimClock
from .event_buffer import DEFAULT_SIZE, EventBuffer

JSON = dict[str, Any]

TABLES = (
    "jobs",
    "job_versions",
    "job_summary",
    "evals",
    "allocs",
    "deployment",
    "nodes",
    "services",
    "namespaces",
    "acl_policy",
    "acl_token",
    "acl_role",
    "acl_auth_method",
    "acl_binding_rule",
    "variables",
    "scaling_event",
)


def new_id() -> str:
    """A random UUID like every Nomad object ID."""
    return str(uuid.uuid4())


@dataclass
class Event:
    """One entry of the event stream (already in its JSON shape)."""

    topic: str
    type: str
    key: str
    namespace: str
    index: int
    payload: JSON
    filter_keys: list[str] = field(default_factory=list)

    def to_api(self) -> JSON:
        return {
            "Topic": self.topic,
            "Type": self.type,
            "Key": self.key,
            "Namespace": self.namespace,
            "FilterKeys": self.filter_keys or None,
            "Index": self.index,
            "Payload": self.payload,
        }


class Store:
    """Tables plus the index bookkeeping shared by the HTTP layer and the scheduler."""

    def __init__(self, clock: SimClock, event_buffer_size: int = DEFAULT_SIZE) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.index = 1
        self.table_index: dict[str, int] = dict.fromkeys(TABLES, 1)
        self.event_buffer = EventBuffer(event_buffer_size)
        self.stream_generation = 0  # bumped to cut every open event stream
        self.cut_mid_line = False  # the last cut ended streams inside a frame
        self.streams_stalled = False  # open streams send nothing (not even heartbeats)
        self.on_commit: Callable[[], None] | None = None
        """Persists the state (``mlctl local``); called by :meth:`commit`."""
        self._committed_index = self.index

    def commit(self) -> None:
        """End of a change: persist it before anyone outside the lock can act on it.

        Callers hold the lock (the HTTP router after a handler, the ticker after a
        tick), so nobody observes an index that a crash could take back.
        """
        with self.lock:
            if self.on_commit is None or self.index == self._committed_index:
                return
            self.on_commit()
            self._committed_index = self.index

    def bump(self, *tables: str) -> int:
        """Advance the global index and stamp the given tables with it."""
        with self.lock:
            self.index += 1
            for table in tables:
                if table not in self.table_index:
                    raise KeyError(f"unknown table {table}")
                self.table_index[table] = self.index
            self.changed.notify_all()
            return self.index

    def max_index(self, tables: Iterable[str]) -> int:
        with self.lock:
            return max(self.table_index[t] for t in tables)

    def wait_for_change(self, tables: Iterable[str], after: int, timeout: float) -> int:
        """Block until one of the tables moves past ``after`` or ``timeout`` real seconds pass."""
        names = list(tables)
        with self.changed:
            self.changed.wait_for(lambda: self.max_index(names) > after, timeout=timeout)
            return self.max_index(names)

    def publish(self, event: Event) -> None:
        """Append to the event buffer (callers hold the lock and have bumped the index)."""
        with self.lock:
            self.event_buffer.append(event)
            self.changed.notify_all()

    def cut_streams(self, mid_line: bool = False) -> None:
        """Make every open event stream end (steering: simulate a dropped connection);
        ``mid_line`` ends them inside a frame, without the closing chunk."""
        with self.lock:
            self.stream_generation += 1
            self.cut_mid_line = mid_line
            self.streams_stalled = False
            self.changed.notify_all()

    def stall_streams(self, stalled: bool = True) -> None:
        """Open streams go silent (no events, no heartbeats) but stay connected."""
        with self.lock:
            self.streams_stalled = stalled
            self.changed.notify_all()
