"""``--workers N``: N server processes, each with its own listening socket on one port.

Why not uvicorn's own ``workers=``: its processes share one listening socket, and the
kernel then wakes whichever worker is idle, which under keep-alive load hands most
connections to one of them (30 of 32 measured: two workers served 7 % *less* than
one). Here every worker binds the port itself with ``SO_REUSEPORT``, and the kernel
spreads new connections evenly over the listening sockets.

That also gives the lifecycle the issue asks for:

- a worker loads the model *before* it binds, so a worker that is still loading (at
  start, or a replacement) is simply not in the kernel's list and takes no traffic;
- a worker that fails to load tells the supervisor why; the supervisor stops the
  others and ``mlctl serve`` exits with that error's status (4, or 15 for an unsafe
  file) and one line;
- a worker that dies later is logged and replaced (with a back-off if it keeps dying);
- SIGTERM (or Ctrl-C) drains every worker and exits 0.

The supervisor holds a bound, non-listening ``SO_REUSEPORT`` socket for its whole life,
so no other program (nor a second ``mlctl serve``) can take the port meanwhile.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from mlctl.bundle.config import read_config
from mlctl.errors import MlctlError
from mlctl.serve.http import EventLog, new_error_id
from mlctl.serve.options import ResolvedServing, ServeOptions
from mlctl.serve.server import ModelLoadFailed, bind_socket

POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1  # prctl(2)
#: Extra time a worker gets after its drain before it is killed.
STOP_GRACE_SECONDS = 5.0
#: Replacements that die before they are ready, in a row, before giving up.
MAX_FAILED_STARTS = 3
MAX_BACKOFF_SECONDS = 10.0


def serve_workers(
    options: ServeOptions,
    serving: ResolvedServing,
    *,
    announce: Callable[[str, str, str, int, int], None],
) -> None:
    """Run ``serving.workers`` workers until SIGTERM/SIGINT; raise if the model cannot load."""
    config = read_config(options.bundle_dir)
    bind_socket(options.host, serving.port, listen=False).close()  # busy port: one clear line
    holder = bind_socket(options.host, serving.port, reuse_port=True, listen=False)
    port = int(holder.getsockname()[1])
    announce(config.name, config.version, options.host, port, serving.workers)
    try:
        Supervisor(options, serving, port).run()
    finally:
        holder.close()


@dataclass
class _Slot:
    """One worker position; its process is replaced when it dies."""

    index: int
    process: Any = None  # multiprocessing.Process (spawn context)
    conn: Connection | None = None
    ready: bool = False
    failed_starts: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    options: ServeOptions
    serving: ResolvedServing
    port: int
    log: EventLog = field(default_factory=EventLog)
    stopping: bool = False
    failure: MlctlError | None = None

    def run(self) -> None:
        context = multiprocessing.get_context("spawn")
        slots = [_Slot(index) for index in range(1, self.serving.workers + 1)]
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in slots:
                self._start(context, slot)
            while not self.stopping:
                self._tend(context, slots)
        finally:
            self._stop_all(slots)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.failure is not None:
            raise self.failure

    def _stop(self, _signum: int, _frame: Any) -> None:
        self.stopping = True

    def _start(self, context: Any, slot: _Slot) -> None:
        receiver, sender = context.Pipe(duplex=False)
        slot.process = context.Process(
            target=worker_main,
            args=(self.options, self.port, sender),
            name=f"mlctl-serve-worker-{slot.index}",
        )
        slot.process.start()
        sender.close()
        slot.conn, slot.ready, slot.restart_at = receiver, False, None

    def _tend(self, context: Any, slots: list[_Slot]) -> None:
        """Wait for news from any worker: a message, an exit, or a restart that is due."""
        waitables: list[Any] = [s.conn for s in slots if s.conn is not None]
        waitables += [s.process.sentinel for s in slots if s.process is not None]
        for ready in wait(waitables, timeout=POLL_SECONDS):
            slot = next(s for s in slots if ready in (s.conn, getattr(s.process, "sentinel", -1)))
            if ready is slot.conn:
                self._message(slot)
            elif not self.stopping:
                self._exited(slot)
        now = time.monotonic()
        for slot in slots:
            if slot.restart_at is not None and now >= slot.restart_at and not self.stopping:
                self._start(context, slot)

    def _message(self, slot: _Slot) -> None:
        assert slot.conn is not None
        try:
            message = slot.conn.recv()
        except (EOFError, OSError):
            slot.conn.close()
            slot.conn = None
            return
        if message[0] == "ready":
            slot.ready, slot.failed_starts = True, 0
            self.log.info(f"worker {slot.index} (pid {slot.process.pid}) is ready and serving")
        elif message[0] == "failed":
            _, kind, text, hint = message
            self.failure = kind(text, hint=hint)
            self.stopping = True

    def _exited(self, slot: _Slot) -> None:
        process = slot.process
        process.join()
        code = process.exitcode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        if slot.conn is not None:
            slot.conn.close()
        if not slot.ready:
            slot.failed_starts += 1
        if slot.failed_starts >= MAX_FAILED_STARTS:
            self.failure = ModelLoadFailed(
                f"worker {slot.index} {how} before it was ready, "
                f"{slot.failed_starts} times in a row",
                hint="the server log above says more; try --workers 1",
            )
            self.stopping = True
            return
        delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**slot.failed_starts) if slot.failed_starts else 0
        self.log.error(
            new_error_id(),
            f"worker {slot.index} (pid {process.pid}) {how}; starting a replacement"
            + (f" in {delay:g} s" if delay else ""),
        )
        slot.process, slot.conn, slot.ready = None, None, False
        slot.restart_at = time.monotonic() + delay

    def _stop_all(self, slots: list[_Slot]) -> None:
        """SIGTERM every worker (each drains), then kill any that overstay."""
        alive = [s.process for s in slots if s.process is not None and s.process.is_alive()]
        for process in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.serving.drain_timeout_s + STOP_GRACE_SECONDS
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def worker_main(options: ServeOptions, port: int, conn: Connection) -> None:
    """One worker process: load, then bind and serve until SIGTERM.

    Ctrl-C reaches every process of the terminal's group; the supervisor decides, so a
    worker ignores SIGINT until uvicorn takes over its signals.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_with_parent()
    from mlctl.serve.loader import ModelLoadError, load_bundle
    from mlctl.serve.server import LocalServer, sigterm_exits_cleanly

    log = EventLog(access=options.access_log)
    try:
        bundle = load_bundle(options.bundle_dir)
    except BaseException as exc:
        known = isinstance(exc, MlctlError)
        error = exc if known else ModelLoadError(f"{type(exc).__name__}: {exc}")
        assert isinstance(error, MlctlError)
        text = f"model {read_config(options.bundle_dir).name} failed to load: {error.message}"
        log.error(new_error_id(), text, None if known else exc)
        conn.send(("failed", type(error), text, error.hint))
        return
    try:
        sock = bind_socket(options.host, port, reuse_port=True)
    except MlctlError as error:
        conn.send(("failed", type(error), error.message, error.hint))
        return
    local = LocalServer.build(options, port=port, sock=sock, preloaded=bundle, log=log)
    conn.send(("ready", os.getpid()))
    conn.close()
    with sigterm_exits_cleanly():
        local.server.run(sockets=[sock])


def _stop_with_parent() -> None:
    """Linux: get SIGTERM (a drain) if the supervisor dies, so no orphan keeps the port."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the supervisor's own SIGTERM handling still stops the workers
