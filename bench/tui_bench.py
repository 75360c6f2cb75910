"""How fast the TUI redraws a big cluster: 1,000 models and 10,000 allocations in the Store.

    python bench/tui_bench.py [--models 1000] [--allocs-per-model 10] [--runs 15]

The app runs headless (Textual's test driver, 200x60) on a Store filled with Nomad's
documented object shapes and an in-memory backend, so only the TUI's own work is timed:

- full refresh: a new Store snapshot -> the Models screen's rows (built, filtered,
  sorted) -> the table -> a full frame composed (every visible line drawn). Measured with
  every model changed (no row can be reused) and with 10 changed (the usual case).
- filter keystroke: one character typed (or deleted) in the ``/`` filter -> rows
  filtered and sorted -> a full frame; measured on the screen's handler alone, and as a
  key event from the terminal driver through the app (Textual's pilot is not used for
  timing: its waits for the CPU to go idle cost ~80 ms a key by themselves).
- memory: the process's resident set size with everything loaded.

Targets (issue 10): full refresh < 100 ms, keystroke < 50 ms, memory < 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tui"))

from mlctl.monitor.clock import ManualClock
from mlctl.monitor.store import KINDS, Store
from mlctl.monitor.views import Alert
from mlctl.settings import Settings

NOW = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
NAMESPACES = ("default", "team-a", "team-b", "team-c")


def ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def job(n: int, index: int) -> dict[str, Any]:
    name = f"model-{n:04d}"
    return {
        "ID": f"mlctl-{name}",
        "Namespace": NAMESPACES[n % 4],
        "Type": "service",
        "Status": "running",
        "Stop": False,
        "Version": n % 7,
        "Meta": {"mlctl.model": name, "mlctl.version": f"1.{n % 9}.0"},
        "TaskGroups": [
            {
                "Name": "model",
                "Count": 10,
                "Services": [{"Name": name, "Provider": "nomad"}],
                "Tasks": [
                    {
                        "Name": "server",
                        "Resources": {
                            "CPU": 500,
                            "MemoryMB": 1024,
                            "Devices": [{"Name": "nvidia/gpu", "Count": 1}],
                        },
                    }
                ],
            }
        ],
        "ModifyIndex": index,
        "JobModifyIndex": index,
    }


def alloc(n: int, k: int, index: int) -> dict[str, Any]:
    created = NOW - timedelta(minutes=n + k)
    events = [
        {"Type": t, "Time": ns(created), "DisplayMessage": m, "Details": {}}
        for t, m in (("Received", "Task received by client"), ("Started", "Task started by client"))
    ]
    return {
        "ID": f"{n:04d}{k:04d}-0000-4000-8000-{n * 100 + k:012d}",
        "Namespace": NAMESPACES[n % 4],
        "JobID": f"mlctl-model-{n:04d}",
        "TaskGroup": "model",
        "NodeID": f"node-{(n * 10 + k) % 50:02d}",
        "NodeName": f"gpu-{(n * 10 + k) % 50:02d}",
        "JobVersion": n % 7,
        "DesiredStatus": "run",
        "ClientStatus": "running" if (n + k) % 97 else "pending",
        "DeploymentID": f"dep-{n}",
        "DeploymentStatus": {"Healthy": (n + k) % 89 != 0},
        "TaskStates": {"server": {"Restarts": k % 3, "Events": events}},
        "AllocatedResources": {
            "Tasks": {
                "server": {
                    "Cpu": {"CpuShares": 500},
                    "Memory": {"MemoryMB": 1024},
                    "Devices": [{"Name": "Tesla T4", "DeviceIDs": [f"GPU-{n:04d}-{k:04d}"]}],
                }
            }
        },
        "CreateIndex": 10,
        "ModifyIndex": index,
        "CreateTime": ns(created),
        "ModifyTime": ns(created),
    }


def node(i: int) -> dict[str, Any]:
    return {
        "ID": f"node-{i:02d}",
        "Name": f"gpu-{i:02d}",
        "Status": "ready",
        "SchedulingEligibility": "eligible",
        "NodePool": "default",
        "NodeResources": {
            "Cpu": {"CpuShares": 128000},
            "Memory": {"MemoryMB": 512000},
            "Devices": [
                {
                    "Vendor": "nvidia",
                    "Type": "gpu",
                    "Name": "Tesla T4",
                    "Instances": [{"ID": f"GPU-{i}-{g}", "Healthy": True} for g in range(8)],
                }
            ],
        },
        "ModifyIndex": 5,
    }


def build_store(models: int, per_model: int) -> Store:
    store = Store()
    listing = {
        "jobs": [job(n, 100) for n in range(models)],
        "allocs": [alloc(n, k, 200) for n in range(models) for k in range(per_model)],
        "deployments": [],
        "evals": [],
        "nodes": [node(i) for i in range(50)],
    }
    for kind in KINDS:
        store.resync(kind, listing[kind], 300)
    store.set_alerts(
        [
            Alert(
                {
                    "alertname": "ModelCrashLooping",
                    "severity": "critical",
                    "namespace": NAMESPACES[n % 4],
                    "job": f"mlctl-model-{n:04d}",
                    "model": f"model-{n:04d}",
                },
                {"summary": "crash"},
                NOW,
                None,
                f"fp{n}",
            )
            for n in range(0, models, 25)
        ]
    )
    store.set_connection(True, "stream")
    return store


class Backend:
    """Answers the app's background reads instantly; no network."""

    address = "https://nomad.bench:4646"

    def actor(self) -> str:
        return "bench"

    def token_self(self) -> dict[str, Any]:
        return {"Type": "management"}

    def schedules(self) -> dict[Any, Any]:
        return {}

    def notes(self) -> dict[Any, Any]:
        return {}


