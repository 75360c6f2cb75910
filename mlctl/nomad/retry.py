"""Retries with exponential backoff for idempotent reads only.

urllib3's :class:`~urllib3.util.retry.Retry` already backs off exponentially and
retries 5xx answers only for ``allowed_methods``; but it retries *connection* errors
for every method. A POST that registers a job or scales a group must never be sent
twice behind the user's back, so :class:`ReadOnlyRetry` re-raises any error of a
method outside ``allowed_methods`` at once (connection refused on a POST fails, it is
not resent).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRIED_STATUSES = frozenset({500, 502, 503, 504})


class ReadOnlyRetry(Retry):
    """A Retry that gives up immediately for methods that are not idempotent reads."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if error is not None and (method is None or not self._is_method_retryable(method)):
            # Spend the whole budget so urllib3 raises MaxRetryError now, which requests
            # reports as an ordinary ConnectionError.
            exhausted = self.new(total=0, connect=0, read=0, status=0, other=0)
            return Retry.increment(exhausted, method, url, response, error, _pool, _stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def read_retry(attempts: int = 3, backoff: float = 0.5) -> ReadOnlyRetry:
    """GET is retried ``attempts`` times on connection errors and 5xx, waiting 0, 2b, 4b…s."""
    return ReadOnlyRetry(
        total=attempts,
        connect=attempts,
        read=attempts,
        status=attempts,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRIED_STATUSES,
        backoff_factor=backoff,
        raise_on_status=False,  # hand the last 5xx answer back so it is mapped with its body
        respect_retry_after_header=True,
    )


def mount_retries(session: requests.Session, retry: Retry) -> None:
    """Install ``retry`` for both schemes on ``session``."""
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
