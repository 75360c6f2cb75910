"""The composition root: Settings -> credentials -> Nomad and Vault clients.

Every entry point (the CLI, the monitor, the TUI, the local runtime) builds its clients
here, so the choice of token — ``NOMAD_TOKEN``/``VAULT_TOKEN``, a cached ``mlctl login``
renewed on the way, or none — is made in one place. ``mlctl.nomad`` and ``mlctl.vault``
never import each other; what needs both (:mod:`mlctl.access`: bootstrap, users, logins)
sits above them and is reached from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from urllib3.util.retry import Retry

from mlctl import redact
from mlctl.credentials import read_login, read_token_file
from mlctl.errors import AuthError
from mlctl.nomad.client import NomadClient
from mlctl.nomad.client import connect as connect_nomad
from mlctl.nomad.transport import DEFAULT_TIMEOUT
from mlctl.settings import Settings
from mlctl.vault.client import Vault
from mlctl.vault.client import connect as connect_vault


def resolve_nomad_token(settings: Settings) -> str | None:
    """The Nomad token to send: NOMAD_TOKEN, else the context's token file, else a live
    cached login, else anonymous.

    The token file (``nomad_token_file``, how the ``local`` context reaches its runtime)
    comes before the login cache: it belongs to the context in use, while a cached login
    may be for another cluster. A cached login in the last third of its lifetime is
    renewed first (Vault token renew-self, plus a Nomad lease renewal or a fresh JWT
    exchange).
    """
    if settings.nomad_token:
        redact.register(settings.nomad_token)
        return settings.nomad_token
    if settings.nomad_token_file is not None:
        return read_token_file(Path(settings.nomad_token_file))
    login = read_login(settings)
    if login is None or login.nomad_token is None:
        return None
    if login.due_for_renewal() and not login.nomad_expired() and not login.vault_expired():
        from mlctl.access.login import refresh

        login = refresh(settings, login)
    if login.nomad_expired() or login.vault_expired():
        # The Nomad token depends on the Vault login: when either ends, both do.
        raise AuthError(
            f"the login of {login.username} expired", hint="token expired — run mlctl login"
        )
    return login.nomad_token


def acting_vault_token(settings: Settings) -> str:
    """The Vault token admin commands act with: VAULT_TOKEN, else the cached login's."""
    if settings.vault_token:
        redact.register(settings.vault_token)
        return settings.vault_token
    login = read_login(settings)
    if login is None:
        raise AuthError(
            "not logged in to Vault", hint="run mlctl login (or set VAULT_TOKEN for bootstrap)"
        )
    if login.vault_expired():
        raise AuthError(
            f"the Vault token of {login.username} expired", hint="token expired — run mlctl login"
        )
    return login.vault_token


def nomad_client(
    settings: Settings, *, retry: Retry | None = None, timeout: float = DEFAULT_TIMEOUT
) -> NomadClient:
    """A Nomad client acting as the user: NOMAD_TOKEN, else their live cached login."""
    return connect_nomad(
        settings, token=resolve_nomad_token(settings), retry=retry, timeout=timeout
    )


def nomad_client_with_token(settings: Settings, token: str | None) -> NomadClient:
    """A Nomad client sending exactly ``token`` (a management token, a fresh login's)."""
    return connect_nomad(settings, token=token)


def vault_client(settings: Settings) -> Vault:
    """A Vault client acting as the user: VAULT_TOKEN, else their cached login's token."""
    return connect_vault(settings, acting_vault_token(settings))


def model_token(settings: Settings, *, fresh: bool = False) -> str | None:
    """The bearer token for calling models as the logged-in user (``MLCTL_MODEL_TOKEN``
    first), or None without a login. ``mlctl predict`` and the TUI both call this; pass
    ``fresh=True`` after a 403 to ask Vault for a token with the current grants."""
    from mlctl.access.model_tokens import model_token as obtain

    return obtain(settings, fresh=fresh)


def service_token_minter(settings: Settings, role_id: str, secret_id: str) -> Callable[[], str]:
    """For the monitor: a function that logs its AppRole in and returns a fresh Nomad
    token (secrets engine or JWT login, whichever bootstrap set up); call it again to
    renew."""
    from mlctl.access.service import service_nomad_token

    redact.register(role_id, secret_id)
    return lambda: service_nomad_token(settings, role_id, secret_id)


def service_model_token_minter(
    settings: Settings, role_id: str, secret_id: str
) -> Callable[[bool], str | None]:
    """For the monitor: a function that logs its AppRole in and returns its own model
    token (reads every server's ``/metrics``, calls no model); call it again to renew."""
    from mlctl.access.service import service_model_token

    redact.register(role_id, secret_id)
    return lambda _fresh: service_model_token(settings, role_id, secret_id)


