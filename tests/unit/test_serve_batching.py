"""The micro-batcher on its own: pure asyncio, no HTTP, no model."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from mlctl.serve.batching import Batcher, BatcherClosed, BatchStats, InferenceTimeout


class Recorder:
    """A run_batch that doubles numbers, remembers each batch and can be held or failed."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        self.started.set()
        self.gate.wait(timeout=10)
        if any(item < 0 for item in items):
            raise RuntimeError(f"negative input in {list(items)}")
        return [ValueError("seventy-seven") if item == 77 else item * 2 for item in items]


async def wait_until_started(recorder: Recorder) -> None:
    while not recorder.started.is_set():
        await asyncio.sleep(0.001)
    recorder.started.clear()


async def test_results_return_to_their_own_callers_in_order() -> None:
    recorder = Recorder()
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=8)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
    assert results == [i * 2 for i in range(20)]
    assert [item for batch in recorder.batches for item in batch] == list(range(20))
    await batcher.close()


async def test_idle_batcher_dispatches_the_first_request_alone_then_joins_the_waiting() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=32)
    first = asyncio.ensure_future(batcher.submit(1))
    await wait_until_started(recorder)  # computing: the model is busy with [1]
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0.01)
    recorder.gate.set()
    assert await first == 2
    assert [await f for f in rest] == [4, 6, 8]
    assert recorder.batches == [[1], [2, 3, 4]]
    await batcher.close()


async def test_batches_never_exceed_max_batch_size_requests() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=2)
    first = asyncio.ensure_future(batcher.submit(0))
    await wait_until_started(recorder)
    queued = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 6)]
    await asyncio.sleep(0.01)
    recorder.gate.set()
    await asyncio.gather(first, *queued)
    assert recorder.batches == [[0], [1, 2], [3, 4], [5]]
    await batcher.close()


async def test_a_failing_batch_fails_only_its_own_requests() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=2)
    first = asyncio.ensure_future(batcher.submit(1))
    await wait_until_started(recorder)
    poisoned = [asyncio.ensure_future(batcher.submit(i)) for i in (-1, 2)]
    healthy = [asyncio.ensure_future(batcher.submit(i)) for i in (3, 4)]
    await asyncio.sleep(0.01)
    recorder.gate.set()
    assert await first == 2
    for future in poisoned:
        with pytest.raises(RuntimeError, match="negative"):
            await future
    assert [await f for f in healthy] == [6, 8]
    assert await batcher.submit(5) == 10  # and it keeps serving
    await batcher.close()


async def test_an_exception_result_fails_just_that_item() -> None:
    batcher: Batcher[int, int] = Batcher(Recorder(), max_batch_size=8)
    results = await asyncio.gather(*(batcher.submit(i) for i in (6, 77, 8)), return_exceptions=True)
    assert results[0] == 12 and results[2] == 16
    assert isinstance(results[1], ValueError)
    await batcher.close()


async def test_a_cancelled_waiting_request_is_dropped_before_its_batch_runs() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=8)
    first = asyncio.ensure_future(batcher.submit(1))
    await wait_until_started(recorder)
    gone = asyncio.ensure_future(batcher.submit(2))
    kept = asyncio.ensure_future(batcher.submit(3))
    await asyncio.sleep(0)
    gone.cancel()
    recorder.gate.set()
    assert await first == 2 and await kept == 6
    assert gone.cancelled()
    assert recorder.batches == [[1], [3]]
    await batcher.close()


async def test_cancelling_a_computing_request_leaves_the_rest_of_its_batch_alone() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=8)
    first = asyncio.ensure_future(batcher.submit(1))
    await wait_until_started(recorder)
    second = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0.01)
    first.cancel()
    recorder.gate.set()
    assert await second == 4
    await batcher.close()


async def test_close_finishes_queued_work_then_refuses_new_work() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=1)
    futures = [asyncio.ensure_future(batcher.submit(i)) for i in range(3)]
    await wait_until_started(recorder)
    closing = asyncio.ensure_future(batcher.close())
    await asyncio.sleep(0.01)
    recorder.gate.set()
    await closing
    assert [await f for f in futures] == [0, 2, 4]
    with pytest.raises(BatcherClosed):
        await batcher.submit(9)


async def test_lingering_lets_a_busy_batcher_fill_the_next_batch() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=4, max_batch_wait_ms=500)
    first = asyncio.ensure_future(batcher.submit(0))
    await wait_until_started(recorder)
    early = asyncio.ensure_future(batcher.submit(1))
    recorder.gate.set()
    await first
    # The model is free again, but the batcher lingers for more rows rather than run [1].
    late = [asyncio.ensure_future(batcher.submit(i)) for i in (2, 3, 4)]
    await asyncio.gather(early, *late)
    assert recorder.batches == [[0], [1, 2, 3, 4]]
    await batcher.close()


async def test_stats_report_requests_and_times() -> None:
    seen: list[BatchStats] = []
    batcher: Batcher[int, int] = Batcher(Recorder(), max_batch_size=8, on_batch=seen.append)
    await batcher.submit(1)
    await batcher.close()
    assert len(seen) == 1
    assert seen[0].requests == 1
    assert seen[0].compute_seconds >= 0 and len(seen[0].queue_seconds) == 1


async def test_a_hung_batch_times_out_its_requests_and_reports_stuck() -> None:
    recorder = Recorder()
    recorder.gate.clear()  # the "model" never answers while the gate is shut
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=8, timeout_s=0.2)
    computing = asyncio.ensure_future(batcher.submit(1))
    await wait_until_started(recorder)
    queued = asyncio.ensure_future(batcher.submit(2))
    with pytest.raises(InferenceTimeout, match=r"within 0\.2 s"):
        await computing
    with pytest.raises(InferenceTimeout):
        await queued
    assert batcher.stuck_for() > 0.2
    recorder.gate.set()  # the model comes back: the batcher serves again
    assert await batcher.submit(3) == 6
    assert batcher.stuck_for() == 0
    await batcher.close()


async def test_fail_waiting_answers_everyone_still_waiting() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=1)
    computing = asyncio.ensure_future(batcher.submit(1))
    await wait_until_started(recorder)
    queued = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0)
    assert batcher.fail_waiting(LookupError("stopping")) == 2
    for future in (computing, queued):
        with pytest.raises(LookupError, match="stopping"):
            await future
    recorder.gate.set()
    await batcher.close(timeout_s=5)


async def test_close_gives_up_on_a_batch_that_never_returns() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[int, int] = Batcher(recorder, max_batch_size=1)
    computing = asyncio.ensure_future(batcher.submit(1))
    await wait_until_started(recorder)
    await batcher.close(timeout_s=0.05)
    with pytest.raises(BatcherClosed):
        await computing
    recorder.gate.set()


def test_max_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(Recorder(), max_batch_size=0)
