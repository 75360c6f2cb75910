"""The monitor's engine at scale: 1,000 jobs, 10,000 allocations, 100,000 events.

One command:  python bench/monitor_bench.py

The Nomad engine runs in its own process (bench/monitor_sim.py), frozen after every
allocation started. This process runs the monitor's follower and Store and measures:

- time to the first consistent snapshot: from start to a Store holding every job,
  allocation, deployment, evaluation and node (REST resync: the lists plus one full
  read per job);
- events applied per second: a burst of 100,000 AllocationUpdated events made by the
  engine and received through the event stream (end to end, so bounded by the engine's
  own encoding of 5 KB allocations); the monitor's path alone, over HTTP: 20,000 of
  those frames recorded and replayed at full speed by another process (one chunk per
  frame, as Nomad flushes them) through the follower's reader, parser and Store; and
  the parse+apply share alone, from memory;
- snapshot read time: ``store.snapshot()`` right after a change (models and nodes
  touched since the last snapshot rebuilt) and unchanged (cached);
- peak RSS of this process (the monitor side).

Targets (issue 8): >= 20,000 events/s applied, < 300 MB RSS, snapshot read < 5 ms.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from mlctl.monitor import frames
from mlctl.monitor.clock import utc_now
from mlctl.monitor.follower import Follower, FollowerOptions
from mlctl.monitor.store import Store
from mlctl.monitor.tokens import StaticToken
from mlctl.nomad.client import connect
from mlctl.nomad.retry import read_retry
from mlctl.settings import Settings

TARGET_EVENTS_PER_S = 20_000
TARGET_RSS_MB = 300
TARGET_SNAPSHOT_MS = 5.0
HERE = Path(__file__).resolve().parent


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def line(name: str, value: float, unit: str, target: float, better: str) -> str:
    ratio = value / target if better == "higher" else target / value if value else float("inf")
    verdict = "met" if ratio >= 1 else "NOT met"
    op = ">=" if better == "higher" else "<"
    return (
        f"{name:<38} {value:>12,.2f} {unit:<9} target {op} {target:,.0f} {unit:<9}"
        f" ratio {ratio:6.2f}x  {verdict}"
    )


def wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.005)
    raise SystemExit(f"timed out waiting for {what}")


def record_burst(address: str, sim: subprocess.Popen[str], count: int) -> list[bytes]:
    """The raw stream lines of a fresh burst of ``count`` events (for the in-memory
    measurement): a recorder subscribes first, then the engine makes the burst."""
    assert sim.stdin is not None and sim.stdout is not None
    out: list[bytes] = []
    subscribed = threading.Event()

    def record() -> None:
        seen = 0
        with requests.get(
            f"{address}/v1/event/stream",
            params=[("topic", "Allocation"), ("namespace", "*"), ("index", str(10**12))],
            stream=True,
            timeout=120,
        ) as response:
            subscribed.set()
            for raw in response.iter_lines(chunk_size=65536):
                if raw and raw != b"{}":
                    out.append(raw)
                    seen += raw.count(b'"Topic"')
                    if seen >= count:
                        return

    thread = threading.Thread(target=record, daemon=True)
    thread.start()
    subscribed.wait(30)
    sim.stdin.write(f"burst {count}\n")
    sim.stdin.flush()
    sim.stdout.readline()
    thread.join(timeout=600)
    return out


def loaded_store(allocs: list[dict[str, object]]) -> Store:
    """A Store holding the cluster's allocations already, as the follower's does when
    events arrive (events update known allocations; a fresh Store would pay for the
    first conversion of each)."""
    store = Store()
    store.resync("allocs", allocs, 1)
    gc.collect()
    gc.freeze()  # as the follower does after each resync
    return store


def apply_in_memory(lines: list[bytes], allocs: list[dict[str, object]]) -> tuple[float, float]:
    """Parse and apply recorded lines: the monitor's own cost, as events per wall-clock
    second and per CPU second of this process."""
    store = loaded_store(allocs)
    count = 0
    cpu = time.process_time()
    started = time.perf_counter()
    for raw in lines:
        frame = frames.parse_line(raw)
        if isinstance(frame, frames.Batch):
            for event in frame.events:
                store.apply_event(event)
                count += 1
    store.snapshot()
    return count / (time.perf_counter() - started), count / (time.process_time() - cpu)


def apply_over_http(lines: list[bytes], allocs: list[dict[str, object]]) -> tuple[float, float]:
    """The follower's whole path (HTTP chunks, lines, parse, apply) on the recorded
    stream, replayed at full speed by a server in another process."""
    with tempfile.NamedTemporaryFile(suffix=".ndjson", delete=False) as handle:
        handle.write(b"\n".join(lines) + b"\n")
    replay = subprocess.Popen(
        [sys.executable, str(HERE / "monitor_replay.py"), handle.name],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert replay.stdout is not None
        url = replay.stdout.readline().split()[1]
        store = loaded_store(allocs)
        count = 0
        cpu = time.process_time()
        started = time.perf_counter()
        with requests.get(url, stream=True, timeout=60) as response:
            for raw in response.iter_lines(chunk_size=65536):
                frame = frames.parse_line(raw)
                if isinstance(frame, frames.Batch):
                    for event in frame.events:
                        store.apply_event(event)
                        count += 1
        store.snapshot()
        return count / (time.perf_counter() - started), count / (time.process_time() - cpu)
    finally:
        replay.terminate()
        replay.wait(timeout=10)
        Path(handle.name).unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--allocs", type=int, default=10)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()

    print(f"building the engine: {args.jobs} jobs x {args.allocs} allocations ...", flush=True)
    sim = subprocess.Popen(
        [sys.executable, str(HERE / "monitor_sim.py"), "--jobs", str(args.jobs),
         "--allocs", str(args.allocs)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert sim.stdin is not None and sim.stdout is not None
    ready = sim.stdout.readline().split()
    address = ready[1]
    try:
        store = Store()
        settings = Settings(nomad_addr=address)
        follower = Follower(
            store,
            lambda token: connect(settings, token=token, retry=read_retry(attempts=1)),
            StaticToken(None),
            utc_now,
            log=lambda message: print(f"  follower: {message}", file=sys.stderr),
            options=FollowerOptions(heartbeat_timeout=120),
        )
        stop = threading.Event()
        started = time.perf_counter()
        thread = threading.Thread(target=follower.run, args=(stop,), daemon=True)
        thread.start()
        wait(lambda: store.snapshot().synced and store.snapshot().connected, 600, "first sync")
        first_snapshot = time.perf_counter() - started
        snap = store.snapshot()
        assert len(snap.models) == args.jobs, len(snap.models)
        assert len(snap.allocations) == args.jobs * args.allocs, len(snap.allocations)

        before = follower.stats.events
        began = time.perf_counter()
        sim.stdin.write(f"burst {args.events}\n")
        sim.stdin.flush()
        final = int(sim.stdout.readline().split()[1])
        wait(lambda: store.index >= final, 600, "the burst to be applied")
        elapsed = time.perf_counter() - began
        applied = follower.stats.events - before
        stream_rate = applied / elapsed
        peak = rss_mb()

        reads_changed, reads_cached = [], []
        some_model = next(iter(snap.models))
        for n in range(200):  # one change, then read: a model (and its node) is rebuilt
            if n % 2:
                store.set_probe(some_model, None)
            else:
                store.apply("allocs", {"ID": f"extra-{n}", "JobID": some_model[1],
                                       "Namespace": some_model[0], "NodeID": "n",
                                       "ModifyIndex": final + 1 + n})  # fmt: skip
            t0 = time.perf_counter()
            store.snapshot()
            reads_changed.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            store.snapshot()
            reads_cached.append((time.perf_counter() - t0) * 1000)
        stop.set()
        follower.close()

        allocs = requests.get(
            f"{address}/v1/allocations", params={"resources": "true"}, timeout=120
        ).json()
        lines = record_burst(address, sim, min(args.events, 20_000))
        # The machine may be shared: each figure is the median of three runs, and each is
        # also given per CPU second of this process (what one free core would do).
        memory_runs = [apply_in_memory(lines, allocs) for _ in range(3)]
        http_runs = [apply_over_http(lines, allocs) for _ in range(3)]
        memory_rate = statistics.median(r[0] for r in memory_runs)
        memory_cpu = statistics.median(r[1] for r in memory_runs)
        http_rate = statistics.median(r[0] for r in http_runs)
        http_cpu = statistics.median(r[1] for r in http_runs)
    finally:
        sim.stdin.close()
        sim.wait(timeout=60)

    print()
    print(f"engine: {args.jobs} jobs, {args.jobs * args.allocs} allocations; "
          f"burst of {applied:,} events ({follower.stats.frames:,} frames)")  # fmt: skip
    print(line("events/CPU-s, monitor over HTTP", http_cpu, "events/s",
               TARGET_EVENTS_PER_S, "higher"))  # fmt: skip
    print(line("events/s wall clock, monitor over HTTP", http_rate, "events/s",
               TARGET_EVENTS_PER_S, "higher"))  # fmt: skip
    print(line("events/CPU-s, parse+apply only", memory_cpu, "events/s",
               TARGET_EVENTS_PER_S, "higher"))  # fmt: skip
    print(line("events/s wall clock, parse+apply only", memory_rate, "events/s",
               TARGET_EVENTS_PER_S, "higher"))  # fmt: skip
    print(f"{'events/s, end to end from the engine':<38} {stream_rate:>12,.2f} events/s  "
          "(bounded by the engine's own JSON encoding; no target)")
    print(line("peak RSS (monitor process)", peak, "MB", TARGET_RSS_MB, "lower"))
    print(line("snapshot read after a change (p50)", statistics.median(reads_changed), "ms",
               TARGET_SNAPSHOT_MS, "lower"))  # fmt: skip
    print(line("snapshot read after a change (p99)", percentile(reads_changed, 99), "ms",
               TARGET_SNAPSHOT_MS, "lower"))  # fmt: skip
    print(line("snapshot read, unchanged (p50)", statistics.median(reads_cached), "ms",
               TARGET_SNAPSHOT_MS, "lower"))  # fmt: skip
    print(f"{'time to first consistent snapshot':<38} {first_snapshot:>12,.2f} s         "
          "(no target; REST lists + one read per job)")
    load = os.getloadavg()[0]
    print(f"load average during the run: {load:.2f} on {os.cpu_count()} CPUs "
          "(wall-clock figures drop when other work shares the CPUs; per-CPU-second do not)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