def personal_metrics_token(settings: Settings) -> Callable[[bool], str | None]:
    """For a monitor without AppRole credentials: ``MLCTL_MODEL_TOKEN``, else the
    logged-in person's model token (what ``mlctl predict`` sends), else None."""
    return lambda fresh: model_token(settings, fresh=fresh)


def anonymous_vault_client(settings: Settings) -> Vault:
    """A Vault client with no token (logins, the unauthenticated discovery documents)."""
    return connect_vault(settings, None)


def monitor(
    settings: Settings,
    config: Any = None,
    *,
    env: Mapping[str, str] | None = None,
    event_log: Any = None,
) -> Any:
    """The monitor engine for ``settings`` (a :class:`mlctl.monitor.engine.Monitor`, not
    started): its Nomad token is the monitor AppRole's when ``env`` carries its
    credentials (the deployed job), else NOMAD_TOKEN or the cached login. So is the
    token it reads protected ``/metrics`` with: the AppRole's own metrics-only model
    token, else the person's model token (none in ``mlctl local``). Used by ``mlctl
    monitor run`` and by the TUI, which reads its Store."""
    from mlctl.monitor import eventlog
    from mlctl.monitor.config import MonitorConfig
    from mlctl.monitor.deploy import ROLE_ID_ENV, SECRET_ID_ENV
    from mlctl.monitor.engine import Monitor, MonitorOptions
    from mlctl.monitor.tokens import MintedToken, StaticToken, TokenSource
    from mlctl.nomad.retry import read_retry

    env = env or {}
    config = config or MonitorConfig()
    role_id, secret_id = env.get(ROLE_ID_ENV), env.get(SECRET_ID_ENV)
    tokens: TokenSource
    if role_id and secret_id:
        tokens = MintedToken(service_token_minter(settings, role_id, secret_id))
        metrics_token = service_model_token_minter(settings, role_id, secret_id)
    else:
        tokens = StaticToken(resolve_nomad_token(settings))
        metrics_token = personal_metrics_token(settings)

    def connect(token: str | None) -> NomadClient:
        return connect_nomad(settings, token=token, retry=read_retry(attempts=1))

    events = event_log or eventlog.EventLog(
        config.event_log or eventlog.default_path(settings.state_dir)
    )
    return Monitor(
        config,
        connect,
        tokens,
        events,
        env=env,
        options=MonitorOptions(
            nomad_address=settings.nomad_addr,
            state_fallback=settings.state_dir / "monitor" / "state.json",
        ),
        metrics_token=metrics_token,
    )


def watch_monitor(
    settings: Settings,
    *,
    judge_reachability: bool = False,
    disconnected_alert: bool = False,
    tokens: Any = None,
    follower_options: Any = None,
    event_log: Any = None,
) -> Any:
    """A watch-only monitor for ``settings`` (a :class:`mlctl.monitor.engine.Monitor`
    with :class:`~mlctl.monitor.engine.WatchOptions`, not started), as ``mlctl tui``
    runs it: the same follower, Store, prober and health rules as ``monitor()``, in
    every namespace the token can read, and nothing that acts, notifies, publishes or
    keeps state (the deployed monitor does that; an operator's copy would page people
    twice with the operator's token). Its token is NOMAD_TOKEN or the cached login,
    resolved again (and renewed) when Nomad says it expired; ``tokens`` replaces that
    (tests). An unreadable login fails here, before anything starts. Protected
    ``/metrics`` are read with the person's model token (``MLCTL_MODEL_TOKEN`` or the
    login's), as ``mlctl predict`` would send it."""
    from mlctl.monitor import eventlog
    from mlctl.monitor.config import Intervals, MonitorConfig
    from mlctl.monitor.engine import Monitor, MonitorOptions, WatchOptions
    from mlctl.monitor.tokens import ResolvedToken
    from mlctl.nomad.retry import read_retry

    every = settings.with_overrides(nomad_namespace="*")
    if tokens is None:
        renewable = settings.nomad_token is None  # a cached login, not NOMAD_TOKEN
        tokens = ResolvedToken(lambda: resolve_nomad_token(settings), renewable)

    def connect(token: str | None) -> NomadClient:
        return connect_nomad(every, token=token, retry=read_retry(attempts=1))

    connect(tokens.current())  # a bad address or CA bundle fails here, as one line
    watch = WatchOptions(
        judge_reachability=judge_reachability, disconnected_alert=disconnected_alert
    )
    return Monitor(
        MonitorConfig(intervals=Intervals(rules=WATCH_RULES_INTERVAL)),
        connect,
        tokens,
        event_log or eventlog.EventLog(None),
        options=MonitorOptions(nomad_address=settings.nomad_addr, watch=watch),
        follower_options=follower_options,
        metrics_token=personal_metrics_token(settings),
    )


#: Seconds between two passes of a watch-only monitor's rules (a screen wants them fresh).
WATCH_RULES_INTERVAL = 2.0
