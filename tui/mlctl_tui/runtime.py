"""``mlctl tui``: build the Store, start the monitor engine in-process, run the app.

Everything that can be wrong before the screen takes over (a bad address, an expired
login, no terminal) is raised here as an :class:`~mlctl.errors.MlctlError`, so the CLI
prints its one line and exits with the documented status.
"""

from __future__ import annotations

import threading

from mlctl.monitor.clock import utc_now
from mlctl.monitor.store import Store
from mlctl.nomad.client import NomadClient
from mlctl.settings import Settings
from mlctl_tui.services.engine import Engine


def resolve_token(settings: Settings) -> str | None:
    """The Nomad token ``mlctl`` would send (NOMAD_TOKEN, else a live cached login,
    renewed on the way when it is due)."""
    from mlctl.session import resolve_nomad_token

    return resolve_nomad_token(settings)


class ResolvedToken:
    """The follower's token source: resolved again when Nomad says it expired, which
    renews a cached ``mlctl login`` on the way."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._token = resolve_token(settings)

    def current(self) -> str | None:
        with self._lock:
            return self._token

    def refresh(self) -> str | None:
        with self._lock:
            self._token = resolve_token(self._settings)
            return self._token

    @property
    def renewable(self) -> bool:
        return self._settings.nomad_token is None


def start_engine(settings: Settings, store: Store) -> Engine:
    """The monitor engine following every namespace the token can read."""
    from mlctl.session import nomad_client_with_token

    every = settings.with_overrides(nomad_namespace="*")

    def connect(token: str | None) -> NomadClient:
        return nomad_client_with_token(every, token)

    tokens = ResolvedToken(settings)
    connect(tokens.current())  # a bad address or CA bundle fails here, as one line
    return Engine(store, connect, tokens, utc_now).start()


def run(settings: Settings, readonly: bool = False) -> None:
    """Run the TUI until the operator quits."""
    from mlctl_tui.app import make_app

    store = Store()
    engine = start_engine(settings, store)
    try:
        make_app(settings, store, readonly=readonly, freeze_heap=True).run()
    finally:
        engine.stop()
