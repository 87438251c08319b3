"""uvicorn's HTTP/1.1 protocol (httptools), held to the limits it lacks.

uvicorn buffers request headers without bound (an 8 MB `Authorization`
header was served; 40 concurrent 16 MB ones took the server from 155 to
922 MB), keeps a connection that never finishes its headers open forever,
and waits for an idle request body forever. This subclass, which
`python -m graphql_app serve` runs, adds per connection:

- `MAX_HEADER_BYTES`: the request line and headers are counted as they
  arrive, before the parser keeps them; past the limit the client gets 431
  and the connection closes (at most one socket read, 256 KiB, is held);
- `HEADER_TIMEOUT`: seconds from the connection (or a request's first byte)
  to the end of its headers; then 408 (nothing at all if nothing was sent)
  and the connection closes;
- `BODY_IDLE_TIMEOUT`: seconds a request body may go without a byte while
  the app waits for it; then 408 and the connection closes;
- `MAX_CONNECTIONS`: open connections (HTTP and WebSocket) per process; a
  request over the cap gets 503 with `Retry-After`, and the connection closes.

Refusals are GraphQL error bodies, as the app's own (`extensions.code`).
The hooks overridden here are uvicorn's (0.54); tests/test_slow_clients.py
checks they still exist with the signatures this relies on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from graphql_app.errors import AppError, BadRequest, ServiceUnavailable
from graphql_app.http.responses import error_body
from graphql_app.settings import load_settings

log = logging.getLogger("graphql_app.http")

# The request line's fixed parts and each header's ": " and CRLF, as on the wire.
_LINE_OVERHEAD = len(b"  HTTP/1.1\r\n")
_HEADER_OVERHEAD = len(b": \r\n")


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout: float
    body_idle_timeout: float
    max_connections: int


@functools.cache
def configured_limits() -> ConnectionLimits:
    """The limits the environment sets (read once per process, as the app's settings)."""
    settings = load_settings()
    return ConnectionLimits(
        max_header_bytes=settings.max_header_bytes,
        header_timeout=settings.header_timeout,
        body_idle_timeout=settings.body_idle_timeout,
        max_connections=settings.max_connections,
    )


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that was answered."""


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header, time and connection limits."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = configured_limits()
        self._head_bytes = 0  # received since the current head began
        self._reading_head = True
        self._reading_body = False
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # -- timers ----------------------------------------------------------------------

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _header_timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing() or not self._reading_head:
            return
        if self._head_bytes == 0:  # said nothing: close without a word, as when idle
            self.transport.close()
            return
        self._refuse(
            408, "Request Timeout", BadRequest("The request headers took too long to arrive")
        )

    def _body_timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing() or not self._reading_body:
            return
        timeout = self.limits.body_idle_timeout
        idle = self.loop.time() - self._last_read
        if self.flow.read_paused:  # the app has not read what came: not the client's wait
            self._arm(timeout, self._body_timed_out)
            return
        if idle < timeout:  # a byte came since the timer was set
            self._arm(timeout - idle, self._body_timed_out)
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The app sees a disconnect; its answer, if any, goes nowhere.
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()
                return
        self._refuse(408, "Request Timeout", BadRequest("The request body stopped arriving"))

    # -- refusals --------------------------------------------------------------------

    def _refuse(
        self,
        status: int,
        phrase: str,
        error: AppError,
        *,
        extra: tuple[bytes, ...] = (),
    ) -> None:
        """Answer with a GraphQL error body, then close the connection."""
        self._disarm()
        self._reading_head = self._reading_body = False
        body = error_body(error)
        defaults = self.server_state.default_headers
        head = [
            b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode()),
            *(name + b": " + value + b"\r\n" for name, value in defaults),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            *extra,
            b"\r\n",
        ]
        log.info("refused a connection from %s: %d %s", self.client, status, error.message)
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    def _refuse_headers(self) -> None:
        self._refuse(
            431,
            "Request Header Fields Too Large",
            BadRequest(
                "The request headers are larger than the limit of"
                f" {self.limits.max_header_bytes} bytes"
            ),
        )

    # -- the protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, self._header_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, with the header count before the parser keeps anything.
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        if self._reading_head:
            self._head_bytes += len(data)
        elif self._reading_body:
            self._last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Refused):
                return  # answered already
            self._bad_request()
            return
        except httptools.HttpParserError:
            self._bad_request()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self._disarm()
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._reading_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse_headers()

    def _bad_request(self) -> None:
        self._disarm()
        message = "Invalid HTTP request received."
        self.logger.warning(message)
        self.send_400_response(message)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        if self._timer is None:  # the first request's timer runs from the connection
            self._arm(self.limits.header_timeout, self._header_timed_out)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._reading_head = False
        size = len(self.parser.get_method()) + len(self.url)
        size += _LINE_OVERHEAD + sum(
            len(name) + len(value) + _HEADER_OVERHEAD for name, value in self.headers
        )
        if size > self.limits.max_header_bytes:
            self._refuse_headers()
            raise _Refused
        if len(self.connections) > self.limits.max_connections:
            self._refuse(
                503,
                "Service Unavailable",
                ServiceUnavailable("The server has too many open connections; try again shortly"),
                extra=(b"retry-after: 1\r\n",),
            )
            raise _Refused
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._reading_body = True
            self._last_read = self.loop.time()
            self._arm(self.limits.body_idle_timeout, self._body_timed_out)

    def on_message_complete(self) -> None:
        self._disarm()
        self._reading_body = False
        self._head_bytes = 0
        super().on_message_complete()
