"""From two scrapes of a model server's ``/metrics`` to rates and quantiles (pure).

The model server (``mlctl serve``) exports ``mlctl_requests_total{route,method,status}``,
the ``mlctl_request_duration_seconds`` histogram and the ``mlctl_requests_in_flight``
gauge. Like Prometheus' ``rate()`` and ``histogram_quantile()``:

- rates come from counter increases between two scrapes; a counter that went down
  was reset (the process restarted), so the whole new value counts as the increase;
- p50/p99 come from the increase of each cumulative bucket between the scrapes,
  summed over every endpoint of the model, interpolated linearly inside the bucket
  (a quantile in the ``+Inf`` bucket is the highest finite bound).

Health and metrics routes are not traffic: the monitor's own probes must not look
like load.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

REQUESTS = "mlctl_requests"
LATENCY = "mlctl_request_duration_seconds"
IN_FLIGHT = "mlctl_requests_in_flight"
NOT_TRAFFIC = frozenset(
    {
        "/metrics",
        "/readyz",
        "/healthz",
        "/healthCheck",
        "/v2/health/live",
        "/v2/health/ready",
    }
)


@dataclass(frozen=True)
class Scrape:
    """The numbers of one ``/metrics`` answer that matter to the monitor."""

    total: float
    errors: float
    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), sorted
    in_flight: float


def parse(text: str) -> Scrape:
    """Read a Prometheus text exposition; unknown metrics are ignored."""
    total = errors = in_flight = 0.0
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == REQUESTS:
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue
                if sample.labels.get("route") in NOT_TRAFFIC:
                    continue
                total += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
        elif family.name == LATENCY:
            for sample in family.samples:
                if not sample.name.endswith("_bucket"):
                    continue
                if sample.labels.get("route") in NOT_TRAFFIC:
                    continue
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
        elif family.name == IN_FLIGHT:
            in_flight += sum(s.value for s in family.samples)
    return Scrape(total, errors, tuple(sorted(buckets.items())), in_flight)


def _increase(before: float, after: float) -> float:
    return after if after < before else after - before


def bucket_increase(before: Scrape | None, after: Scrape) -> dict[float, float]:
    old = dict(before.buckets) if before else {}
    reset = before is not None and after.total < before.total
    return {
        bound: (count if reset else _increase(old.get(bound, 0.0), count))
        for bound, count in after.buckets
    }


def quantile(q: float, increases: dict[float, float]) -> float | None:
    """``histogram_quantile(q, ...)`` over cumulative bucket increases; None if empty."""
    bounds = sorted(increases)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    count = increases[bounds[-1]]
    if count <= 0:
        return None
    rank = q * count
    lower, below = 0.0, 0.0
    for bound in bounds:
        cumulative = increases[bound]
        if cumulative >= rank:
            if math.isinf(bound):
                finite = [b for b in bounds if not math.isinf(b)]
                return finite[-1] if finite else None
            inside = cumulative - below
            if inside <= 0:
                return bound
            return lower + (bound - lower) * (rank - below) / inside
        lower, below = bound, cumulative
    return None


@dataclass(frozen=True)
class Rates:
    req_rate: float | None
    error_rate: float | None
    p50_ms: float | None
    p99_ms: float | None
    in_flight: float


def rates(pairs: Iterable[tuple[Scrape | None, Scrape]], seconds: float) -> Rates:
    """Traffic of a model over ``seconds``, from (previous, current) scrapes per endpoint."""
    total = errors = in_flight = 0.0
    merged: dict[float, float] = {}
    have_previous = False
    for before, after in pairs:
        in_flight += after.in_flight
        if before is None:
            continue
        have_previous = True
        reset = after.total < before.total
        total += after.total if reset else after.total - before.total
        errors += after.errors if reset else _increase(before.errors, after.errors)
        for bound, count in bucket_increase(before, after).items():
            merged[bound] = merged.get(bound, 0.0) + count
    if not have_previous or seconds <= 0:
        return Rates(None, None, None, None, in_flight)
    p50, p99 = quantile(0.5, merged), quantile(0.99, merged)
    return Rates(
        req_rate=total / seconds,
        error_rate=errors / total if total > 0 else None,
        p50_ms=p50 * 1000 if p50 is not None else None,
        p99_ms=p99 * 1000 if p99 is not None else None,
        in_flight=in_flight,
    )
