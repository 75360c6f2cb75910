"""``mlctl local up|status|down``: start, inspect and stop the local runtime.

The runtime is a background process (the builtin engine, or ``nomad agent -dev`` with
``--engine nomad``) that writes ``daemon.json`` (pid, process start time, address)
into the state directory.  A status whose pid is gone, or belongs to another process
since a reboot, is stale: ``up`` starts a new runtime, which restores the state.
``up`` waits until the API answers and then writes the ``local`` context.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests

from mlctl.errors import Conflict, MlctlError, NotFound, Timeout, Unreachable
from mlctl.local.paths import LocalPaths, write_private
from mlctl.settings import ContextFile

CONTEXT = "local"
DEFAULT_PORT = 4646
START_TIMEOUT = 60.0
STOP_TIMEOUT = 90.0  # every task's kill_timeout (at most 30 s) runs in parallel
NOMAD_INSTALL = "https://developer.hashicorp.com/nomad/install"


@dataclass(frozen=True)
class Running:
    """A live runtime as its status file describes it."""

    engine: str
    pid: int
    address: str
    port: int
    started_at: float
    details: dict[str, Any]


def read_running(paths: LocalPaths) -> Running | None:
    """The running runtime, or None (no status file, or a stale one)."""
    try:
        data = json.loads(paths.status.read_text(encoding="utf-8"))
        pid, created = int(data["pid"]), float(data["create_time"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        process = psutil.Process(pid)
        alive = (
            abs(process.create_time() - created) < 0.01 and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:
        alive = False
    if not alive:
        return None
    return Running(
        engine=str(data.get("engine", "builtin")),
        pid=pid,
        address=str(data["address"]),
        port=int(data["port"]),
        started_at=float(data.get("started_at", 0)),
        details=data,
    )


def api_answers(address: str, token: str | None, timeout: float = 2.0) -> bool:
    try:
        response = requests.get(
            f"{address}/v1/agent/self",
            headers={"X-Nomad-Token": token} if token else {},
            timeout=timeout,
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


def _token(paths: LocalPaths) -> str | None:
    with contextlib.suppress(OSError):
        return paths.token.read_text(encoding="utf-8").strip() or None
    return None


# ----------------------------------------------------------------------------- up


def up(
    paths: LocalPaths,
    config_file: Path,
    *,
    port: int | None,
    engine: str,
    use: bool,
) -> tuple[Running, bool]:
    """Start the runtime unless it runs; write the context. Returns (runtime, started)."""
    running = read_running(paths)
    if running is not None:
        if port is not None and port != running.port:
            raise Conflict(
                f"mlctl local already runs at {running.address} (pid {running.pid})",
                hint="stop it with mlctl local down to start it on another port",
            )
        if running.engine != engine:
            raise Conflict(
                f"mlctl local already runs with the {running.engine} engine (pid {running.pid})",
                hint="stop it with mlctl local down first",
            )
        write_context(paths, config_file, running.address, use)
        return running, False
    chosen = port or DEFAULT_PORT
    _check_port_free(chosen)
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths.root.chmod(0o700)
    paths.artifacts.mkdir(exist_ok=True)
    spawn = _spawn_nomad if engine == "nomad" else _spawn_builtin
    process = spawn(paths, chosen)
    running = _wait_until_serving(paths, process, chosen, engine)
    write_context(paths, config_file, running.address, use)
    return running, True


def _check_port_free(port: int) -> None:
    from mlctl.local.engine.runtime import port_available

    if not 0 < port < 65536:
        raise Conflict(f"--port {port} is not a TCP port (1-65535)")
    if not port_available(port):
        raise Conflict(
            f"port {port} on 127.0.0.1 is in use by another program",
            hint=f"choose another one: mlctl local up --port {port + 1}",
        )


def _daemon_env() -> dict[str, str]:
    """The runtime inherits the user's environment (tasks run as them), minus tokens."""
    return {k: v for k, v in os.environ.items() if k not in ("NOMAD_TOKEN", "VAULT_TOKEN")}


def _spawn_builtin(paths: LocalPaths, port: int) -> subprocess.Popen[bytes]:
    with paths.log.open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlctl.local.daemon",
                "--dir",
                str(paths.root),
                "--port",
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed with the terminal that ran `up`
            close_fds=True,
            env=_daemon_env(),
            cwd=paths.root,
        )


NOMAD_AGENT_CONFIG = """\
# Written by mlctl local up --engine nomad.
bind_addr = "127.0.0.1"
ports {{
  http = {port}
}}
acl {{
  enabled = true
}}
plugin "raw_exec" {{
  config {{
    enabled = true
  }}
}}
"""


