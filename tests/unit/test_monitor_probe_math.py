"""Rates and quantiles from two scrapes of the real model server's metrics."""

from __future__ import annotations

import pytest

from mlctl.monitor import probe_math
from mlctl.serve.metrics import ServerMetrics


def scrape(metrics: ServerMetrics) -> probe_math.Scrape:
    return probe_math.parse(metrics.exposition().decode())


def serve(metrics: ServerMetrics, n: int, seconds: float, status: int = 200) -> None:
    for _ in range(n):
        metrics.requests.labels("/predict", "POST", str(status)).inc()
        metrics.latency.labels("/predict").observe(seconds)


def test_request_rate_error_rate_quantiles_and_in_flight() -> None:
    metrics = ServerMetrics("iris")
    serve(metrics, 10, 0.001)
    before = scrape(metrics)
    serve(metrics, 90, 0.002)
    serve(metrics, 9, 0.2)
    serve(metrics, 1, 0.2, status=500)
    metrics.requests.labels("/metrics", "GET", "200").inc(1000)  # probes are not traffic
    metrics.in_flight.set(4)
    rates = probe_math.rates([(before, scrape(metrics))], seconds=10)
    assert rates.req_rate == pytest.approx(10.0)
    assert rates.error_rate == pytest.approx(0.01)
    assert rates.p50_ms is not None and 1.0 <= rates.p50_ms <= 2.5
    assert rates.p99_ms is not None and 100 <= rates.p99_ms <= 250
    assert rates.in_flight == 4


def test_endpoints_are_summed_before_the_quantile() -> None:
    fast, slow = ServerMetrics("iris"), ServerMetrics("iris")
    b_fast, b_slow = scrape(fast), scrape(slow)
    serve(fast, 99, 0.001)
    serve(slow, 1, 5.0)
    rates = probe_math.rates([(b_fast, scrape(fast)), (b_slow, scrape(slow))], seconds=1)
    assert rates.req_rate == pytest.approx(100)
    assert rates.p99_ms is not None and rates.p99_ms <= 1.0  # 99% of all requests were fast
    assert rates.p50_ms is not None and rates.p50_ms <= 1.0


def test_a_restarted_server_counts_from_zero() -> None:
    old = ServerMetrics("iris")
    serve(old, 500, 0.001)
    before = scrape(old)
    new = ServerMetrics("iris")  # the process restarted: counters went down
    serve(new, 20, 0.001)
    rates = probe_math.rates([(before, scrape(new))], seconds=2)
    assert rates.req_rate == pytest.approx(10)


def test_no_previous_scrape_gives_no_rates_but_in_flight() -> None:
    metrics = ServerMetrics("iris")
    metrics.in_flight.set(2)
    rates = probe_math.rates([(None, scrape(metrics))], seconds=0)
    assert (rates.req_rate, rates.p99_ms, rates.in_flight) == (None, None, 2)


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert probe_math.quantile(0.99, {0.1: 0.0, 1.0: 0.0, float("inf"): 5.0}) == 1.0
    assert probe_math.quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
