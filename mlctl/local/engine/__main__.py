"""Run the simulator standalone: ``python -m mlctl.local.engine --port 4646 [--acl]``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from .sim import NomadSim
from .topology import default_cluster, parse_nodes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlctl.local.engine", description=__doc__)
    parser.add_argument(
        "--port", type=int, default=4646, help="port on 127.0.0.1 (0 picks a free one)"
    )
    parser.add_argument(
        "--acl", action="store_true", help="enable ACLs and print the management token"
    )
    parser.add_argument(
        "--nodes", help='node spec, e.g. "gpu-1:gpu=1xTesla T4@15360;cpu-1:memory=8192"'
    )
    parser.add_argument(
        "--time-scale", type=float, default=50.0, help="simulated seconds per real second"
    )
    parser.add_argument(
        "--event-buffer-size",
        type=int,
        default=100,
        help="Raft indexes the event stream keeps for resuming subscribers (Nomad: 100)",
    )
    parser.add_argument(
        "--event-heartbeat",
        type=float,
        default=30.0,
        help="simulated seconds between event-stream heartbeats (Nomad: 30)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        nodes = parse_nodes(args.nodes) if args.nodes else default_cluster()
    except ValueError as exc:
        parser.error(f"--nodes: {exc}")
    sim = NomadSim(
        nodes=nodes,
        acl=args.acl,
        time_scale=args.time_scale,
        verbose=args.verbose,
        event_buffer_size=args.event_buffer_size,
        event_heartbeat=args.event_heartbeat,
    )
    try:
        sim.start(port=args.port)
    except OSError as exc:
        print(f"nomad simulator: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"NOMAD_ADDR={sim.address}", flush=True)
    if sim.management_token:
        print(f"NOMAD_TOKEN={sim.management_token}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
