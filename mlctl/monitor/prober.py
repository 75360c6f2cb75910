"""Probe every model endpoint: ``GET /readyz`` and ``GET /metrics``, in parallel.

A model server is someone else's process: each request has a timeout, a ``/metrics``
body is read up to ``max_body`` bytes only, and a failing endpoint is reported (it
feeds the "endpoint unreachable" rule), never raised. Results go to the Store as one
:class:`~mlctl.monitor.views.ProbeMetrics` per model; rates are computed between two
consecutive scrapes of the same endpoint (see :mod:`mlctl.monitor.probe_math`).

Each change of a model's reachable/ready counts is written to the event log as a
``probe`` record: the compact history the schedule compliance report reads.

A server may require a bearer token on ``/metrics`` (``serving.auth.metrics: token``).
When a :class:`~mlctl.monitor.metrics_tokens.MetricsTokens` is given, its token goes
with every ``/metrics`` request of a namespace its metrics claim names — never with
``/readyz``, which stays open, and never to a server that would refuse it. It also goes
to such servers that do not ask (knowing in advance which ask would cost one refused
request per server): the monitor's own token grants reading metrics and nothing else,
and a person's reaches only servers of namespaces that person may read. A
401/403 on ``/metrics`` says nothing about the server's health: the endpoint still
counts as reachable and ready, and the model's figures say "no access"
(``ProbeMetrics.metrics_denied``) instead of staying blank.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from mlctl.monitor import probe_math
from mlctl.monitor.clock import Clock
from mlctl.monitor.metrics_tokens import MetricsTokens
from mlctl.monitor.probe_math import Scrape
from mlctl.monitor.store import Snapshot, Store
from mlctl.monitor.views import EndpointView, ModelKey, ModelView, ProbeMetrics

MAX_BODY = 1024 * 1024
Log = Callable[..., Any]
#: What a server answers to a missing, invalid, or insufficient metrics token.
REFUSED = (401, 403)


@dataclass(frozen=True)
class EndpointResult:
    endpoint: EndpointView
    reachable: bool
    ready: bool
    scrape: Scrape | None
    error: str = ""
    metrics_denied: bool = False


class Prober:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        timeout: float = 3.0,
        workers: int = 8,
        log: Log = lambda *_a, **_k: None,
        session: requests.Session | None = None,
        metrics_tokens: MetricsTokens | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.timeout = timeout
        self.workers = workers
        self.log = log
        self._session = session or requests.Session()
        self.metrics_tokens = metrics_tokens
        self._previous: dict[tuple[str, str], tuple[float, Scrape]] = {}
        self._last_state: dict[ModelKey, tuple[int, int, int, int]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ one endpoint

    def _get(self, url: str, token: str | None = None) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        with self._session.get(url, timeout=self.timeout, stream=True, headers=headers) as answer:
            body = answer.raw.read(MAX_BODY + 1, decode_content=True)
            if len(body) > MAX_BODY:
                raise ValueError(f"{url} answered more than {MAX_BODY} bytes")
            return answer.status_code, body.decode("utf-8", "replace")

    def _scoped(self, token: str | None, namespace: str) -> str | None:
        tokens = self.metrics_tokens
        return tokens.for_namespace(token, namespace) if tokens is not None else None

    def _metrics(self, url: str, token: str | None, namespace: str) -> tuple[int, str]:
        """``GET /metrics`` with the token; once more with a newer one if refused."""
        sent = self._scoped(token, namespace)
        code, text = self._get(url, sent)
        if code in REFUSED and sent is not None and self.metrics_tokens is not None:
            retry = self._scoped(self.metrics_tokens.refused(sent), namespace)
            if retry is not None and retry != sent:
                code, text = self._get(url, retry)
        return code, text

    def probe_endpoint(
        self, endpoint: EndpointView, token: str | None = None, namespace: str = "default"
    ) -> EndpointResult:
        """Readiness, then ``/metrics`` — with ``token`` when it may read ``namespace``'s."""
        try:
            status, _ = self._get(f"{endpoint.url}/readyz")
        except (requests.RequestException, ValueError, OSError) as error:
            return EndpointResult(endpoint, False, False, None, _reason(error))
        ready = status == 200
        try:
            code, text = self._metrics(f"{endpoint.url}/metrics", token, namespace)
            scrape = probe_math.parse(text) if code == 200 else None
        except (requests.RequestException, ValueError, OSError) as error:
            return EndpointResult(endpoint, True, ready, None, _reason(error))
        return EndpointResult(endpoint, True, ready, scrape, metrics_denied=code in REFUSED)

    # ------------------------------------------------------------------ a whole pass

    def probe_all(self, snapshot: Snapshot) -> None:
        """Probe every endpoint of every model once and record the results."""
        models = [m for m in snapshot.models.values() if m.endpoints]
        jobs = [(m, e) for m in models for e in m.endpoints]
        results: dict[ModelKey, list[EndpointResult]] = {m.key: [] for m in models}
        if jobs:
            token = self.metrics_tokens.start_round() if self.metrics_tokens else None
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                answers = pool.map(lambda j: self.probe_endpoint(j[1], token, j[0].namespace), jobs)
                for (model, _), result in zip(jobs, answers, strict=True):
                    results[model.key].append(result)
        now = time.monotonic()
        for model in models:
            self.store.set_probe(model.key, self._summarise(model, results[model.key], now))
        for key in [k for k in snapshot.models if k not in results]:
            if snapshot.models[key].probe is not None:
                self.store.set_probe(key, None)  # no endpoints any more
        self._forget_gone(jobs)

    def _summarise(
        self, model: ModelView, results: list[EndpointResult], now: float
    ) -> ProbeMetrics:
        pairs = []
        seconds = 0.0
        for result in results:
            if result.scrape is None:
                continue
            key = (result.endpoint.alloc_id, result.endpoint.url)
            with self._lock:
                previous = self._previous.get(key)
                self._previous[key] = (now, result.scrape)
            if previous is not None:
                seconds = max(seconds, now - previous[0])
            pairs.append((previous[1] if previous else None, result.scrape))
        traffic = probe_math.rates(pairs, seconds)
        errors = sorted({r.error for r in results if r.error})
        metrics = ProbeMetrics(
            at=self.clock(),
            endpoints=len(results),
            reachable=sum(r.reachable for r in results),
            ready=sum(r.ready for r in results),
            req_rate=traffic.req_rate,
            error_rate=traffic.error_rate,
            p50_ms=traffic.p50_ms,
            p99_ms=traffic.p99_ms,
            in_flight=traffic.in_flight if pairs else None,
            error="; ".join(errors)[:300],
            metrics_denied=sum(r.metrics_denied for r in results),
        )
        self._record(model, metrics)
        return metrics

    def _record(self, model: ModelView, metrics: ProbeMetrics) -> None:
        state = (metrics.endpoints, metrics.reachable, metrics.ready, metrics.metrics_denied)
        if self._last_state.get(model.key) == state:
            return
        self._last_state[model.key] = state
        self.log(
            "probe",
            model=model.name,
            namespace=model.namespace,
            endpoints=metrics.endpoints,
            reachable=metrics.reachable,
            ready=metrics.ready,
            metrics_denied=metrics.metrics_denied,
        )

    def _forget_gone(self, jobs: list[tuple[ModelView, EndpointView]]) -> None:
        live = {(e.alloc_id, e.url) for _, e in jobs}
        with self._lock:
            for key in [k for k in self._previous if k not in live]:
                del self._previous[key]


def _reason(error: BaseException) -> str:
    if isinstance(error, requests.exceptions.ConnectTimeout | requests.exceptions.ReadTimeout):
        return "timed out"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "connection refused"
    return f"{type(error).__name__}"
