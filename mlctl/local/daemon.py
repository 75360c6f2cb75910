"""The ``mlctl local`` daemon: the builtin engine serving Nomad's API on 127.0.0.1.

Started in the background by ``mlctl local up`` (``python -m mlctl.local.daemon --dir D
--port P``); one per state directory, enforced with a lock file the kernel releases
even when the process is killed.  On SIGTERM (``mlctl local down``) it stops accepting
requests, gives every task its kill signal and kill timeout, saves the state and
exits.  Killed with -9, it leaves its tasks running: the next start re-adopts them.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO

import psutil

from mlctl import __version__
from mlctl.local.paths import LocalPaths, write_private

EXIT_BUSY = 3
EXIT_PORT = 4


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print(f"{stamp} {message}", flush=True)


def _lock(paths: LocalPaths) -> IO[str] | None:
    handle = paths.lock.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlctl.local.daemon", description=__doc__)
    parser.add_argument("--dir", required=True, type=Path, help="state directory")
    parser.add_argument("--port", type=int, default=4646, help="port on 127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    paths = LocalPaths(args.dir)
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = _lock(paths)
    if lock is None:
        _log(f"another mlctl local runtime already uses {paths.root}")
        return EXIT_BUSY
    from mlctl.local.engine.runtime import build_runtime

    runtime = build_runtime(paths.root, verbose=args.verbose)
    if runtime.sim.management_token:
        write_private(paths.token, runtime.sim.management_token + "\n")
    try:
        runtime.sim.start(port=args.port)
    except OSError as exc:
        _log(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}")
        runtime.close()
        return EXIT_PORT
    _write_status(paths, runtime, args.port)
    _log(
        f"mlctl local {__version__} serving at {runtime.sim.address} (pid {os.getpid()}); "
        f"state {'restored' if runtime.restored else 'new'} in {paths.root}; "
        f"memory limits {runtime.limits}; GPUs: {runtime.gpus}; docker: {runtime.docker}"
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    done.wait()
    _log("stopping: every task gets its kill signal")
    runtime.sim.stop()  # no more requests or ticks: nothing restarts what is killed next
    runtime.runner.kill_everything(runtime.sim.lifecycle)
    runtime.close()
    paths.status.unlink(missing_ok=True)
    _log("stopped")
    lock.close()
    return 0


def _write_status(paths: LocalPaths, runtime: object, port: int) -> None:
    from mlctl.local.engine.runtime import Runtime

    assert isinstance(runtime, Runtime)
    status = {
        "engine": "builtin",
        "pid": os.getpid(),
        "create_time": psutil.Process().create_time(),
        "address": f"http://127.0.0.1:{port}",
        "port": port,
        "started_at": time.time(),
        "version": __version__,
        "limits": runtime.limits,
        "gpus": runtime.gpus,
        "docker": runtime.docker,
    }
    write_private(paths.status, json.dumps(status, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
