"""Run the app under uvicorn: one process, or ``--workers N`` processes on one port.

The socket is bound before anything is printed, so a busy port is one ``mlctl: error:``
line (exit 9) instead of a start-up note followed by uvicorn's own error text.

Draining: on SIGTERM the server reports not ready, stops accepting, lets in-flight
requests finish for up to ``drain_timeout_s`` (answering whatever still waits just
before that deadline with a JSON 503, so no client ever gets uvicorn's plain-text 500),
drains the batch queue and returns. uvicorn then re-raises the signal it caught so the
default handler would kill the process; SIGTERM is how Nomad stops a task normally, so
we keep a no-op handler installed and exit 0.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvicorn

from mlctl.bundle.config import read_config
from mlctl.errors import Conflict, InvalidInput, MlctlError, PermissionDenied
from mlctl.output import note
from mlctl.serve.http import EventLog
from mlctl.serve.options import ResolvedServing, ServeOptions
from mlctl.serve.protocol import ConnectionGuard, GuardedHttpToolsProtocol

if TYPE_CHECKING:
    from mlctl.serve.loader import LoadedBundle
    from mlctl.serve.state import ServerState

# uvicorn's own lines are not JSON; our access and error lines are. Keep its warnings.
UVICORN_LOG_LEVEL = "warning"
BACKLOG = 2048

#: How uvicorn serves, the same for one process and for each of --workers N.
SERVER_SETTINGS: dict[str, Any] = {
    "log_level": UVICORN_LOG_LEVEL,
    "access_log": False,  # mlctl writes its own JSON access lines
    "server_header": False,
    # Nothing reads the client address, so skip X-Forwarded-* rewriting per request.
    "proxy_headers": False,
    "lifespan": "on",
}


class ModelLoadFailed(InvalidInput):
    """The server started but the model did not load; the message says why."""


def serve(options: ServeOptions) -> None:
    """Serve until stopped (SIGTERM/SIGINT); raise when the model fails to load."""
    config = read_config(options.bundle_dir)
    serving = options.resolve(config.serving)
    # Checked before binding (jwt without an issuer is one clear line), said once at start.
    auth_line = options.resolve_auth(config.serving.auth).describe(config.name)
    announce = functools.partial(_announce, auth_line=auth_line)
    if serving.workers > 1:
        from mlctl.serve.workers import serve_workers

        serve_workers(options, serving, announce=announce)
        return
    local = LocalServer.build(options, port=serving.port)
    announce(config.name, config.version, options.host, local.port, serving.workers)
    with sigterm_exits_cleanly():
        local.server.run(sockets=[local.sock])
    local.raise_if_load_failed()


def _announce(
    name: str, version: str, host: str, port: int, workers: int, *, auth_line: str
) -> None:
    note(
        f"serving {name} {version} on http://{host}:{port} "
        f"with {workers} worker(s); SIGTERM or Ctrl-C stops it"
    )
    note(auth_line)


def bind_socket(
    host: str, port: int, *, reuse_port: bool = False, listen: bool = True
) -> socket.socket:
    """A TCP socket bound to ``host:port``; a refusal is one clear :class:`MlctlError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise _bind_error(host, port, exc) from None
    return sock


def _bind_error(host: str, port: int, exc: OSError) -> MlctlError:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return Conflict(
            f"cannot listen on {where}: the port is already in use",
            hint="stop whatever holds it, or choose another port with --port",
        )
    if exc.errno == errno.EACCES:
        return PermissionDenied(
            f"cannot listen on {where}: permission denied",
            hint="ports below 1024 need privileges; choose another with --port",
        )
    reason = exc.strerror or str(exc)
    return InvalidInput(
        f"cannot listen on {where}: {reason}",
        hint="--host must be an address of this machine, e.g. 127.0.0.1 or 0.0.0.0",
    )


class ModelServer(uvicorn.Server):
    """uvicorn's server, telling the app when the drain begins."""

    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self.state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.state.begin_drain()
        await super().shutdown(sockets=sockets)


@dataclass
class LocalServer:
    """A one-process uvicorn server on a socket we bound, and the app state it serves."""

    server: ModelServer
    state: ServerState
    sock: socket.socket

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @classmethod
    def build(
        cls,
        options: ServeOptions,
        *,
        port: int,
        sock: socket.socket | None = None,
        preloaded: LoadedBundle | None = None,
        log: EventLog | None = None,
    ) -> LocalServer:
        """Bind (unless given a socket) and build; the app stops the server if loading fails."""
        from mlctl.serve.app import make_app

        if sock is None:
            sock = bind_socket(options.host, port)

        def stop_server() -> None:
            local.server.should_exit = True

        try:
            app = make_app(options, on_load_failure=stop_server, preloaded=preloaded, log=log)
        except BaseException:
            sock.close()
            raise
        state: ServerState = app.state.server
        config = uvicorn.Config(app, **uvicorn_settings(state.serving, options, state))
        local = cls(server=ModelServer(config, state), state=state, sock=sock)
        return local

    def raise_if_load_failed(self) -> None:
        """The load error, as the same kind of error (an unpinned pickle stays 'unsafe')."""
        error = self.state.load_error
        if error is not None:
            raise type(error)(
                f"model {self.state.name} failed to load: {error.message}", hint=error.hint
            )


def uvicorn_settings(
    serving: ResolvedServing, options: ServeOptions, state: ServerState
) -> dict[str, Any]:
    """uvicorn.Config keywords: the shared settings plus our guarded HTTP protocol."""
    refusals = state.metrics.connections_refused

    def count_refusal(reason: str) -> None:
        refusals.labels(reason).inc()

    guard = ConnectionGuard(options.limits, on_refusal=count_refusal)
    return {
        **SERVER_SETTINGS,
        "http": functools.partial(GuardedHttpToolsProtocol, guard=guard),
        "timeout_keep_alive": max(1, round(options.limits.idle_timeout)),
        "timeout_graceful_shutdown": serving.drain_timeout_s,
        "backlog": BACKLOG,
    }


@contextlib.contextmanager
def sigterm_exits_cleanly() -> Iterator[None]:
    """Make uvicorn's re-raised SIGTERM (after draining) a no-op instead of a kill."""
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
