"""Prometheus metrics, one registry per app (so tests can build many apps)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from app.domain.webhooks import LATENCY_BUCKETS

if TYPE_CHECKING:
    from app.api.routing import Endpoint

_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class WebhookFigures(Collector):
    """The delivery engine's figures: counted by every delivery process into the store (so any
    worker shows the totals of them all) and read from it before each scrape."""

    def __init__(self) -> None:
        self.counters: dict[str, float] | None = None  # None: the store did not answer
        self.lag_s = 0.0

    def collect(self) -> Iterator[Metric]:
        c = self.counters
        if c is None:
            return
        attempts = CounterMetricFamily(
            "vouchers_webhook_attempts",
            "Webhook delivery attempts by outcome: delivered, retry (to be tried again), failed",
            labels=["outcome"],
        )
        for outcome in ("delivered", "retry", "failed"):
            attempts.add_metric([outcome], c.get(outcome, 0))
        yield attempts
        buckets, total = [], 0.0
        for le in (*LATENCY_BUCKETS, "+Inf"):
            total += c.get(f"latency:{le}", 0)
            buckets.append((str(le), total))
        yield HistogramMetricFamily(
            "vouchers_webhook_attempt_duration_seconds",
            "Time from sending a webhook request to its answer (or error)",
            buckets=buckets,
            sum_value=c.get("latency_sum", 0),
        )
        yield GaugeMetricFamily(
            "vouchers_webhook_lag_seconds",
            "Now minus the time of the oldest event not yet delivered to an enabled endpoint",
            value=self.lag_s,
        )


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vouchers_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "vouchers_http_request_duration_seconds",
            "Time spent handling a request",
            ["route", "method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.webhooks = WebhookFigures()
        self.registry.register(self.webhooks)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, endpoint: Endpoint, status: int, seconds: float) -> None:
        # Each labelled child looked up once: labels() costs several microseconds a call.
        key = (endpoint.path, endpoint.method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(endpoint.path, endpoint.method, str(status)),
                self.latency.labels(endpoint.path, endpoint.method),
            )
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
