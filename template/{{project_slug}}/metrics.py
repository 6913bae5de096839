"""Request metrics in the Prometheus format at /metrics, when `METRICS_ENABLED` is set.

Counted per method, route template (`/books/{book_id}`, so that ids make no new series) and
status. With several workers, each counts its own requests: set `PROMETHEUS_MULTIPROC_DIR` to an
empty folder the workers share, and /metrics adds theirs up (prometheus_client's multiprocess
mode).
"""

import os
from collections.abc import Callable

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

LABELS = ("method", "route", "status")
# prometheus_client's multiprocess module has no annotations: this is the type of its collector.
collect_every_process: Callable[[CollectorRegistry], object] = multiprocess.MultiProcessCollector


class RequestMetrics:
    """The app's own registry of request counts and durations."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests", "Requests answered", LABELS, registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds", "Time to answer", LABELS, registry=self.registry
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.duration.labels(*labels).observe(seconds)

    def exposition(self) -> bytes:
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            registry = CollectorRegistry()
            collect_every_process(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def serve_metrics(app: FastAPI) -> RequestMetrics:
    """Answer /metrics; the metrics returned count what the request log observes."""
    metrics = RequestMetrics()

    @app.get("/metrics", include_in_schema=False)
    async def exposition() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics
