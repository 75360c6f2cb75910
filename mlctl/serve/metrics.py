"""Prometheus metrics of one server process, on a registry of its own.

A private registry (not prometheus_client's global one) keeps two apps in one process
(tests) from colliding and exports only what describes the model server.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from mlctl.serve.batching import BatchStats

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Latency buckets from 0.25 ms to 10 s: single-row predictions are sub-millisecond.
_LATENCY_BUCKETS = (
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class ServerMetrics:
    """The metrics the README lists under ``GET /metrics``."""

    def __init__(self, model_name: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = {"model": model_name}
        self.requests = Counter(
            "mlctl_requests",
            "HTTP requests answered, by route template and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlctl_request_duration_seconds",
            "Time from request start to the last response byte, by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "mlctl_requests_in_flight", "Requests being handled now.", registry=self.registry
        )
        self.queue_time = Histogram(
            "mlctl_queue_seconds",
            "Time a request waited in the micro-batch queue before its batch started.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        ).labels(**labels)
        self.compute_time = Histogram(
            "mlctl_compute_seconds",
            "Time one batch spent in predict and postprocess.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        ).labels(**labels)
        self.batch_rows = Histogram(
            "mlctl_batch_rows",
            "Rows per predict call after micro-batching (at most max_batch_rows, or one request).",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        ).labels(**labels)
        self.batch_requests = Histogram(
            "mlctl_batch_requests",
            "Requests joined into one model call.",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        ).labels(**labels)
        self.connections_refused = Counter(
            "mlctl_connections_refused",
            "Connections ended by the server's limits, by reason: headers (431), "
            "header_timeout/body_timeout (408), connections (503: all busy), evicted (idle).",
            ["reason"],
            registry=self.registry,
        )
        self.load_seconds = Gauge(
            "mlctl_model_load_seconds",
            "How long loading the model took (0 until it has loaded).",
            ["model"],
            registry=self.registry,
        ).labels(**labels)
        self.ready = Gauge(
            "mlctl_model_ready",
            "1 when the model is loaded and serving, else 0.",
            ["model"],
            registry=self.registry,
        ).labels(**labels)

    def observe_batch(self, stats: BatchStats) -> None:
        """The batcher's hook: one call per model call."""
        for waited in stats.queue_seconds:
            self.queue_time.observe(waited)
        self.compute_time.observe(stats.compute_seconds)
        self.batch_requests.observe(stats.requests)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
