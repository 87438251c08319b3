"""Prometheus metrics: HTTP requests, GraphQL operations, errors by code, subscriptions.

Each app owns a `CollectorRegistry` (never the process-global one), so that
several apps in one process, as in the tests, keep separate counts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger("graphql_app.metrics")

# Operation names come from clients: only this many distinct ones get their
# own label value, so that random names cannot grow memory without bound.
MAX_OPERATION_NAMES = 200
OTHER_OPERATION = "other"
ANONYMOUS_OPERATION = "anonymous"
MAX_NAME_LENGTH = 100

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The server's instruments, in a registry of their own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests served, by method, route and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time to serve an HTTP request, by route.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.operations = Counter(
            "graphql_operations",
            "GraphQL operations executed (each operation of a batch counts), by name and type.",
            ("operation_name", "operation_type"),
            registry=self.registry,
        )
        self.operation_duration = Histogram(
            "graphql_operation_duration_seconds",
            "Time to parse, validate and execute a GraphQL operation, by name.",
            ("operation_name", "operation_type"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "graphql_errors",
            "Errors returned in GraphQL responses, by extensions.code and operation name.",
            ("code", "operation_name"),
            registry=self.registry,
        )
        self.active_subscriptions = Gauge(
            "graphql_active_subscriptions",
            "Subscriptions currently streaming.",
            registry=self.registry,
        )
        self._names: set[str] = set()
        self._lock = threading.Lock()
        self._operation_cache: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._request_cache: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def operation_label(self, name: str | None) -> str:
        """A bounded label value for a client-chosen operation name."""
        if not name:
            return ANONYMOUS_OPERATION
        name = name[:MAX_NAME_LENGTH]
        with self._lock:
            if name in self._names:
                return name
            if len(self._names) >= MAX_OPERATION_NAMES:
                return OTHER_OPERATION
            self._names.add(name)
            return name

    def observe_operation(
        self, name: str | None, operation_type: str, seconds: float | None, codes: list[str]
    ) -> None:
        """Count one operation, its duration (when it has one) and each error's code."""
        label = self.operation_label(name)
        count, duration = self._operation_children(label, operation_type)
        count.inc()
        if seconds is not None:
            duration.observe(seconds)
        for code in codes:
            self.errors.labels(code, label).inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request by its route (never the raw path: unbounded)."""
        count, duration = self._request_children(method, route, status)
        count.inc()
        duration.observe(seconds)

    # The labelled children, looked up once per set of labels: `labels()` validates
    # and locks on every call. Their label values are bounded (operation_label,
    # routes, the HTTP methods the server parses), so are these dicts.

    def _operation_children(self, label: str, operation_type: str) -> tuple[Any, Any]:
        key = (label, operation_type)
        children = self._operation_cache.get(key)
        if children is None:
            children = self._operation_cache[key] = (
                self.operations.labels(label, operation_type),
                self.operation_duration.labels(label, operation_type),
            )
        return children

    def _request_children(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        key = (method, route, status)
        children = self._request_cache.get(key)
        if children is None:
            children = self._request_cache[key] = (
                self.http_requests.labels(method, route, str(status)),
                self.http_duration.labels(route),
            )
        return children

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


@dataclass
class MetricsListener:
    """prometheus_client's own HTTP server for the registry, in a thread of its own."""

    server: WSGIServer
    thread: threading.Thread

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_listener(
    metrics: Metrics, address: tuple[str, int] | None
) -> MetricsListener | None:
    """Serve `metrics` on `address` (METRICS_HOST, METRICS_PORT), away from the API's port.

    A port that cannot be bound stops start-up (OSError), rather than running unobserved.
    """
    if address is None:
        return None
    host, port = address
    server, thread = start_http_server(port, host, registry=metrics.registry)
    log.info("serving /metrics on http://%s:%d/metrics", host, port)
    return MetricsListener(server, thread)
