"""API latency of the local engine per python-nomad call on a kept-alive connection.

One command:  python bench/local_api_latency.py

Starts ``python -m mlctl.local.engine`` (its own process, as ``mlctl local up`` runs it)
on a free loopback port, then times N calls of three read endpoints through one
python-nomad client (one requests.Session: the connection is kept alive), and the same
calls each on a fresh connection for comparison. Prints the median and p95 per call next
to the target (issue 11): < 2 ms per kept-alive request. Before TCP_NODELAY and one
send per response, Nagle's algorithm met delayed ACKs and a kept-alive call took ~44 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import nomad
import requests

TARGET_MS = 2.0


def start_engine() -> tuple[subprocess.Popen[str], str, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlctl.local.engine", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("NOMAD_ADDR="):
        proc.kill()
        raise SystemExit(f"engine did not start: {line!r}")
    address = line.split("=", 1)[1]
    host, port = address.removeprefix("http://").rsplit(":", 1)
    return proc, host, int(port)


def timed(call: Callable[[], object], runs: int) -> list[float]:
    call()  # warm up (connection, first-use imports)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.95) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    proc, host, port = start_engine()
    try:
        client = nomad.Nomad(host=host, port=port, timeout=10)
        base = f"http://{host}:{port}"
        calls: dict[str, Callable[[], object]] = {
            "GET /v1/jobs": client.jobs.get_jobs,
            "GET /v1/nodes": client.nodes.get_nodes,
            "GET /v1/agent/self": client.agent.get_agent,
        }
        kept: list[float] = []
        for name, call in calls.items():
            samples = timed(call, args.runs)
            kept += samples
            print(f"{name:20s} kept-alive  median {statistics.median(samples):6.2f} ms")
        fresh = timed(lambda: requests.get(f"{base}/v1/jobs", timeout=10), args.runs // 3)
        print(f"{'GET /v1/jobs':20s} fresh conn  median {statistics.median(fresh):6.2f} ms")
        median = statistics.median(kept)
        verdict = "meets" if median < TARGET_MS else "MISSES"
        print(
            f"kept-alive per call: median {median:.2f} ms, p95 {p95(kept):.2f} ms "
            f"vs target < {TARGET_MS:.0f} ms: ratio {median / TARGET_MS:.2f} ({verdict})"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
