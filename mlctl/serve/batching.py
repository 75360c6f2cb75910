"""Adaptive micro-batching: concurrent requests share one model call.

A model call has a large fixed cost (input validation, thread hop, BLAS setup) and a
small per-row cost, so running 32 single-row requests as one 32-row call multiplies
throughput. Waiting to fill a batch, though, adds latency. The adaptive rule avoids
that trade-off: when nothing is computing, a request is dispatched at once (no added
latency at low load); while a batch computes, new requests queue up, and the next
batch takes everything queued (up to ``max_batch_size`` rows). ``max_batch_wait_ms``
optionally lingers a little for more rows once the queue is non-empty and the model
is busy, never when it is idle.

The batcher is generic over the work: ``run_batch(items)`` receives the queued items
in arrival order and returns one result per item (an ``Exception`` instance fails just
that item), or raises to fail the whole batch.
It runs in a worker thread so the event loop keeps accepting connections.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class BatcherClosed(RuntimeError):
    """Raised to callers submitting after :meth:`Batcher.close`."""


@dataclass
class BatchStats:
    """What one dispatched batch looked like; reported to the metrics hook."""

    rows: int
    requests: int
    queue_seconds: list[float]
    compute_seconds: float


@dataclass
class _Pending(Generic[Item, Result]):
    item: Item
    rows: int
    future: asyncio.Future[Result]
    enqueued: float = field(default_factory=time.perf_counter)


class Batcher(Generic[Item, Result]):
    """Queue items from many coroutines and run them through ``run_batch`` together.

    Results (or exceptions) go back to each submitter in order. A failure of one batch
    fails only the requests in that batch. A cancelled submitter (client gone) is
    dropped from the queue before its batch runs; if its batch is already running the
    result is discarded.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Item]], Sequence[Result | Exception]],
        *,
        max_batch_size: int = 32,
        max_batch_wait_ms: float = 0.0,
        on_batch: Callable[[BatchStats], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self._run_batch = run_batch
        self._max_rows = max_batch_size
        self._max_wait = max(0.0, max_batch_wait_ms) / 1000.0
        self._on_batch = on_batch
        self._queue: deque[_Pending[Item, Result]] = deque()
        self._wakeup = asyncio.Event()
        # One thread: batches run one at a time, so the queue is what grows under load.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlctl-predict")
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Start the dispatch loop on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._dispatch_loop())

    async def submit(self, item: Item, rows: int = 1) -> Result:
        """Queue ``item`` (holding ``rows`` rows) and wait for its result."""
        if self._closed:
            raise BatcherClosed("the server is shutting down")
        self.start()
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(item, max(1, rows), future))
        self._wakeup.set()
        return await future

    @property
    def queued(self) -> int:
        """Requests waiting for a batch (not counting the one computing)."""
        return len(self._queue)

    async def close(self) -> None:
        """Finish the queued work, then stop the loop and the worker thread."""
        self._closed = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    async def _dispatch_loop(self) -> None:
        while True:
            if not self._queue:
                if self._closed:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = self._take_batch()
            if batch:
                await self._run(batch)
            # Model busy time is over; anything that arrived meanwhile forms the next batch,
            # optionally lingering up to max_batch_wait_ms for it to fill.
            if self._queue and self._max_wait and self._queued_rows() < self._max_rows:
                await self._linger()

    def _queued_rows(self) -> int:
        return sum(p.rows for p in self._queue)

    async def _linger(self) -> None:
        deadline = time.perf_counter() + self._max_wait
        while self._queued_rows() < self._max_rows and not self._closed:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    def _take_batch(self) -> list[_Pending[Item, Result]]:
        """Pop queued requests up to the row limit; a single oversized request goes alone."""
        batch: list[_Pending[Item, Result]] = []
        rows = 0
        while self._queue:
            pending = self._queue[0]
            if pending.future.done():  # cancelled while queued
                self._queue.popleft()
                continue
            if batch and rows + pending.rows > self._max_rows:
                break
            batch.append(self._queue.popleft())
            rows += pending.rows
        return batch

    async def _run(self, batch: list[_Pending[Item, Result]]) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        items = [p.item for p in batch]
        try:
            results = await loop.run_in_executor(self._executor, self._run_batch, items)
            if len(results) != len(batch):
                raise RuntimeError(
                    f"run_batch returned {len(results)} results for {len(batch)} items"
                )
        except Exception as exc:  # the whole batch failed: tell each of its requests
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
        else:
            for pending, result in zip(batch, results, strict=True):
                if pending.future.done():
                    continue
                if isinstance(result, Exception):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)
        finally:
            if self._on_batch is not None:
                self._on_batch(
                    BatchStats(
                        rows=sum(p.rows for p in batch),
                        requests=len(batch),
                        queue_seconds=[started - p.enqueued for p in batch],
                        compute_seconds=time.perf_counter() - started,
                    )
                )
