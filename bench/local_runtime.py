"""mlctl local: deploy-to-healthy time, and the runtime's idle CPU and RSS with N models.

One command:  python bench/local_runtime.py [--models 10] [--deploys 3] [--idle-seconds 30]

Starts ``mlctl local up`` in a throw-away state directory on a free port, then:

1. deploy -> healthy: from starting ``mlctl deploy examples/iris`` to the moment the
   deployment is marked healthy (its ``ModifyTime``), and to the command's return
   (which also pays the CLI's exit), median of ``--deploys`` runs, each after
   ``mlctl stop iris --purge``.  Target (issue 11): < 5 s on 2 cores.
2. the README's first command after pip: ``mlctl local up && mlctl deploy examples/iris
   && mlctl predict iris ...`` from a stopped runtime, once.
3. idle: deploys ``--models`` copies of iris (1 replica each, all healthy), waits for
   things to settle, then samples the runtime process (the daemon alone, not the
   models) for ``--idle-seconds``: CPU % of one core and RSS.  Targets: < 1 % and
   < 150 MB.

Prints each figure beside its target as a ratio, plus the machine's load average
(the machine may be shared: figures under load are pessimistic).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
IRIS = REPO / "examples" / "iris"
ROW = '{"features": [[5.1, 3.5, 1.4, 0.2]]}'
TARGET_DEPLOY_S = 5.0
TARGET_IDLE_CPU = 1.0
TARGET_RSS_MB = 150.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Env:
    """mlctl commands against a private home, config and state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "MLCTL_", "VAULT_"))
        }
        self.env.update(
            HOME=str(root / "home"),
            MLCTL_CONFIG=str(root / "config.yaml"),
            MLCTL_LOCAL_DIR=str(root / "local"),
            MLCTL_STATE_DIR=str(root / "state"),
        )
        self.mlctl = shutil.which("mlctl") or ""
        self.base = [self.mlctl] if self.mlctl else [sys.executable, "-m", "mlctl"]

    def run(self, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        started = time.perf_counter()
        done = subprocess.run(
            [*self.base, *args], env=self.env, capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"mlctl {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return elapsed, done

    def healthy_at(self, job: str) -> float:
        """When the job's latest deployment became successful (Unix seconds)."""
        status = json.loads((self.root / "local" / "daemon.json").read_text())
        token = (self.root / "local" / "management.token").read_text().strip()
        deployment = requests.get(
            f"{status['address']}/v1/job/{job}/deployment",
            headers={"X-Nomad-Token": token},
            timeout=10,
        ).json()
        if deployment["Status"] != "successful":
            raise SystemExit(f"{job}: deployment is {deployment['Status']}")
        return float(deployment["ModifyTime"]) / 1e9

    def daemon(self) -> psutil.Process:
        status = json.loads((self.root / "local" / "daemon.json").read_text())
        return psutil.Process(int(status["pid"]))


def bundle_copy(root: Path, name: str) -> Path:
    target = root / "bundles" / name
    shutil.copytree(IRIS, target)
    config = yaml.safe_load((target / "mlctl.yaml").read_text())
    config["name"] = name
    (target / "mlctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def verdict(value: float, target: float) -> str:
    return f"ratio {value / target:.2f} ({'meets' if value < target else 'MISSES'})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--deploys", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mlctl-local-bench-"))
    env = Env(root)
    port = str(free_port())
    try:
        env.run("local", "up", "--port", port)
        times, healthy = [], []
        for _ in range(args.deploys):
            started = time.time()
            elapsed, _ = env.run("deploy", str(IRIS), "--timeout", "300")
            times.append(elapsed)
            healthy.append(env.healthy_at("mlctl-iris") - started)
            env.run("stop", "iris", "--purge", "--yes")
        for label, values in (
            ("deploy -> deployment healthy (Nomad's ModifyTime)", healthy),
            ("deploy -> command returned (mlctl deploy's wall time)", times),
        ):
            median = statistics.median(values)
            print(
                f"{label}: median {median:.2f} s of {', '.join(f'{t:.2f}' for t in values)} "
                f"vs target < {TARGET_DEPLOY_S:.0f} s: {verdict(median, TARGET_DEPLOY_S)}"
            )
        env.run("local", "down")
        first = 0.0
        for command in (
            ("local", "up", "--port", port),
            ("deploy", str(IRIS), "--timeout", "300"),
            ("predict", "iris", ROW),
        ):
            first += env.run(*command)[0]
        print(f"README first command after pip (up + deploy + predict): {first:.2f} s")
        for index in range(args.models - 1):
            env.run("deploy", str(bundle_copy(root, f"iris-{index}")), "--timeout", "300")
        time.sleep(5)  # let the last rollout's timers and the first checks settle
        daemon = env.daemon()
        before = daemon.cpu_times()
        started = time.monotonic()
        rss = []
        while time.monotonic() - started < args.idle_seconds:
            rss.append(daemon.memory_info().rss / 2**20)
            time.sleep(1.0)
        after = daemon.cpu_times()
        elapsed = time.monotonic() - started
        cpu = 100 * ((after.user - before.user) + (after.system - before.system)) / elapsed
        peak = max(rss)
        print(
            f"idle runtime with {args.models} models: CPU {cpu:.2f} % of one core vs target "
            f"< {TARGET_IDLE_CPU:.0f} %: {verdict(cpu, TARGET_IDLE_CPU)}"
        )
        print(
            f"idle runtime with {args.models} models: RSS {peak:.1f} MB vs target "
            f"< {TARGET_RSS_MB:.0f} MB: {verdict(peak, TARGET_RSS_MB)}"
        )
        print(f"load average during the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        subprocess.run(
            [*env.base, "local", "down"], env=env.env, capture_output=True, check=False
        )
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
