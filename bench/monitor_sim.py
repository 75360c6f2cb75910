"""The Nomad engine loaded for the monitor benchmark, in a process of its own.

Builds ``--jobs`` jobs of ``--allocs`` allocations each on enough nodes, lets every
allocation start, then *freezes* the simulated clients (the lifecycle ticker stops, so
nothing changes unless asked; with 10,000 allocations the ticker would otherwise eat
a core) and serves the HTTP API. Commands on stdin, answers on stdout:

    burst N   -> touch allocations N times (N AllocationUpdated events), print "done I"
                 with the last index
    index     -> print "index I"
"""

from __future__ import annotations

import argparse
import sys

from mlctl.local.engine.sim import NomadSim
from mlctl.local.engine.topology import NodeSpec

JOB = """
job "bench-{n:04d}" {{
  datacenters = ["dc1"]
  type = "service"
  meta = {{
    "mlctl.model" = "bench-{n:04d}"
    "mlctl.version" = "1.0.0"
  }}
  group "model" {{
    count = {allocs}
    task "server" {{
      driver = "docker"
      config {{ image = "mlctl/runtime:0.1.0-cpu" }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}
"""


def build(jobs: int, allocs: int) -> NomadSim:
    nodes = max(1, (jobs * allocs * 100) // 20_000 + 1)
    specs = [NodeSpec(f"node-{i:03d}", cpu=20_000, memory=20_000 * 2) for i in range(nodes)]
    sim = NomadSim(nodes=specs, time_scale=5000.0)
    # The background ticker reconciles every job every 20 ms: with a thousand jobs it
    # would make registering them quadratic. Tick by hand instead, then freeze.
    tick = sim.lifecycle.tick
    sim.lifecycle.tick = lambda: None  # type: ignore[method-assign]
    sim.start()
    import requests

    session = requests.Session()
    for n in range(jobs):
        parsed = session.post(
            f"{sim.address}/v1/jobs/parse",
            json={"JobHCL": JOB.format(n=n, allocs=allocs), "Canonicalize": True},
            timeout=30,
        )
        parsed.raise_for_status()
        session.post(f"{sim.address}/v1/jobs", json={"Job": parsed.json()}, timeout=30)
    for _ in range(50):
        sim.clock.advance(60)
        tick(force=True)
        with sim.store.lock:
            running = sum(1 for a in sim.cluster.allocs.values() if a.client_status == "running")
        if running >= jobs * allocs:
            break
    return sim


def burst(sim: NomadSim, count: int) -> int:
    with sim.store.lock:
        allocs = list(sim.cluster.allocs.values())
    for n in range(count):
        alloc = allocs[n % len(allocs)]
        with sim.store.lock:
            sim.cluster.touch_alloc(alloc)
    return sim.store.index


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--allocs", type=int, default=10)
    args = parser.parse_args()
    sim = build(args.jobs, args.allocs)
    print(f"ready {sim.address} {sim.store.index}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["burst"]:
            print(f"done {burst(sim, int(words[1]))}", flush=True)
        elif words[:1] == ["index"]:
            print(f"index {sim.store.index}", flush=True)
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
