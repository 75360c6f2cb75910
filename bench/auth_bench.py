"""What bearer-token checks cost the model server: throughput with auth on vs off.

One command:  python bench/auth_bench.py

1. Throughput. ``mlctl serve examples/iris`` with ``--auth none`` and with ``--auth
   jwt`` (keys from a local JWKS server, RS256 tokens signed by a local key — the
   checks are the same as against Vault's), pinned to CPU 0; ``wrk`` on CPU 1 with 32
   connections of single-row ``/predict`` POSTs, 32 callers each reusing its own token
   (the steady state: every token verified once, then answered from the cache). The
   two servers are measured alternately, ``--rounds`` times each, so drifting load on a
   shared machine hits both alike; the median of each is compared.
   Target (issue 15): auth on >= 0.95 of auth off.
   Because the machine is shared, each run also records the server process's CPU time
   per request (``/proc/<pid>/stat``): contention moves req/s around, but hardly the CPU
   a request costs, so the CPU ratio is the steadier estimate of the same target.
2. In-process. The same two apps driven straight through ASGI (no sockets, no wrk):
   batches of 32 concurrent ``/predict`` requests, alternating, the process's CPU time
   per request (model thread included) — the cost of the checks with the network and
   the neighbours' noise taken out.
3. First-seen token. In-process: the time to check a token the server has not seen
   (parse, RS256 signature, claims) and one it has (the cache), each the median of
   ``--tokens`` checks, printed beside the server CPU time of one auth-off request:
   the anchor says how many requests' worth a new token costs.

Results also go to bench/results/auth_bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO), str(BENCH)]

from serve_bench import (  # noqa: E402 - after the path set-up
    IRIS,
    SIMPLE_BODY,
    Result,
    cpu_ticks,
    free_port,
    parse_wrk,
    pinned,
    stop,
    wait_ready,
    write_results,
)

from tests.jwt_issuer import ISSUER, LocalIssuer, serving_issuer  # noqa: E402

CALLERS = 32
OFF, ON = "auth none", "auth jwt (32 cached tokens)"
#: Server CPU microseconds per request of each measured run.
CPU_US: dict[str, list[float]] = {OFF: [], ON: []}


def lua_script(path: Path, tokens: list[str]) -> None:
    """Both runs build each request the same way; only the header differs."""
    quoted = ", ".join(json.dumps(t) for t in tokens)
    path.write_text(
        f"local tokens = {{{quoted}}}\n"
        "local n = 0\n"
        f"local body = {json.dumps(SIMPLE_BODY)}\n"
        "request = function()\n"
        "  n = n % math.max(#tokens, 1) + 1\n"
        '  local headers = {["Content-Type"] = "application/json"}\n'
        '  if #tokens > 0 then headers["Authorization"] = "Bearer " .. tokens[n] end\n'
        '  return wrk.format("POST", nil, headers, body)\n'
        "end\n"
    )


def run_wrk(url: str, script: Path, seconds: float, connections: int) -> str:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    command.append(url)
    return subprocess.run(pinned(command, 1), check=True, capture_output=True, text=True).stdout


def start_server(flags: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "mlctl", "serve", str(IRIS), "--port", str(port), *flags]
    process = subprocess.Popen(
        pinned(command, 0), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/readyz", process)
    return process, base


def throughput(
    args: argparse.Namespace, issuer: LocalIssuer, scratch: Path
) -> dict[str, list[Result]]:
    tokens = [
        issuer.token(ttl=3600, sub=f"entity-{n}", mlctl_caller=f"app:c{n}") for n in range(CALLERS)
    ]
    jwt_flags = ["--auth", "jwt", "--auth-issuer", ISSUER, "--auth-jwks-url", issuer.jwks_url]
    cases = {OFF: (["--auth", "none"], []), ON: (jwt_flags, tokens)}
    servers = {}
    scripts = {}
    for name, (flags, case_tokens) in cases.items():
        servers[name] = start_server(flags)
        scripts[name] = scratch / f"{len(scripts)}.lua"
        lua_script(scripts[name], case_tokens)
    results: dict[str, list[Result]] = {OFF: [], ON: []}
    try:
        for name, (_process, base) in servers.items():  # warm both up (and fill the cache)
            run_wrk(f"{base}/predict", scripts[name], args.warmup, args.connections)
        for round_ in range(args.rounds):
            order = [OFF, ON] if round_ % 2 == 0 else [ON, OFF]
            for name in order:
                process, base = servers[name]
                before = cpu_ticks([process.pid]).get(process.pid, 0)
                output = run_wrk(f"{base}/predict", scripts[name], args.duration, args.connections)
                used = cpu_ticks([process.pid]).get(process.pid, 0) - before
                result = parse_wrk(name, output)
                done = re.search(r"(\d+) requests in", output)
                requests = int(done.group(1)) if done else 0
                seconds = used / os.sysconf("SC_CLK_TCK")
                CPU_US[name].append(seconds / requests * 1e6 if requests else float("nan"))
                results[name].append(result)
                print(
                    f"  round {round_ + 1} {name}: {result.requests_per_second:.0f} req/s",
                    file=sys.stderr,
                )
    finally:
        for process, _base in servers.values():
            stop(process)
    return results


BODY = SIMPLE_BODY.encode()
BASE_HEADERS = [(b"host", b"bench"), (b"content-type", b"application/json"),
                (b"content-length", str(len(BODY)).encode())]  # fmt: skip


async def _asgi_cpu_per_request(app: Any, headers: list[tuple[bytes, bytes]], count: int) -> float:
    """Process CPU seconds per request for ``count`` requests, 32 at a time."""
    lifespan: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started: list[Any] = []

    async def life_send(message: Any) -> None:
        started.append(message)

    await lifespan.put({"type": "lifespan.startup"})
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, lifespan.get, life_send)
    )
    while not started or app.state.server.not_ready_because() is not None:
        await asyncio.sleep(0.02)

    async def one() -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/predict", "raw_path": b"/predict",
                 "query_string": b"", "root_path": "", "headers": headers,
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}  # fmt: skip
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": BODY, "more_body": False}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    for _ in range(20):  # warm up (the first token is verified here)
        await asyncio.gather(*[one() for _ in range(CALLERS)])
    begin = time.process_time()
    for _ in range(count // CALLERS):
        answered = await asyncio.gather(*[one() for _ in range(CALLERS)])
        assert set(answered) == {200}, answered
    used = time.process_time() - begin
    await lifespan.put({"type": "lifespan.shutdown"})
    await task
    return used / count


def in_process(issuer: LocalIssuer, rounds: int, count: int) -> dict[str, list[float]]:
    """Microseconds of process CPU per request through the ASGI app, auth off and on."""
    import io

    from mlctl.bundle.schema import AuthMode
    from mlctl.serve.app import make_app
    from mlctl.serve.http import EventLog
    from mlctl.serve.options import ServeOptions

    token = issuer.token(ttl=3600)
    cases = {
        OFF: (ServeOptions(bundle_dir=IRIS, auth_mode=AuthMode.NONE), BASE_HEADERS),
        ON: (
            ServeOptions(
                bundle_dir=IRIS,
                auth_mode=AuthMode.JWT,
                auth_issuer=ISSUER,
                auth_jwks_url=issuer.jwks_url,
            ),
            [*BASE_HEADERS, (b"authorization", f"Bearer {token}".encode())],
        ),
    }
    found: dict[str, list[float]] = {OFF: [], ON: []}
    for round_ in range(rounds):
        for name in [OFF, ON] if round_ % 2 == 0 else [ON, OFF]:
            options, headers = cases[name]
            app = make_app(options, log=EventLog(io.StringIO()))
            found[name].append(asyncio.run(_asgi_cpu_per_request(app, headers, count)) * 1e6)
    return found


def first_seen(issuer: LocalIssuer, count: int) -> tuple[float, float]:
    """Median seconds to check a token the first time, and once it is cached."""
    from mlctl.bundle.schema import AuthMode
    from mlctl.serve.auth import Access, AuthSettings, Verifier
    from mlctl.serve.jwks import KeySource

    settings = AuthSettings(mode=AuthMode.JWT, issuer=ISSUER, jwks_url=issuer.jwks_url)
    verifier = Verifier(settings, "iris", KeySource(issuer.jwks_url))
    headers = [f"Bearer {issuer.token(ttl=3600, jti=str(n))}" for n in range(count)]

    async def measure() -> tuple[float, float]:
        await verifier.keys.refresh(force=True)
        misses, hits = [], []
        for header in headers:
            started = time.perf_counter()
            await verifier.check(header, Access.MODEL)
            misses.append(time.perf_counter() - started)
            started = time.perf_counter()
            await verifier.check(header, Access.MODEL)
            hits.append(time.perf_counter() - started)
        return statistics.median(misses), statistics.median(hits)

    return asyncio.run(measure())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="measured runs per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=500, help="first-seen tokens checked")
    parser.add_argument(
        "--asgi-requests", type=int, default=6400, help="requests per in-process run"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    with serving_issuer() as issuer, tempfile.TemporaryDirectory(prefix="mlctl-auth-bench-") as tmp:
        print("measuring throughput, auth off and on, alternately ...", file=sys.stderr)
        runs = throughput(args, issuer, Path(tmp))
        print("measuring in-process, auth off and on, alternately ...", file=sys.stderr)
        asgi = in_process(issuer, args.rounds * 2, args.asgi_requests)
        print("measuring first-seen token checks ...", file=sys.stderr)
        miss, hit = first_seen(issuer, args.tokens)
    load = os.getloadavg()
    errors = sum(r.errors for rs in runs.values() for r in rs)
    per_request = statistics.median(CPU_US[OFF]) / 1e6  # server CPU of one request
    print(
        f"\n{args.connections} connections, {args.rounds} x {args.duration:g} s each, alternating; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f}\n"
    )
    print(f"{'case':30} {'median req/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10}  runs")
    for name, results in runs.items():
        middle = sorted(results, key=lambda r: r.requests_per_second)[len(results) // 2]
        each = " ".join(f"{r.requests_per_second:.0f}" for r in results)
        print(f"{name:30} {statistics.median(r.requests_per_second for r in results):12.0f} "
              f"{middle.p50_ms:7.2f} {middle.p99_ms:7.2f} {statistics.median(CPU_US[name]):10.1f}"
              f"  {each}")  # fmt: skip
    # Each round ran the two back to back: the ratio within a round cancels slow drift in
    # the machine's load, so the median of those ratios is the headline.
    rate_ratio = statistics.median(
        a.requests_per_second / b.requests_per_second
        for a, b in zip(runs[ON], runs[OFF], strict=True)
    )
    cpu_ratio = statistics.median(b / a for a, b in zip(CPU_US[ON], CPU_US[OFF], strict=True))
    asgi_ratio = statistics.median(b / a for a, b in zip(asgi[ON], asgi[OFF], strict=True))
    verdict = "met" if rate_ratio >= 0.95 else "NOT met"
    print(f"\nauth on / auth off (median of per-round ratios), req/s: {rate_ratio:.3f} "
          f"(target >= 0.95) {verdict}; by server CPU per request: {cpu_ratio:.3f}; "
          f"non-2xx or socket errors: {errors}")  # fmt: skip
    asgi_off, asgi_on = statistics.median(asgi[OFF]), statistics.median(asgi[ON])
    print(
        f"in-process (ASGI, 32 concurrent), CPU us/request: auth none {asgi_off:.1f}, "
        f"auth jwt {asgi_on:.1f}: on / off throughput {asgi_ratio:.3f}"
    )
    print(
        f"first-seen token: {miss * 1e6:.0f} us; cached token: {hit * 1e6:.1f} us; "
        f"anchor, server CPU of one auth-off request: {per_request * 1e6:.0f} us "
        f"(a new token costs {miss / per_request:.1f} requests' worth, once per token)"
    )
    write_results(
        "auth_bench.json",
        {
            "load_average": load,
            "ratio": rate_ratio,
            "cpu_ratio": cpu_ratio,
            "in_process_ratio": asgi_ratio,
            "cpu_us_per_request": CPU_US,
            "runs": {k: [vars(r) for r in v] for k, v in runs.items()},
            "in_process_cpu_us": asgi,
            "first_seen_us": miss * 1e6,
            "cached_us": hit * 1e6,
            "request_us_auth_off": per_request * 1e6,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
