"""Serving throughput with a prediction rule enabled, against the same server without.

One command:  python bench/prediction_rules_bench.py

The iris bundle is served twice by ``mlctl serve`` (pinned to CPU 0, ``wrk`` on CPU 1,
32 connections of single-row ``/predict`` POSTs, like bench/serve_bench.py): once as
shipped, once with an ``alerts.predictions`` rule that matches *every* prediction (the
worst case: each answer is offered to the rule queue and counted) and a webhook that a
local sink receives. Runs alternate, A B A B A B, and the medians are compared.

Target (issue 8): with the rule, >= 95% of the req/s without.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve_bench

TARGET = 0.95


class Sink(BaseHTTPRequestHandler):
    received = 0

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Sink.received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def with_rule(workdir: Path, sink_url: str) -> Path:
    bundle = workdir / "iris-rule"
    shutil.copytree(serve_bench.IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((bundle / "mlctl.yaml").read_text())
    config["alerts"] = {
        "predictions": [{"name": "every", "equals": "setosa"}],  # the benchmark row's class
        "notify": {"webhook": sink_url},
    }
    (bundle / "mlctl.yaml").write_text(yaml.safe_dump(config))
    return bundle


def target(name: str, bundle: Path) -> serve_bench.Target:
    plain = serve_bench.mlctl_target(name, "/predict", serve_bench.SIMPLE_BODY)
    command = [str(bundle) if part == str(serve_bench.IRIS) else part for part in plain.command]
    return serve_bench.Target(name, command, plain.ready_url, plain.url, plain.body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 3
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    sink_url = f"http://127.0.0.1:{sink.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rule_bundle = with_rule(workdir, sink_url)
        rates: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(args.rounds):
            for name, bundle in (("without", serve_bench.IRIS), ("with", rule_bundle)):
                result = serve_bench.measure(
                    target(name, bundle), args.seconds, args.warmup, args.connections, workdir
                )
                if result.errors:
                    print(f"{name}: {result.errors} errors", file=sys.stderr)
                rates[name].append(result.requests_per_second)
                print(f"  {name:<8} {result.requests_per_second:>10,.0f} req/s", flush=True)
    without, with_ = statistics.median(rates["without"]), statistics.median(rates["with"])
    ratio = with_ / without
    print()
    print(f"/predict without a prediction rule  {without:>10,.0f} req/s (median of {args.rounds})")
    print(f"/predict with a rule on every answer {with_:>9,.0f} req/s (median of {args.rounds})")
    print(
        f"ratio {ratio:.3f}  target >= {TARGET:.2f}  {'met' if ratio >= TARGET else 'NOT met'}"
        f"  (notifications received by the sink: {Sink.received})"
    )
    sink.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