def _spawn_nomad(paths: LocalPaths, port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("nomad")
    if binary is None:
        raise NotFound(
            "--engine nomad needs a nomad binary on PATH and none was found",
            hint=f"install Nomad ({NOMAD_INSTALL}) or use the builtin engine: mlctl local up",
        )
    write_private(paths.nomad_config, NOMAD_AGENT_CONFIG.format(port=port))
    with paths.log.open("ab") as log:
        return subprocess.Popen(
            [binary, "agent", "-dev", f"-config={paths.nomad_config}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=_daemon_env(),
            cwd=paths.root,
        )


def _wait_until_serving(
    paths: LocalPaths, process: subprocess.Popen[bytes], port: int, engine: str
) -> Running:
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise Unreachable(
                f"the local runtime exited with status {code} while starting: {_last_line(paths)}",
                hint=f"its log: {paths.log} (mlctl local logs)",
            )
        if engine == "nomad":
            if _bootstrap_nomad(paths, address, process):
                break
        elif paths.status.exists() and api_answers(address, _token(paths)):
            break
        time.sleep(0.1)
    else:
        process.terminate()
        raise Timeout(
            f"the local runtime did not answer at {address} within {START_TIMEOUT:.0f} s",
            hint=f"its log: {paths.log} (mlctl local logs)",
        )
    running = read_running(paths)
    if running is None:
        raise Unreachable(f"the local runtime at {address} wrote no status to {paths.status}")
    return running


def _bootstrap_nomad(paths: LocalPaths, address: str, process: subprocess.Popen[bytes]) -> bool:
    """``nomad agent -dev`` is up once ACL bootstrap answers; keep its token and status."""
    try:
        response = requests.post(f"{address}/v1/acl/bootstrap", timeout=2)
    except requests.RequestException:
        return False
    if response.status_code != 200:
        return False
    write_private(paths.token, str(response.json()["SecretID"]) + "\n")
    status = {
        "engine": "nomad",
        "pid": process.pid,
        "create_time": psutil.Process(process.pid).create_time(),
        "address": address,
        "port": int(address.rsplit(":", 1)[1]),
        "started_at": time.time(),
        "limits": "as configured for the nomad agent",
        "gpus": "as fingerprinted by the nomad agent",
        "docker": "as fingerprinted by the nomad agent",
    }
    write_private(paths.status, json.dumps(status, indent=2) + "\n")
    return True


def _last_line(paths: LocalPaths) -> str:
    with contextlib.suppress(OSError):
        lines = paths.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        if lines:
            return lines[-1][-300:]
    return "(no log)"


def write_context(paths: LocalPaths, config_file: Path, address: str, use: bool) -> None:
    """The ``local`` context: the runtime's address, token file and deploy defaults."""
    file = ContextFile.read(config_file)
    file.contexts[CONTEXT] = {
        "nomad_addr": address,
        "nomad_token_file": str(paths.token),
        "artifact_store": paths.artifacts.as_uri(),
        "task_driver": "raw_exec",
        "check_interval": "1s",
        "min_healthy_time": "1s",
    }
    if use or file.current is None:
        file.current = CONTEXT
    file.write()


# ----------------------------------------------------------------------------- down


def down(paths: LocalPaths) -> Running | None:
    """Stop the runtime (its tasks first); None when it was not running."""
    running = read_running(paths)
    if running is None:
        return None
    # The builtin engine stops its tasks on SIGTERM; a nomad agent leaves on SIGINT.
    sig = signal.SIGINT if running.engine == "nomad" else signal.SIGTERM
    with contextlib.suppress(ProcessLookupError):
        os.kill(running.pid, sig)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if read_running(paths) is None and not psutil.pid_exists(running.pid):
            break
        with contextlib.suppress(psutil.Error):
            if psutil.Process(running.pid).status() == psutil.STATUS_ZOMBIE:
                break
        time.sleep(0.1)
    else:
        raise Timeout(
            f"the local runtime (pid {running.pid}) did not stop within {STOP_TIMEOUT:.0f} s",
            hint=f"its log: {paths.log}; kill it with: kill -9 {running.pid}",
        )
    if running.engine == "nomad":
        paths.status.unlink(missing_ok=True)
    return running


# ----------------------------------------------------------------------------- status


def status(paths: LocalPaths) -> dict[str, Any]:
    """What ``mlctl local status`` shows; raises Unreachable when it is not running."""
    running = read_running(paths)
    if running is None:
        raise Unreachable("the local runtime is not running", hint="start it with: mlctl local up")
    token = _token(paths)
    headers = {"X-Nomad-Token": token} if token else {}
    try:
        nodes = requests.get(f"{running.address}/v1/nodes", headers=headers, timeout=5).json()
        allocs = requests.get(
            f"{running.address}/v1/allocations",
            params={"namespace": "*"},
            headers=headers,
            timeout=5,
        ).json()
    except (requests.RequestException, ValueError) as exc:
        raise Unreachable(
            f"the local runtime (pid {running.pid}) does not answer at {running.address}",
            hint=f"see mlctl local logs; restart: mlctl local down && mlctl local up ({exc})",
        ) from exc
    return {
        "running": True,
        "engine": running.engine,
        "pid": running.pid,
        "address": running.address,
        "uptime_seconds": round(time.time() - running.started_at, 1),
        "nodes": len(nodes),
        "allocations_running": sum(
            1 for a in allocs if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"
        ),
        "memory_limits": running.details.get("limits", ""),
        "gpus": running.details.get("gpus", ""),
        "docker": running.details.get("docker", ""),
        "state_dir": str(paths.root),
        "log": str(paths.log),
    }


def follow_log(paths: LocalPaths, follow: bool, tail: int | None) -> Any:
    """Lines of the daemon's log; with ``follow``, keeps yielding new ones."""
    if not paths.log.exists():
        raise NotFound(
            f"no runtime log at {paths.log}", hint="the local runtime has not been started here"
        )
    with paths.log.open("r", encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
        yield from lines[-tail:] if tail else lines
        while follow:
            line = handle.readline()
            if line:
                yield line
            else:
                time.sleep(0.2)


__all__ = ["MlctlError", "Running", "down", "follow_log", "read_running", "status", "up"]
