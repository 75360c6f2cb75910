"""One transport for every Nomad call: python-nomad's API objects and raw requests alike.

python-nomad lacks some endpoints mlctl needs (``POST /v1/job/:id/scale``, services,
streaming logs) and cannot pass blocking-query parameters or return the
``X-Nomad-Index`` header. Those calls go through a python-nomad ``Requester`` built
from the *same* settings and session, so the base URL, namespace, region, token
header, TLS options and retry policy are identical whichever path a call takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import quote

import nomad
import requests
from nomad.api.base import Requester

from mlctl.nomad.errors import CallContext, translate

T = TypeVar("T")

#: Seconds a non-blocking call may take before it counts as unanswered.
DEFAULT_TIMEOUT = 30.0
#: Extra seconds a blocking query may run beyond its ``wait`` before we give up.
BLOCKING_GRACE = 15.0


class _RawRequester(Requester):  # type: ignore[misc]
    """A python-nomad Requester addressed by explicit path segments (``v1/a/b``)."""

    def _endpoint_builder(self, *args: str) -> str:
        return "/".join([self.version, *(a for a in args if a)])


class Transport:
    """python-nomad's client plus raw calls; every failure leaves as an MlctlError."""

    def __init__(
        self, api: nomad.Nomad, ctx: CallContext, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.api = api
        self.ctx = ctx
        self.timeout = timeout
        self.namespace: str = api.get_namespace() or "default"
        self._raw = _RawRequester(**api.requester_settings)

    @contextmanager
    def mapped(self) -> Iterator[None]:
        """Translate python-nomad and requests exceptions raised inside the block."""
        try:
            yield
        except Exception as error:
            mapped = translate(error, self.ctx)
            if mapped is None:
                raise
            raise mapped from error

    def call(self, fn: Callable[[], T]) -> T:
        """Run one python-nomad method with the error mapping."""
        with self.mapped():
            return fn()

    def request(
        self,
        method: str,
        *parts: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout: float | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """``METHOD /v1/<parts…>``; each part is URL-quoted so no id can change the path."""
        with self.mapped():
            response: requests.Response = self._raw.request(
                *(quote(part, safe="") for part in parts),
                method=method,
                params=dict(params or {}),
                json=json,
                timeout=timeout or self.timeout,
                stream=stream,
            )
            return response

    def json(self, method: str, *parts: str, **kwargs: Any) -> Any:
        """A call whose answer is JSON."""
        response = self.request(method, *parts, **kwargs)
        with self.mapped():
            return response.json()

    def blocking(
        self,
        *parts: str,
        index: int = 0,
        wait: float = 30.0,
        params: Mapping[str, Any] | None = None,
    ) -> tuple[Any, int]:
        """A blocking GET: returns once the data changed after ``index`` (or ``wait`` passed).

        With ``index=0`` it answers immediately; the returned index feeds the next call.
        """
        query = dict(params or {})
        if index > 0:
            query.update(index=index, wait=f"{max(1, int(wait * 1000))}ms")
        response = self.request("get", *parts, params=query, timeout=wait + BLOCKING_GRACE)
        with self.mapped():
            data = response.json()
        raw_index = response.headers.get("X-Nomad-Index", "")
        return data, int(raw_index) if raw_index.isdigit() else index
