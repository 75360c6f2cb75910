"""Closed-loop HTTP benchmark: mlctl serve vs MLServer vs a Flask wrapper vs the HTTP floor.

One command:  python bench/serve_bench.py          (--only mlctl: just mlctl's cases)

Each server serves the iris example on loopback, pinned to CPU 0; ``wrk`` (Debian's
``apt-get install -y wrk``) runs on CPU 1 with 32 connections of single-row POSTs for a
fixed time after a warm-up. Servers run one at a time, with their default settings.

- mlctl (OIP v2 infer and /predict): ``python -m mlctl serve examples/iris``
- MLServer + mlserver-sklearn on the same model saved as joblib, in its own venv
  (created under bench/.venvs/ on first run; not a project dependency)
- a Flask wrapper the way seed 003 generates one (bench/flask_wrapper.py)
- a bare uvicorn endpoint answering a constant (bench/floor_app.py): the HTTP floor

Two more cases (issue 14), each against its own anchor:

- 64-row requests (``/predict`` with 64 rows each, default settings) against the same
  server started with ``--max-batch-size 2048``, where nothing limits joining: a request
  larger than a batch limit must still be batched with others (target >= 0.8 of it).
- ``--workers 2`` against ``--workers 1``, both free to use every CPU (no pinning): the
  kernel must spread connections over the workers. Printed: the req/s ratio and how the
  workers' CPU time split during the run (anchor: an even split; uvicorn's shared socket
  gave 30 of 32 connections to one worker).

Targets (issue 2): >= 4x MLServer's req/s, p99 <= 1/4 of MLServer's, >= 50% of the floor.
Results also go to bench/results/serve_bench.json.

Single-row CPU cost:  python bench/serve_bench.py --cpu   (--baseline REV to change the anchor)

The server's CPU time per single-row ``/predict`` request (``/proc/<pid>/stat``: event
loop, model thread, everything; divided by the requests wrk completed), this checkout
against the same server at ``--baseline`` (default: the commit before the issue 14
hardening, extracted with ``git archive`` and run from the same venv on its own copy of
the iris bundle). Both are started once, pinned to CPU 0, and loaded alternately
``--rounds`` times; the medians are compared (figure, anchor, ratio; target <= 1.0: the
hardening's checks should cost nothing per request). Contention on a shared machine
moves req/s around but hardly the CPU one request costs, so this is the steady figure.
Results go to bench/results/serve_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
IRIS = REPO / "examples" / "iris"
MLSERVER_VENV = BENCH / ".venvs" / "mlserver"
# MLServer 1.7 calls asyncio.get_event_loop() in its workers, which uvloop >= 0.22 no
# longer allows (the workers die and the model never loads): keep an older uvloop there.
MLSERVER_PACKAGES = ("mlserver", "mlserver-sklearn", "uvloop<0.22")
RESULTS = BENCH / "results"
ROW = [5.1, 3.5, 1.4, 0.2]
OURS = "mlctl serve (OIP v2 infer)"
ROWS_64 = "mlctl serve, 64-row /predict"
ROWS_64_ANCHOR = "mlctl serve, 64-row /predict, --max-batch-size 2048"
ONE_WORKER = "mlctl serve --workers 1, unpinned"
TWO_WORKERS = "mlctl serve --workers 2, unpinned"
#: The last commit before the issue 14 hardening (strict decoding, budgets, model thread).
PRE_HARDENING = "85b829d"
OIP_BODY = json.dumps(
    {"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": ROW}]}
)
SIMPLE_BODY = json.dumps({"features": [ROW]})
ROWS_64_BODY = json.dumps({"features": [ROW] * 64})


@dataclass
class Target:
    name: str
    command: list[str]
    ready_url: str
    url: str
    body: str
    cwd: Path = REPO
    pin: bool = True  # server on CPU 0, wrk on CPU 1; False: both may use every CPU


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    worker_cpu_split: list[float] | None = None  # share of CPU time per worker process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(command: list[str], cpu: int) -> list[str]:
    """Pin to one CPU when there are two or more, so server and client do not fight."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu), *command]
    return command


