"""Nomad's event buffer: the last ``event_buffer_size`` Raft indexes that had events.

Like Nomad's ``nomad/stream/event_buffer.go``, items form a linked list: publishing
appends to the tail and trims the head once more than ``size`` indexes are held. A
subscription remembers the last item it delivered and follows ``next`` links, so a
connected subscriber never loses an event to trimming (the items it still references
stay alive); only a *new* subscription whose ``index`` fell out of the buffer starts
at the oldest index still held — the events in between are silently skipped, which is
what Nomad documents ("the stream will start at the next available index").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Event

#: Nomad's default ``server { event_buffer_size = 100 }``.
DEFAULT_SIZE = 100


@dataclass(eq=False)
class BufferItem:
    """All events published at one Raft index."""

    index: int
    events: list[Event] = field(default_factory=list)
    next: BufferItem | None = None


class EventBuffer:
    """A bounded, linked buffer of :class:`BufferItem`; callers hold the store lock."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("event buffer size must be at least 1")
        self.size = size
        self.head: BufferItem | None = None
        # Until the first event, the tail is a sentinel, so a cursor taken on an empty
        # buffer is linked to whatever is published next.
        self.tail = BufferItem(0)
        self.length = 0

    def append(self, event: Event) -> None:
        if self.head is not None and self.tail.index == event.index:
            self.tail.events.append(event)
            return
        item = BufferItem(event.index, [event])
        self.tail.next = item
        self.tail = item
        if self.head is None:
            self.head = item
        self.length += 1
        while self.length > self.size and self.head is not None:
            self.head = self.head.next
            self.length -= 1

    def events(self) -> list[Event]:
        """Every buffered event, oldest first."""
        out: list[Event] = []
        item = self.head
        while item is not None:
            out.extend(item.events)
            item = item.next
        return out

    def subscribe(self, index: int) -> Cursor:
        """A cursor at ``index`` like Nomad's ``StartAtClosest``: 0 starts at the oldest
        item; an index older than the buffer starts at the oldest one still held; an
        index between items at the next one; one beyond the newest at the newest (which
        is delivered again). Everything published afterwards follows."""
        if self.head is None:
            return Cursor(self.tail)
        start = self.head
        if index > start.index:
            item: BufferItem | None = start
            while item is not None and item.index < index:
                start = item
                item = item.next
            if item is not None:
                start = item
        return Cursor(BufferItem(-1, next=start))


class Cursor:
    """One subscription's position: the last item it has seen."""

    def __init__(self, anchor: BufferItem) -> None:
        self.last = anchor

    def take(self) -> list[BufferItem]:
        """Items published since the previous call (callers hold the store lock)."""
        out: list[BufferItem] = []
        item = self.last.next
        while item is not None:
            self.last = item
            out.append(item)
            item = item.next
        return out
