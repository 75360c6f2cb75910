"""The bearer token the prober sends to ``/metrics`` (servers with ``metrics: token``).

Where the token comes from is the composition root's choice (:func:`mlctl.session.
monitor`): the deployed monitor logs in with its AppRole and reads its own model token
(claims: every namespace's metrics, no model); an operator's monitor or TUI uses the
person's model token (``MLCTL_MODEL_TOKEN`` or their login's); ``mlctl local`` has none.
Here only the ``obtain(fresh)`` function is seen, and this module decides *when* to call
it, so that a cluster of failing servers can never turn into a storm of Vault logins:

- a token is reused until :data:`RENEW_BEFORE` seconds before the ``exp`` its payload
  names (a token without a readable ``exp`` is kept until a server refuses it);
- a ``/metrics`` 401/403 asks for a fresh token, but ``obtain`` runs at most once per
  probe round whatever the number of endpoints refusing, never for a token younger than
  :data:`MIN_REFRESH_AGE` (a server that refuses a fresh token will refuse the next one
  too: one whose issuer or audience differs), and an endpoint that refused retries
  once, with whatever token the round then holds;
- an error obtaining a token is logged once per distinct message (scrubbed of secrets)
  and never raised: the round goes on with the previous token while it is still valid,
  else with none;
- a token goes only to servers that would accept it: those of a namespace its
  ``mlctl_metrics`` claim names (or ``*``). The monitor's own token names ``*`` and grants
  nothing else, but a person's token (the TUI, ``mlctl monitor run``) may also call
  models, and handing it to every server one can see would let any of them replay it.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from mlctl import redact
from mlctl.bundle.schema import METRICS_CLAIM
from mlctl.monitor import reader
from mlctl.monitor.problems import ProblemLine

#: Replace a token this many seconds before it expires (servers allow little leeway).
RENEW_BEFORE = 60.0
#: A refused token is replaced only when at least this old (seconds).
MIN_REFRESH_AGE = 60.0
#: ``obtain(fresh)``: a token (``fresh``: not a cached one), or None when there is no
#: identity to use; may raise anything, which is logged.
Obtain = Callable[[bool], str | None]


def unverified_claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified: only to know when to renew it and where to send it
    (the servers verify it); empty for anything that is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims: Any = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def expiry(token: str) -> float | None:
    """The ``exp`` a JWT's payload names."""
    exp = unverified_claims(token).get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def metrics_scope(token: str) -> frozenset[str]:
    """The namespaces (or ``*``) whose servers' ``/metrics`` the token may read."""
    scope = unverified_claims(token).get(METRICS_CLAIM)
    if not isinstance(scope, list):
        return frozenset()
    return frozenset(item for item in scope if isinstance(item, str))


class MetricsTokens:
    """The prober's metrics token: cached, renewed before expiry, refreshed on refusal
    at most once per probe round; thread-safe (the prober's workers share it)."""

    def __init__(
        self,
        obtain: Obtain,
        *,
        clock: Callable[[], float] = time.time,
        log: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self._obtain = obtain
        self._clock = clock
        self._log = log
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: float | None = None
        self._scope: frozenset[str] = frozenset()
        self._obtained_at = float("-inf")
        self._tried_this_round = False
        self._problems = ProblemLine(log, "metrics token: ", "metrics token: obtained again")
        self.obtained = 0
        """How many times ``obtain`` ran (tests and the closing numbers read it)."""

    def start_round(self) -> str | None:
        """A new probe round: one more ``obtain`` is allowed; the token to send."""
        with self._lock:
            self._tried_this_round = False
            return self._current()

    def current(self) -> str | None:
        with self._lock:
            return self._current()

    def for_namespace(self, token: str | None, namespace: str) -> str | None:
        """``token`` if it may read the metrics of ``namespace``'s servers, else None
        (then it is not sent: a server that would refuse it must not see it)."""
        if token is None:
            return None
        with self._lock:
            scope = self._scope if token == self._token else metrics_scope(token)
        return token if namespace in scope or "*" in scope else None

    def refused(self, token: str | None) -> str | None:
        """A server answered 401/403 to ``token``: the token to retry with, or None
        when there is nothing new to try (this round already asked)."""
        with self._lock:
            if self._token != token:  # another endpoint refreshed it meanwhile
                return self._token
            if self._tried_this_round or self._clock() - self._obtained_at < MIN_REFRESH_AGE:
                return None
            self._renew(fresh=True)
            return self._token if self._token != token else None

    # ------------------------------------------------------------------ under the lock

    def _current(self) -> str | None:
        if self._token is not None and not self._due():
            return self._token
        if not self._tried_this_round:
            self._renew(fresh=False)
        return self._token

    def _due(self) -> bool:
        if self._expires_at is None:
            return False
        return self._clock() >= self._expires_at - RENEW_BEFORE

    def _renew(self, *, fresh: bool) -> None:
        self._tried_this_round = True
        self.obtained += 1
        try:
            token = self._obtain(fresh)
        except Exception as error:  # never out of the probe loop: logged, not raised
            self._failed(error)
            return
        self._problems.cleared()
        redact.register(token)
        self._obtained_at = self._clock()
        self._token = token
        self._expires_at = expiry(token) if token else None
        self._scope = metrics_scope(token) if token else frozenset()

    def _failed(self, error: Exception) -> None:
        self._problems.problem(redact.scrub(reader.describe(error), [self._token or ""]))
        if self._expires_at is not None and self._clock() >= self._expires_at:
            self._token = self._expires_at = None  # expired: better none than a dead one
