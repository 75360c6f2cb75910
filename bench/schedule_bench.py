"""Schedules at scale: desired(), next_transitions() and the reconciler's pass.

One command:  python bench/schedule_bench.py

10,000 schedules (70 % weekly windows, 20 % cron pairs, 10 % one-offs, over a dozen
zones, some with a second window or a maintenance window), each driving one job. It
times, as the median of --repeats runs:

- desired() for every schedule at one instant;
- next_transitions(n=2) for every schedule;
- the reconciler's pass (what each schedule wants now vs each job's count → the
  scalings to make, plus the unhealthy check), cold (first pass after a start, every
  count computed) and warm (the steady state: counts cached until each schedule's
  next transition). Target (issue 9): the pass under 50 ms.

No HTTP: reading the schedules is one list call plus a read per changed variable, and
only models whose count must change are scaled; both are outside the decision timed here.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mlctl.schedule.plan import JobView, Scheduled, plan_scaling, unhealthy
from mlctl.schedule.reconciler import TargetCache
from mlctl.schedule.spec import StoredSchedule
from mlctl.schedule.timeline import desired, next_transitions

TARGET_PASS_MS = 50.0
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Europe/London",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "UTC",
    "Africa/Casablanca",
    "Pacific/Chatham",
    "America/Santiago",
]
DAYS = ["Mon-Fri", "Sat,Sun", "Mon-Sun", "Mon,Wed,Fri", "Fri-Mon", "Tue-Thu"]


def _window(rng: random.Random, now: datetime) -> dict[str, object]:
    kind = rng.random()
    zone = rng.choice(ZONES)
    start, length = rng.randrange(0, 24 * 60, 15), rng.randrange(60, 16 * 60, 15)
    end = (start + length) % (24 * 60)
    if kind < 0.7:
        return {
            "window": f"{rng.choice(DAYS)} {start // 60:02d}:{start % 60:02d}-"
            f"{end // 60:02d}:{end % 60:02d} {zone}"
        }
    if kind < 0.9:
        return {
            "start": f"{start % 60} {start // 60} * * 1-5",
            "stop": f"{end % 60} {end // 60} * * 1-5",
            "tz": zone,
        }
    opens = now + timedelta(hours=rng.randrange(-48, 48))
    return {"from": opens.isoformat(), "until": (opens + timedelta(hours=length // 60)).isoformat()}


def build(count: int, now: datetime, seed: int = 9) -> list[Scheduled]:
    rng = random.Random(seed)
    items = []
    for index in range(count):
        windows = [_window(rng, now)]
        if rng.random() < 0.2:
            windows.append(_window(rng, now))
        if rng.random() < 0.05:
            windows.append({"window": "Sun 02:00-04:00 UTC", "down": True})
        doc = StoredSchedule.model_validate({"windows": windows, "replicas": rng.randint(1, 4)})
        items.append(Scheduled.of("default", f"m{index}", f"mlctl-m{index}", doc))
    return items


def timed(fn: Callable[[], object], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    now = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # Europe's October change, mid-fold
    items = build(args.schedules, now)
    # Steady state: each job already runs what its schedule wants, except every 100th
    # (a window edge just passed for it), which the pass must scale.
    wanted = TargetCache().targets(items, now)
    jobs = {}
    for index, item in enumerate(items):
        count = (wanted[item.key] or 0) + (1 if index % 100 == 0 else 0)
        jobs[item.key] = JobView(item.namespace, item.job_id, "model", count, count)

    desired_ms = timed(lambda: [desired(i.schedule, now) for i in items], args.repeats)
    next_ms = timed(lambda: [next_transitions(i.schedule, now, 2) for i in items], args.repeats)

    def one_pass(cache: TargetCache) -> int:
        targets = cache.targets(items, now)
        actions = plan_scaling(items, jobs, now, targets=targets)
        unhealthy(items, jobs, now, targets=targets)
        return len(actions)

    cold_ms = timed(lambda: one_pass(TargetCache()), max(1, args.repeats // 2))
    warm = TargetCache()
    one_pass(warm)
    warm_ms = timed(lambda: one_pass(warm), args.repeats)

    n = len(items)
    scalings = one_pass(warm)
    print(f"schedules: {n}, scalings per pass: {scalings} (median of {args.repeats} runs)")
    print(
        f"desired() for all            {desired_ms:8.1f} ms  ({desired_ms * 1000 / n:.1f} µs each)"
    )
    print(f"next_transitions(n=2) for all {next_ms:7.1f} ms  ({next_ms * 1000 / n:.1f} µs each)")
    print(f"reconciler pass, cold        {cold_ms:8.1f} ms  (first pass after a start)")
    print(
        f"reconciler pass, steady      {warm_ms:8.1f} ms  target < {TARGET_PASS_MS:.0f} ms  "
        f"ratio {warm_ms / TARGET_PASS_MS:.2f} ({'met' if warm_ms < TARGET_PASS_MS else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
