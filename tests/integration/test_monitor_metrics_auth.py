"""The prober against servers whose ``/metrics`` needs a bearer token (loopback HTTP).

The servers here only compare the header with the token they accept: the real model
server checking a real OpenBao token is ``tests/e2e/test_monitor_metrics_token.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest

from mlctl.bundle.alerts import Rules
from mlctl.bundle.schema import METRICS_CLAIM
from mlctl.monitor.metrics_tokens import MIN_REFRESH_AGE, MetricsTokens
from mlctl.monitor.prober import Prober
from mlctl.monitor.rules import Context, probe_rules
from mlctl.monitor.store import Store
from mlctl.monitor.views import EndpointView
from tests.integration.monitor_servers import serve_gets
from tests.unit.monitor_objects import T0, alloc, job, unsigned_jwt

KEY = ("default", "mlctl-iris")
METRICS = b"# a scrape with no samples is still a scrape\n"


class GuardedServer:
    """``/readyz`` open; ``/metrics`` 200 only with ``Bearer <accepted>`` (401 without a
    header, 403 with another); records the Authorization header of every request."""

    def __init__(self, accepted: str | None) -> None:
        self.accepted = accepted
        self.seen: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()
        self.httpd = serve_gets(self.answer)
        self.port = self.httpd.server_address[1]

    def answer(self, path: str, headers: Message) -> tuple[int, bytes]:
        header = headers.get("Authorization")
        with self.lock:
            self.seen.append((path, header))
        if path == "/readyz":
            return 200, b"ok"
        if path != "/metrics":
            return 404, b""
        if self.accepted is None or header == f"Bearer {self.accepted}":
            return 200, METRICS
        return (401, b"") if header is None else (403, b"")

    def headers_on(self, path: str) -> list[str | None]:
        with self.lock:
            return [h for p, h in self.seen if p == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[list[GuardedServer]]:
    made: list[GuardedServer] = []
    yield made
    for server in made:
        server.close()


def store_for(servers: list[GuardedServer]) -> Store:
    store = Store()
    store.apply("jobs", job(count=len(servers)))
    for n in range(len(servers)):
        store.apply("allocs", alloc(f"a{n}", index=20 + n))
    store.set_endpoints(
        KEY, [EndpointView("iris", f"a{n}", "127.0.0.1", s.port) for n, s in enumerate(servers)]
    )
    return store


def token(name: str, scope: tuple[str, ...] = ("*",)) -> str:
    """A token named ``name`` that may read the metrics of ``scope``'s servers."""
    return unsigned_jwt({"sub": name, METRICS_CLAIM: list(scope)})


def probe(prober: Prober, store: Store) -> Any:
    prober.probe_all(store.snapshot())
    return store.snapshot().models[KEY]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_token_goes_to_metrics_only_and_brings_the_figures(servers):
    monitor_token = token("monitor")
    servers.append(GuardedServer(monitor_token))
    store = store_for(servers)
    tokens = MetricsTokens(lambda _fresh: monitor_token)
    prober = Prober(store, lambda: T0, timeout=10, metrics_tokens=tokens)
    model = probe(prober, store)
    model = probe(prober, store)  # rates need two scrapes
    assert model.probe.metrics_denied == 0 and not model.probe.metrics_no_access
    assert model.probe.req_rate == 0.0  # a figure, not blank
    assert servers[0].headers_on("/metrics") == [f"Bearer {monitor_token}"] * 2
    assert servers[0].headers_on("/readyz") == [None, None]  # readiness never carries it


def test_without_a_token_the_figures_say_no_access_and_the_endpoint_is_fine(servers):
    servers.append(GuardedServer(token("monitor")))
    store = store_for(servers)
    prober = Prober(store, lambda: T0, timeout=10)
    model = probe(prober, store)
    snapshot = store.snapshot()
    probe_result = model.probe
    assert (probe_result.endpoints, probe_result.reachable, probe_result.ready) == (1, 1, 1)
    assert probe_result.metrics_denied == 1 and probe_result.metrics_no_access
    assert probe_result.error == ""
    context = Context(snapshot, T0, lambda _m: Rules())
    assert probe_rules(model, Rules(), context) == []  # not "unreachable"


def test_a_refused_token_is_refreshed_once_for_every_endpoint_of_the_round(servers):
    fresh_token, stale_token = token("fresh"), token("stale")
    servers.extend(GuardedServer(fresh_token) for _ in range(6))
    store = store_for(servers)
    clock = Clock()
    asked: list[bool] = []

    def obtain(fresh: bool) -> str:
        asked.append(fresh)
        return fresh_token if fresh else stale_token

    tokens = MetricsTokens(obtain, clock=clock)
    prober = Prober(store, lambda: T0, timeout=10, workers=3, metrics_tokens=tokens)
    first = probe(prober, store).probe
    assert first.metrics_denied == 6  # a token just obtained is not replaced at once
    clock.now += MIN_REFRESH_AGE
    second = probe(prober, store).probe
    assert second.metrics_denied == 0, second
    assert asked == [False, True]  # one refresh for six refusing endpoints
    for server in servers:  # each retried once, with the new token
        retried = [f"Bearer {stale_token}", f"Bearer {fresh_token}"]
        assert server.headers_on("/metrics")[-2:] == retried


def test_servers_refusing_every_token_cost_one_refresh_a_round_at_most(servers):
    servers.extend(GuardedServer(token("nobody-has-this")) for _ in range(5))
    store = store_for(servers)
    clock = Clock()
    asked: list[bool] = []

    def obtain(fresh: bool) -> str:
        asked.append(fresh)
        return token(f"token-{len(asked)}")

    tokens = MetricsTokens(obtain, clock=clock)
    prober = Prober(store, lambda: T0, timeout=10, metrics_tokens=tokens)
    for _ in range(4):
        assert probe(prober, store).probe.metrics_denied == 5
        clock.now += MIN_REFRESH_AGE
    assert len(asked) <= 4
    assert all(len(s.headers_on("/metrics")) <= 4 * 2 for s in servers)  # one retry each


@pytest.mark.parametrize(
    ("scope", "sent"),
    [(("default",), True), (("*",), True), (("team-a",), False), ((), False)],
)
def test_a_token_goes_only_to_servers_of_namespaces_it_may_read(servers, scope, sent):
    # A person's token (the TUI) may also call models: a server of a namespace it may
    # not read would refuse it anyway, and must not get the chance to replay it.
    personal = token("alice", scope)
    servers.append(GuardedServer(personal))
    store = store_for(servers)  # the model runs in "default"
    tokens = MetricsTokens(lambda _fresh: personal)
    prober = Prober(store, lambda: T0, timeout=10, metrics_tokens=tokens)
    model = probe(prober, store)
    expected = [f"Bearer {personal}"] if sent else [None]
    assert servers[0].headers_on("/metrics") == expected
    assert model.probe.metrics_denied == (0 if sent else 1)


def test_a_token_that_is_not_a_jwt_is_never_sent(servers):
    servers.append(GuardedServer("opaque-secret"))
    store = store_for(servers)
    prober = Prober(
        store, lambda: T0, timeout=10, metrics_tokens=MetricsTokens(lambda _f: "opaque-secret")
    )
    probe(prober, store)
    assert servers[0].headers_on("/metrics") == [None]
