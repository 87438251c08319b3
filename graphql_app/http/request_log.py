"""Request ids, one structured log line and the HTTP metrics of each request."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphql_app.metrics import Metrics
from graphql_app.request_id import set_request_id
from graphql_app.request_record import RequestRecord, open_record

log = logging.getLogger("graphql_app.access")

ROUTES = ("/graphql", "/healthz", "/readyz", "/metrics")
ASSET_PREFIX = "/graphiql/"
NO_OPERATION = "none"


def route_of(path: str) -> str:
    """A bounded label for a path: a route's own path, or "other"."""
    if path in ROUTES:
        return path
    if path.startswith(ASSET_PREFIX):
        return ASSET_PREFIX.rstrip("/")
    return "other"


def log_line(
    record: RequestRecord, method: str, path: str, status: int, seconds: float
) -> dict[str, Any]:
    """The fields logged for a request: ids, names, codes, status, time. Never values."""
    names = [op.name or "anonymous" for op in record.operations]
    return {
        "request_id": record.request_id,
        "method": method,
        "path": path[:200],
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "operation_name": ",".join(names) or None,
        "operations": [
            {"name": op.name, "type": op.type, "error_codes": op.error_codes}
            for op in record.operations
        ],
        "user_id": record.user_id,
        "error_codes": record.error_codes,
    }


class RequestLogMiddleware:
    """Echo or make `X-Request-ID`; log one JSON line per request; count it in metrics.

    Only ids, names, codes, status and duration are logged: never headers,
    variables or bodies, which carry passwords and tokens.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = set_request_id(incoming)
        record = open_record(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe_request(
                    scope["method"], route_of(scope["path"]), status, seconds
                )
                for code in record.error_codes:
                    self.metrics.errors.labels(code, NO_OPERATION).inc()
            if log.isEnabledFor(logging.INFO):
                line = log_line(record, scope["method"], scope["path"], status, seconds)
                log.info(json.dumps(line))
