"""graphql-sse's single connection mode: one event stream per client, operations beside it.

The protocol (graphql-sse PROTOCOL.md), on the same /graphql URL:

1. `PUT` reserves a stream: 201 with the reservation token as text/plain.
2. `GET` with `Accept: text/event-stream` and the token (header
   `X-GraphQL-Event-Stream-Token` or query parameter `token`) opens the
   stream; one stream per reservation (409 for a second).
3. `POST` with the token sends an operation, its id in
   `extensions.operationId`: 202, and its results arrive on the stream as
   `next` events `{"id", "payload"}`, then a `complete` event `{"id"}`.
   Request problems (bad JSON, CSRF, no operationId, a reused id, an unknown
   token) are 4xx as in GraphQL over HTTP; GraphQL errors (parse,
   validation, auth) arrive on the stream, as in distinct connections mode.
4. `DELETE ?operationId=` with the token stops an operation: 200.

Reservations live in the process that made them: behind a load balancer, a
client's requests must reach one instance (sticky sessions), or use distinct
connections mode, which needs nothing. A reservation whose stream is not
opened within RESERVATION_TTL seconds is dropped; at most MAX_PENDING wait at
once. Closing the stream stops its operations and ends the reservation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from starlette.responses import StreamingResponse

log = logging.getLogger("graphql_app.sse")

TOKEN_HEADER = "x-graphql-event-stream-token"  # noqa: S105 (a header name)
TOKEN_PARAM = "token"  # noqa: S105 (a parameter name)
RESERVATION_TTL = 30.0
MAX_PENDING = 10_000
# Events waiting for a slow reader; beyond this an operation waits (back-pressure).
QUEUE_SIZE = 256
HEARTBEAT = ":\n\n"


class Reservation:
    """One client's event stream and the operations that write to it."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.created = time.monotonic()
        self.connected = False
        self.events: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self.operations: dict[str, asyncio.Task[None]] = {}

    def start(self, operation_id: str, relay: Coroutine[Any, Any, None]) -> None:
        """Run an operation whose relay writes its events to this stream."""
        task = asyncio.create_task(relay)
        self.operations[operation_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self.operations.get(operation_id) is done:
                del self.operations[operation_id]

        task.add_done_callback(forget)

    async def stop(self, operation_id: str) -> None:
        task = self.operations.pop(operation_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        for operation_id in list(self.operations):
            await self.stop(operation_id)


class Reservations:
    """The reservations of this process, by token."""

    def __init__(self, ttl: float = RESERVATION_TTL, max_pending: int = MAX_PENDING) -> None:
        self.ttl = ttl
        self.max_pending = max_pending
        self._by_token: dict[str, Reservation] = {}

    def __len__(self) -> int:
        return len(self._by_token)

    def reserve(self) -> Reservation | None:
        """A new reservation; None while too many wait for their stream."""
        self._expire()
        pending = sum(1 for r in self._by_token.values() if not r.connected)
        if pending >= self.max_pending:
            return None
        reservation = Reservation(secrets.token_urlsafe(32))
        self._by_token[reservation.token] = reservation
        return reservation

    def get(self, token: str) -> Reservation | None:
        reservation = self._by_token.get(token)
        if reservation is not None and self._expired(reservation):
            self._drop(reservation)
            return None
        return reservation

    def _expired(self, reservation: Reservation) -> bool:
        return not reservation.connected and time.monotonic() - reservation.created > self.ttl

    def _expire(self) -> None:
        for reservation in [r for r in self._by_token.values() if self._expired(r)]:
            self._drop(reservation)

    def _drop(self, reservation: Reservation) -> None:
        if self._by_token.get(reservation.token) is reservation:
            del self._by_token[reservation.token]
        for task in reservation.operations.values():
            task.cancel()

    def event_stream(self, reservation: Reservation, headers: dict[str, str]) -> StreamingResponse:
        """The reservation's stream; closing it stops its operations."""
        reservation.connected = True

        async def events() -> AsyncIterator[str]:
            try:
                yield HEARTBEAT  # flushes the headers: the client knows it is connected
                while True:
                    try:
                        async with asyncio.timeout(15):
                            event = await reservation.events.get()
                    except TimeoutError:
                        event = HEARTBEAT  # keeps proxies from closing an idle stream
                    yield event
            finally:
                self._drop(reservation)
                await reservation.close()

        return StreamingResponse(events(), headers=headers)
