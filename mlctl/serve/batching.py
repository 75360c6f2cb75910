"""Adaptive micro-batching: concurrent requests share one trip to the model thread.

A model call has a large fixed cost (input validation, thread hop, BLAS setup) and a
small per-row cost, so running 32 single-row requests as one 32-row call multiplies
throughput. Waiting to fill a batch, though, adds latency. The adaptive rule avoids
that trade-off: when nothing is computing, a request is dispatched at once (no added
latency at low load); while a batch computes, new requests queue up, and the next
batch takes everything queued (up to ``max_batch_size`` *requests*, whatever their
row counts: how many rows go into one model call is the runtime's business, see
``max_batch_rows``). ``max_batch_wait_ms`` optionally lingers a little for more
requests once the queue is non-empty and the model is busy, never when it is idle.

The batcher is generic over the work: ``run_batch(items)`` receives the queued items
in arrival order and returns one result per item (an ``Exception`` instance fails just
that item), or raises to fail the whole batch. It runs on one :class:`ModelThread`, so
the event loop keeps accepting connections and user code never runs concurrently.

Every request has a deadline (``timeout_s`` from when it was queued). A watchdog fails
requests past it with :class:`InferenceTimeout`, whether they are still queued or inside
a batch that does not come back (a hung ``predict``): a thread cannot be killed, but
nobody waits on it forever, and :meth:`Batcher.stuck_for` lets readiness report it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class BatcherClosed(RuntimeError):
    """Raised to callers submitting after :meth:`Batcher.close`."""


class InferenceTimeout(TimeoutError):
    """A request's result did not arrive within the inference timeout."""

    def __init__(self, timeout_s: float, busy_for: float) -> None:
        super().__init__(
            f"inference did not finish within {timeout_s:g} s"
            + (
                f" (the model has been busy with one batch for {busy_for:.0f} s)"
                if busy_for
                else ""
            )
        )
        self.timeout_s = timeout_s


@dataclass
class BatchStats:
    """What one dispatched batch looked like; reported to the metrics hook."""

    requests: int
    queue_seconds: list[float]
    compute_seconds: float


@dataclass
class _Pending(Generic[Item, Result]):
    item: Item
    future: asyncio.Future[Result]
    deadline: float
    enqueued: float = field(default_factory=time.perf_counter)


class ModelThread:
    """The one thread that runs user code, as a daemon.

    A daemon thread rather than a ``ThreadPoolExecutor``: the executor's workers are
    joined when the interpreter exits, so a ``predict`` that never returns would keep a
    stopped server alive forever. Here the process exits and the stuck call dies with it.
    """

    def __init__(self, name: str = "mlctl-model") -> None:
        self._jobs: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def run(self, function: Callable[[Any], Any], argument: Any) -> asyncio.Future[Any]:
        """``function(argument)`` on the thread; the future completes on the calling loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((loop, future, function, argument))
        return future

    def stop(self) -> None:
        """Let the thread end after the job it is running (if it ever returns)."""
        self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, function, argument = job
            try:
                outcome: tuple[bool, Any] = (True, function(argument))
            except BaseException as exc:  # handed to the awaiting coroutine
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class Batcher(Generic[Item, Result]):
    """Queue items from many coroutines and run them through ``run_batch`` together.

    Results (or exceptions) go back to each submitter in order. A failure of one batch
    fails only the requests in that batch. A cancelled or timed-out submitter is dropped
    from the queue before its batch runs; if its batch is already running the result is
    discarded.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Item]], Sequence[Result | Exception]],
        *,
        max_batch_size: int = 32,
        max_batch_wait_ms: float = 0.0,
        timeout_s: float = 30.0,
        on_batch: Callable[[BatchStats], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._run_batch = run_batch
        self._max_requests = max_batch_size
        self._max_wait = max(0.0, max_batch_wait_ms) / 1000.0
        self.timeout_s = timeout_s
        self._on_batch = on_batch
        self._queue: deque[_Pending[Item, Result]] = deque()
        self._running: list[_Pending[Item, Result]] = []
        self._busy_since: float | None = None
        self._wakeup = asyncio.Event()
        self._thread = ModelThread()
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Start the dispatch loop and the watchdog on the running event loop."""
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._dispatch_loop())
            self._watchdog = loop.create_task(self._watch())

    async def submit(self, item: Item) -> Result:
        """Queue ``item`` and wait for its result (or :class:`InferenceTimeout`)."""
        if self._closed:
            raise BatcherClosed("the server is shutting down")
        self.start()
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        now = time.perf_counter()
        self._queue.append(_Pending(item, future, now + self.timeout_s, now))
        self._wakeup.set()
        return await future

    @property
    def queued(self) -> int:
        """Requests waiting for a batch (not counting the ones computing)."""
        return len(self._queue)

    def busy_for(self) -> float:
        """Seconds the batch on the model thread has been running (0 when idle)."""
        started = self._busy_since
        return 0.0 if started is None else time.perf_counter() - started

    def stuck_for(self) -> float:
        """How long the current batch has run past the timeout (0 when it has not)."""
        busy = self.busy_for()
        return busy if busy > self.timeout_s else 0.0

    def fail_waiting(self, error: Exception) -> int:
        """Fail every request still waiting (queued or computing); returns how many."""
        failed = 0
        for pending in [*self._running, *self._queue]:
            if not pending.future.done():
                pending.future.set_exception(error)
                failed += 1
        self._queue.clear()
        return failed

    async def close(self, timeout_s: float | None = None) -> None:
        """Finish the queued work (waiting at most ``timeout_s``), then stop."""
        self._closed = True
        self._wakeup.set()
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                self._task.cancel()
                self.fail_waiting(BatcherClosed("the server stopped before the model answered"))
        self._thread.stop()

    async def _watch(self) -> None:
        """Fail requests past their deadline, a few times per timeout period."""
        period = min(1.0, self.timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            now = time.perf_counter()
            for pending in [*self._running, *self._queue]:
                if now >= pending.deadline and not pending.future.done():
                    pending.future.set_exception(InferenceTimeout(self.timeout_s, self.busy_for()))

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
            if self._queue and self._max_wait and len(self._queue) < self._max_requests:
                await self._linger()

    async def _linger(self) -> None:
        deadline = time.perf_counter() + self._max_wait
        while len(self._queue) < self._max_requests and not self._closed:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    def _take_batch(self) -> list[_Pending[Item, Result]]:
        """Pop up to ``max_batch_size`` queued requests that still have a waiter."""
        batch: list[_Pending[Item, Result]] = []
        while self._queue and len(batch) < self._max_requests:
            pending = self._queue.popleft()
            if not pending.future.done():  # else cancelled or timed out while queued
                batch.append(pending)
        return batch

    async def _run(self, batch: list[_Pending[Item, Result]]) -> None:
        started = time.perf_counter()
        self._running, self._busy_since = batch, started
        try:
            results = await self._thread.run(self._run_batch, [p.item for p in batch])
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
            self._running, self._busy_since = [], None
            if self._on_batch is not None:
                self._on_batch(
                    BatchStats(
                        requests=len(batch),
                        queue_seconds=[started - p.enqueued for p in batch],
                        compute_seconds=time.perf_counter() - started,
                    )
                )
