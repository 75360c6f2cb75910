"""Run the app under uvicorn: one process, or ``--workers N`` processes on one socket.

Draining: on SIGTERM uvicorn stops accepting, finishes in-flight requests, runs the
lifespan shutdown (which drains the micro-batch queue) and returns. uvicorn then
re-raises the signal it caught so the default handler would kill the process; SIGTERM
is how Nomad stops a task normally, so we keep a no-op handler installed and exit 0.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlctl.bundle.config import read_config
from mlctl.errors import InvalidInput
from mlctl.output import note
from mlctl.serve.options import ServeOptions

if TYPE_CHECKING:
    from mlctl.serve.app import ServerState

# uvicorn's own lines are not JSON; our access and error lines are. Keep its warnings.
UVICORN_LOG_LEVEL = "warning"
GRACEFUL_SHUTDOWN_SECONDS = 30

#: How uvicorn serves, the same for one process and for --workers N.
SERVER_SETTINGS: dict[str, Any] = {
    "log_level": UVICORN_LOG_LEVEL,
    "access_log": False,  # mlctl writes its own JSON access lines
    "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    "server_header": False,
    # Nothing reads the client address, so skip X-Forwarded-* rewriting per request.
    "proxy_headers": False,
}


class ModelLoadFailed(InvalidInput):
    """The server started but the model did not load; the message says why."""


def serve(options: ServeOptions) -> None:
    """Serve until stopped (SIGTERM/SIGINT); raise when the model fails to load."""
    config = read_config(options.bundle_dir)
    serving = options.resolve(config.serving)
    note(
        f"serving {config.name} {config.version} on http://{options.host}:{serving.port} "
        f"with {serving.workers} worker(s); SIGTERM or Ctrl-C stops it"
    )
    if serving.workers > 1:
        serve_workers(options, serving.port, serving.workers)
        return
    local = LocalServer.build(options, port=serving.port)
    with _sigterm_exits_cleanly():
        local.server.run()
    local.raise_if_load_failed()


@dataclass
class LocalServer:
    """A one-process uvicorn server and the app state it serves."""

    server: Any  # uvicorn.Server; uvicorn is imported lazily to keep `mlctl --help` fast
    state: ServerState

    @classmethod
    def build(cls, options: ServeOptions, *, port: int) -> LocalServer:
        """The server's app asks it to exit if the model fails to load."""
        import uvicorn

        from mlctl.serve.app import make_app

        def stop_server() -> None:
            local.server.should_exit = True

        app = make_app(options, on_load_failure=stop_server)
        config = uvicorn.Config(app, host=options.host, port=port, **SERVER_SETTINGS)
        local = cls(server=uvicorn.Server(config), state=app.state.server)
        return local

    def raise_if_load_failed(self) -> None:
        if self.state.load_error is not None:
            raise ModelLoadFailed(
                f"model {self.state.name} failed to load: {self.state.load_error}"
            )


@contextlib.contextmanager
def _sigterm_exits_cleanly() -> Iterator[None]:
    """Make uvicorn's re-raised SIGTERM (after draining) a no-op instead of a kill."""
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_workers(options: ServeOptions, port: int, workers: int) -> None:
    """N uvicorn worker processes sharing one socket, each loading the model itself.

    uvicorn spawns fresh interpreters that import the app by name, so the options travel
    in an environment variable the worker module reads back (see mlctl.serve.worker).
    """
    import os

    import uvicorn

    from mlctl.serve.worker import OPTIONS_ENV, encode_options

    os.environ[OPTIONS_ENV] = encode_options(options)
    uvicorn.run(
        "mlctl.serve.worker:app_from_env",
        factory=True,
        host=options.host,
        port=port,
        workers=workers,
        **SERVER_SETTINGS,
    )