def ensure_mlserver() -> Path | None:
    """The venv's mlserver executable, installing MLServer there on first use."""
    executable = MLSERVER_VENV / "bin" / "mlserver"
    if executable.exists():
        return executable
    print(f"installing MLServer into {MLSERVER_VENV} (first run only) ...", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(MLSERVER_VENV)], check=True)
        subprocess.run(
            [str(MLSERVER_VENV / "bin" / "pip"), "install", "-q", *MLSERVER_PACKAGES],
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        print(f"MLServer could not be installed ({exc}); skipping it", file=sys.stderr)
        return None
    return executable if executable.exists() else None


def mlserver_model_dir(workdir: Path, port: int) -> Path:
    """The iris model as joblib plus MLServer's settings files (its sklearn runtime's format)."""
    import joblib
    import skops.io

    model_file = IRIS / "model.skops"
    model = skops.io.load(model_file, trusted=skops.io.get_untrusted_types(file=model_file))
    folder = workdir / "mlserver"
    folder.mkdir()
    joblib.dump(model, folder / "model.joblib")
    (folder / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "iris",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "1.0.0"},
            }
        )
    )
    (folder / "settings.json").write_text(
        json.dumps({"http_port": port, "grpc_port": free_port(), "metrics_port": free_port()})
    )
    return folder


def mlctl_target(name: str, path: str, body: str, *flags: str, pin: bool = True) -> Target:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mlctl", "serve", str(IRIS), "--port", str(port), *flags]
    return Target(name, command, f"{base}/readyz", f"{base}{path}", body, pin=pin)


