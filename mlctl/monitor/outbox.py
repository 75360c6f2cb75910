"""Deliveries that must not be lost: one FIFO queue and one worker per integration.

A failed delivery stays at the head of its integration's queue and is retried with a
bounded, jittered backoff (a receiver that *rejects* the payload itself, HTTP 4xx, is
not retried: that is logged as ``rejected``), so it is neither lost nor reordered,
and a dead receiver only delays its own queue — never the monitor loop or another
receiver. Each queue is
bounded (``limit``); when a receiver has been down so long that it overflows, the
oldest delivery is dropped and the drop is written to the event log.

:meth:`Outbox.dump`/:meth:`Outbox.load` carry undelivered items across a restart.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlctl.monitor.backoff import Backoff
from mlctl.monitor.clock import Clock
from mlctl.monitor.receivers import DeliveryFailed, Integration

Log = Callable[..., Any]  # eventlog.append-compatible: log(kind, **fields)


@dataclass
class Delivery:
    integration: str
    payload: dict[str, Any]
    created: str  # ISO time it was queued
    summary: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    attempts: int = 0
    last_error: str = ""
    held: bool = False  #: not sent until released (the state recording it is saved first)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "integration": self.integration,
            "payload": self.payload,
            "created": self.created,
            "summary": self.summary,
            "attempts": self.attempts,
            "lastError": self.last_error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Delivery:
        return cls(
            integration=str(data["integration"]),
            payload=dict(data["payload"]),
            created=str(data["created"]),
            summary=str(data.get("summary") or ""),
            id=str(data["id"]),
            attempts=int(data.get("attempts") or 0),
            last_error=str(data.get("lastError") or ""),
        )


class _Queue:
    def __init__(self, integration: Integration, limit: int, backoff: Backoff) -> None:
        self.integration = integration
        self.items: deque[Delivery] = deque()
        self.limit = limit
        self.backoff = backoff
        self.wake = threading.Condition()
        self.delivered = 0


class Outbox:
    def __init__(
        self,
        integrations: Iterable[Integration],
        clock: Clock,
        log: Log,
        limit: int = 1000,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        on_change: Callable[[], None] = lambda: None,
        may_deliver: Callable[[], bool] = lambda: True,
    ) -> None:
        """``may_deliver``: asked before every delivery (a standby monitor may not)."""
        self.clock = clock
        self.may_deliver = may_deliver
        self.log = log
        self.on_change = on_change
        self._queues = {
            i.id: _Queue(i, limit, Backoff(backoff_base, backoff_cap)) for i in integrations
        }
        self._threads: list[threading.Thread] = []

    @property
    def integrations(self) -> dict[str, Integration]:
        return {k: q.integration for k, q in self._queues.items()}

    def submit(
        self, integration_id: str, payload: dict[str, Any], summary: str = "", hold: bool = False
    ) -> None:
        """Queue a delivery; with ``hold`` it waits for :meth:`release` (write-ahead:
        the caller saves the state that records it, then releases)."""
        queue = self._queues[integration_id]
        delivery = Delivery(integration_id, payload, self.clock().isoformat(), summary, held=hold)
        with queue.wake:
            queue.items.append(delivery)
            dropped = queue.items.popleft() if len(queue.items) > queue.limit else None
            queue.wake.notify()
        if dropped is not None:
            self.log(
                "notification",
                status="dropped",
                receiver=queue.integration.description,
                summary=dropped.summary,
                reason=f"more than {queue.limit} deliveries waiting",
            )
        self.on_change()

    def pending(self) -> list[Delivery]:
        out: list[Delivery] = []
        for queue in self._queues.values():
            with queue.wake:
                out.extend(queue.items)
        return out

    def delivered(self, integration_id: str) -> int:
        return self._queues[integration_id].delivered

    def dump(self) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.pending()]

    def load(self, data: Iterable[Mapping[str, Any]]) -> int:
        """Re-queue undelivered items of a previous run (those of unknown integrations,
        e.g. removed from the config, are logged and dropped). Returns how many."""
        count = 0
        for item in data:
            delivery = Delivery.from_dict(item)
            queue = self._queues.get(delivery.integration)
            if queue is None:
                self.log(
                    "notification",
                    status="dropped",
                    receiver=delivery.integration,
                    summary=delivery.summary,
                    reason="that receiver is no longer configured",
                )
                continue
            with queue.wake:
                queue.items.append(delivery)
                queue.wake.notify()
            count += 1
        return count

    # ------------------------------------------------------------------ workers

    def start(self, stop: threading.Event) -> None:
        for queue in self._queues.values():
            thread = threading.Thread(
                target=self._work,
                args=(queue, stop),
                name=f"outbox-{queue.integration.id}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def clear(self) -> None:
        """Forget every queued delivery (the saved state keeps them for the leader)."""
        for queue in self._queues.values():
            with queue.wake:
                queue.items.clear()

    def release(self) -> None:
        """Let held deliveries go."""
        for queue in self._queues.values():
            with queue.wake:
                for delivery in queue.items:
                    delivery.held = False
                queue.wake.notify_all()

    def _drop(self, queue: _Queue, head: Delivery, why: str) -> None:
        with queue.wake:
            if queue.items and queue.items[0] is head:
                queue.items.popleft()
        self.log(
            "notification",
            status="rejected",
            receiver=queue.integration.description,
            summary=head.summary,
            error=why,
        )
        self.on_change()

    def _work(self, queue: _Queue, stop: threading.Event) -> None:
        retry_at = 0.0
        while not stop.is_set():
            with queue.wake:
                if not queue.items:
                    queue.wake.wait(0.5)
                    continue
                delay = retry_at - time.monotonic()
                if delay > 0 or queue.items[0].held or not self.may_deliver():
                    queue.wake.wait(min(delay, 0.5) if delay > 0 else 0.5)
                    continue
                head = queue.items[0]
            try:
                queue.integration.deliver(head.payload)
            except DeliveryFailed as error:
                if error.permanent:
                    self._drop(queue, head, str(error))
                    continue
                retry_at = time.monotonic() + queue.backoff.next_delay()
                head.attempts += 1
                head.last_error = str(error)
                if head.attempts == 1 or head.attempts % 10 == 0:
                    self.log(
                        "notification",
                        status="retrying",
                        receiver=queue.integration.description,
                        summary=head.summary,
                        attempts=head.attempts,
                        error=str(error),
                    )
                continue
            except Exception as error:  # a bug in a receiver must not kill its worker
                retry_at = time.monotonic() + queue.backoff.next_delay()
                head.attempts += 1
                head.last_error = f"{type(error).__name__}: {error}"
                self.log("notification", status="retrying", receiver=queue.integration.description,
                         summary=head.summary, error=head.last_error)  # fmt: skip
                continue
            queue.backoff.reset()
            retry_at = 0.0
            with queue.wake:
                if queue.items and queue.items[0] is head:
                    queue.items.popleft()
                queue.delivered += 1
            self.log(
                "notification",
                status="delivered",
                receiver=queue.integration.description,
                summary=head.summary,
                attempts=head.attempts + 1,
            )
            self.on_change()
