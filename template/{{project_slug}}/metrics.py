"""Request metrics in the Prometheus format at /metrics, when `METRICS_ENABLED` is set.

Counted per method, route template (`/books/{book_id}`, so that ids make no new series) and
status. With several workers, each counts its own requests: set `PROMETHEUS_MULTIPROC_DIR` to an
empty folder the workers share, and /metrics adds theirs up (prometheus_client's multiprocess
mode).
"""

import os
import time
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    def exposition(self) -> bytes:
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            registry = CollectorRegistry()
            collect_every_process(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router has put the matched route on the scope by now.
            route = getattr(scope.get("route"), "path", "unmatched")
            labels = (scope["method"], route, str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.duration.labels(*labels).observe(time.perf_counter() - started)


def serve_metrics(app: FastAPI) -> None:
    """Count every request and answer /metrics."""
    metrics = RequestMetrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def exposition() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