def touch_models(store: Store, count: int, index: int) -> None:
    """``count`` models change (one allocation each restarts): what a busy second brings."""
    for n in range(count):
        restarted = alloc(n, 0, index)
        restarted["TaskStates"]["server"]["Restarts"] = index
        store.apply("allocs", restarted)


def frame(app: Any) -> None:
    """Compose a full frame: every visible line of every widget drawn."""
    app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)


async def key_through_app(app: Any, screen: Any, key: str, expected: str) -> float:
    """A key event from the terminal driver until the table shows the new filter, then a
    frame: the real path (app -> screen -> Input -> FilterBar -> Models screen), without
    the pilot's waits for the CPU to go idle."""
    from textual import events

    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    begin = time.perf_counter()
    app._driver.send_message(event)
    while screen.table_view.row_filter.text != expected:
        await asyncio.sleep(0)
    frame(app)
    return ms(time.perf_counter() - begin)


def ms(seconds: float) -> float:
    return seconds * 1000


def report(name: str, values: list[float], target: float) -> None:
    median = statistics.median(values)
    p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else median
    print(
        f"{name:<46} median {median:6.1f} ms  p90 {p90:6.1f} ms  max {max(values):6.1f} ms"
        f"  target < {target:.0f} ms  median/target {median / target:4.2f}"
        f"  {'ok' if median < target else 'MISSED'}"
    )


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(models: int, per_model: int, runs: int) -> None:
    from mlctl_tui.app import Intervals, make_app
    from mlctl_tui.core.table import RowFilter
    from mlctl_tui.services.audit import AuditTrail
    from mlctl_tui.widgets.common.filter_bar import FilterBar

    started = time.perf_counter()
    store = build_store(models, per_model)
    snapshot = store.snapshot()
    print(
        f"store: {len(snapshot.models)} models, {len(snapshot.allocations)} allocations, "
        f"{len(snapshot.nodes)} nodes, built in {time.perf_counter() - started:.1f} s"
    )
    clock = ManualClock(NOW)
    hour = 3600.0
    app = make_app(
        Settings(),
        store,
        backend=Backend(),  # type: ignore[arg-type]
        clock=clock,
        audit=AuditTrail(None, clock),
        intervals=Intervals(clock=hour, schedules=hour, notes=hour),
        freeze_heap=True,  # as mlctl tui runs it
    )
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(0.5)
        screen = app.screen
        index = 1000
        cold, warm = [], []
        for _ in range(runs):
            index += 1
            touch_models(store, models, index)
            begin = time.perf_counter()
            app.refresh_view(force=True)
            frame(app)
            cold.append(ms(time.perf_counter() - begin))
            await pilot.pause()
            index += 1
            touch_models(store, 10, index)
            begin = time.perf_counter()
            app.refresh_view(force=True)
            frame(app)
            warm.append(ms(time.perf_counter() - begin))
            await pilot.pause()
        report("full refresh, all 1,000 models changed", cold, 100)
        report("full refresh, 10 models changed", warm, 100)

        bar = screen.query_one(FilterBar)
        typed = "model-09"
        handler, presses = [], []
        for _ in range(max(1, runs // 5)):
            for end in [*range(1, len(typed) + 1), *range(len(typed) - 1, -1, -1)]:
                begin = time.perf_counter()
                screen.on_filter_bar_changed(FilterBar.Changed(bar, RowFilter.parse(typed[:end])))
                frame(app)
                handler.append(ms(time.perf_counter() - begin))
        await pilot.press("slash")
        await pilot.pause()
        shown = 0
        for _ in range(max(1, runs // 5)):
            for end in range(1, len(typed) + 1):
                presses.append(await key_through_app(app, screen, typed[end - 1], typed[:end]))
            shown = len(screen.table.rows)
            for end in range(len(typed) - 1, -1, -1):
                presses.append(await key_through_app(app, screen, "backspace", typed[:end]))
        report("filter keystroke (rows + frame)", handler, 50)
        report("filter keystroke (key event through the app)", presses, 50)
        print(
            f"(typing {typed!r} narrows {models} rows to {shown}, then deleting it widens "
            "them again, one key at a time)"
        )
        memory = rss_mb()
        print(
            f"{'memory (resident set size)':<46} {memory:6.1f} MB  target < 300 MB  "
            f"ratio {memory / 300:4.2f}  {'ok' if memory < 300 else 'MISSED'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--allocs-per-model", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(run(args.models, args.allocs_per_model, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