def targets(workdir: Path, include_mlserver: bool) -> list[Target]:
    found = [
        mlctl_target(OURS, "/v2/models/iris/infer", OIP_BODY),
        mlctl_target("mlctl serve (/predict)", "/predict", SIMPLE_BODY),
        mlctl_target(ROWS_64, "/predict", ROWS_64_BODY),
        mlctl_target(ROWS_64_ANCHOR, "/predict", ROWS_64_BODY, "--max-batch-size", "2048"),
        mlctl_target(ONE_WORKER, "/predict", SIMPLE_BODY, "--workers", "1", pin=False),
        mlctl_target(TWO_WORKERS, "/predict", SIMPLE_BODY, "--workers", "2", pin=False),
    ]
    if include_mlserver and (mlserver := ensure_mlserver()) is not None:
        port = free_port()
        folder = mlserver_model_dir(workdir, port)
        base = f"http://127.0.0.1:{port}"
        found.append(
            Target(
                "MLServer + sklearn (OIP v2 infer)",
                [str(mlserver), "start", str(folder)],
                f"{base}/v2/models/iris/ready",
                f"{base}/v2/models/iris/infer",
                OIP_BODY,
                cwd=folder,
            )
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    found.append(
        Target(
            "Flask wrapper, seed 003 style (/predict)",
            [sys.executable, str(BENCH / "flask_wrapper.py"), str(IRIS), str(port)],
            f"{base}/healthCheck",
            f"{base}/predict",
            SIMPLE_BODY,
        )
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    found.append(
        Target(
            "HTTP floor: bare uvicorn constant",
            [sys.executable, str(BENCH / "floor_app.py"), str(port)],
            f"{base}/",
            f"{base}/",
            SIMPLE_BODY,
        )
    )
    return found


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before becoming ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not ready after {timeout:.0f} s")


def run_wrk(
    url: str, body: str, seconds: float, connections: int, script_dir: Path, pin: bool = True
) -> str:
    script = script_dir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    command.append(url)
    if pin:
        command = pinned(command, 1)
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(name: str, output: str) -> Result:
    def percentile(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if match is None:
            raise ValueError(f"no {label}th percentile in wrk output:\n{output}")
        return float(match.group(1)) * _UNITS[match.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return Result(
        name, float(rate.group(1)) if rate else 0.0, percentile("50"), percentile("99"), errors
    )


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (the worker processes of a --workers server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """utime + stime of each process, in clock ticks."""
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def measure(
    target: Target, seconds: float, warmup: float, connections: int, workdir: Path
) -> Result:
    command = pinned(target.command, 0) if target.pin else target.command
    process = subprocess.Popen(
        command,
        cwd=target.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # access logs are written, just not kept
    )
    try:
        wait_ready(target.ready_url, process)
        run_wrk(target.url, target.body, warmup, connections, workdir, target.pin)
        # taskset execs the server, so its pid is the server's; workers are its children
        workers = child_pids(process.pid) if "--workers" in target.command else []
        before = cpu_ticks(workers)
        output = run_wrk(target.url, target.body, seconds, connections, workdir, target.pin)
        result = parse_wrk(target.name, output)
        if workers:
            after = cpu_ticks(workers)
            used = [after[pid] - before[pid] for pid in before if pid in after]
            used = [ticks for ticks in used if ticks > 0]  # e.g. multiprocessing's helpers
            total = sum(used) or 1
            result.worker_cpu_split = sorted((round(u / total, 3) for u in used), reverse=True)
        return result
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server drains), then SIGKILL if it has not exited within 40 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_results(name: str, data: dict[str, Any]) -> None:
    """Keep a run's figures as ``bench/results/NAME`` (JSON) next to what it printed."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(json.dumps(data, indent=2))


def baseline_checkout(revision: str, workdir: Path) -> Path:
    """``mlctl/`` and ``examples/iris`` of ``revision``, extracted under ``workdir``."""
    folder = workdir / f"baseline-{revision}"
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "mlctl", "examples/iris"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def start_predict_server(source: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``mlctl serve`` of the ``mlctl`` package under ``source``, pinned to CPU 0."""
    port = free_port()
    command = [sys.executable, "-m", "mlctl", "serve", str(source / "examples" / "iris")]
    environment = {**os.environ, "PYTHONPATH": str(source)}
    process = subprocess.Popen(
        pinned([*command, "--port", str(port)], 0),
        cwd=source,  # python -m puts the working directory first: this mlctl, not another
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/readyz", process)
    except RuntimeError:
        process.kill()
        raise
    return process, f"{base}/predict"


def cpu_per_request(
    process: subprocess.Popen[bytes], url: str, args: argparse.Namespace, workdir: Path
) -> tuple[float, float]:
    """(server CPU µs per request, req/s) of one wrk run of single-row ``/predict``."""
    before = cpu_ticks([process.pid]).get(process.pid, 0)
    output = run_wrk(url, SIMPLE_BODY, args.duration, args.connections, workdir)
    used = cpu_ticks([process.pid]).get(process.pid, 0) - before
    done = re.search(r"(\d+) requests in", output)
    requests = int(done.group(1)) if done else 0
    if not requests:
        raise RuntimeError(f"wrk completed no requests:\n{output}")
    seconds = used / os.sysconf("SC_CLK_TCK")
    return seconds / requests * 1e6, parse_wrk(url, output).requests_per_second


def cpu_comparison(args: argparse.Namespace) -> int:
    """This checkout's single-row ``/predict`` CPU per request against ``--baseline``'s."""
    import statistics

    ours, anchor = "this checkout", f"baseline {args.baseline}"
    samples: dict[str, list[tuple[float, float]]] = {ours: [], anchor: []}
    with tempfile.TemporaryDirectory(prefix="mlctl-bench-") as scratch:
        workdir = Path(scratch)
        sources = {ours: REPO, anchor: baseline_checkout(args.baseline, workdir)}
        servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
        try:
            for name, source in sources.items():
                servers[name] = start_predict_server(source)
                run_wrk(servers[name][1], SIMPLE_BODY, args.warmup, args.connections, workdir)
            for round_ in range(args.rounds):
                for name in [ours, anchor] if round_ % 2 == 0 else [anchor, ours]:
                    samples[name].append(cpu_per_request(*servers[name], args, workdir))
                    micros, rate = samples[name][-1]
                    print(
                        f"  round {round_ + 1} {name}: {micros:.1f} µs/request, {rate:.0f} req/s",
                        file=sys.stderr,
                    )
        finally:
            for process, _url in servers.values():
                stop(process)
    median = {name: statistics.median(us for us, _ in found) for name, found in samples.items()}
    rates = {name: statistics.median(r for _, r in found) for name, found in samples.items()}
    load = os.getloadavg()
    print(
        f"\nsingle-row /predict, {args.connections} connections, {args.rounds} alternating "
        f"rounds of {args.duration:g} s, load average {load[0]:.2f}\n"
    )
    for name in samples:
        print(f"{name:24} {median[name]:7.1f} µs CPU/request  {rates[name]:8.0f} req/s (median)")
    ratio = median[ours] / median[anchor]
    print(
        f"\nCPU per request, this checkout / {anchor}  "
        f"{median[ours]:.1f} / {median[anchor]:.1f} = {ratio:.3f}    target <= 1.0"
    )
    write_results(
        "serve_cpu.json",
        {
            "load_average": load,
            "baseline": args.baseline,
            "cpu_us_per_request": {n: [us for us, _ in f] for n, f in samples.items()},
            "requests_per_second": {n: [r for _, r in f] for n, f in samples.items()},
            "ratio": ratio,
        },
    )
    return 0


def ratio_lines(results: dict[str, Result]) -> list[str]:
    ours = results.get(OURS)
    mlserver = results.get("MLServer + sklearn (OIP v2 infer)")
    floor = results.get("HTTP floor: bare uvicorn constant")
    lines = []
    if ours and mlserver:
        lines.append(
            f"ours/MLServer req/s   {ours.requests_per_second / mlserver.requests_per_second:6.2f}x"
            "   target >= 4x"
        )
        lines.append(
            f"ours/MLServer p99     {ours.p99_ms / mlserver.p99_ms:6.2f}    target <= 0.25"
        )
    if ours and floor:
        share = 100 * ours.requests_per_second / floor.requests_per_second
        lines.append(f"ours/floor req/s      {share:5.0f}%    target >= 50%")
    rows, anchor = results.get(ROWS_64), results.get(ROWS_64_ANCHOR)
    if rows and anchor:
        lines.append(
            f"64-row req/s, default/--max-batch-size 2048  "
            f"{rows.requests_per_second / anchor.requests_per_second:5.2f}    target >= 0.8"
        )
    one, two = results.get(ONE_WORKER), results.get(TWO_WORKERS)
    if one and two:
        lines.append(
            f"--workers 2 / --workers 1 req/s  "
            f"{two.requests_per_second / one.requests_per_second:5.2f}    target > 1.0"
        )
    if two and two.worker_cpu_split:
        split = " / ".join(f"{100 * share:.0f}%" for share in two.worker_cpu_split)
        lines.append(f"--workers 2 CPU split  {split}    anchor: 50% / 50%")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per server")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of load before measuring"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-mlserver", action="store_true", help="do not install/run MLServer")
    parser.add_argument(
        "--only", metavar="TEXT", help="run only the cases whose name contains TEXT (e.g. mlctl)"
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="only compare single-row /predict CPU per request with --baseline's server",
    )
    parser.add_argument(
        "--baseline",
        default=PRE_HARDENING,
        metavar="REV",
        help=f"the git revision --cpu compares against (default {PRE_HARDENING}: pre-hardening)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of --cpu")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    if args.cpu:
        return cpu_comparison(args)
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="mlctl-bench-") as scratch:
        workdir = Path(scratch)
        wanted = not args.skip_mlserver and (args.only is None or args.only in "MLServer")
        for target in targets(workdir, include_mlserver=wanted):
            if args.only is not None and args.only not in target.name:
                continue
            print(f"measuring {target.name} ...", file=sys.stderr)
            try:
                results[target.name] = measure(
                    target, args.duration, args.warmup, args.connections, workdir
                )
            except (RuntimeError, subprocess.CalledProcessError, ValueError) as exc:
                print(f"  {target.name}: failed: {exc}", file=sys.stderr)
    load = os.getloadavg()
    print(
        f"\n{args.connections} connections, {args.duration:g} s each, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f}\n"
    )
    print(f"{'server':52} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for result in results.values():
        print(
            f"{result.name:52} {result.requests_per_second:9.0f} {result.p50_ms:8.2f} "
            f"{result.p99_ms:8.2f} {result.errors:7d}"
        )
    print()
    for line in ratio_lines(results):
        print(line)
    write_results(
        "serve_bench.json", {"load_average": load, "results": [asdict(r) for r in results.values()]}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
