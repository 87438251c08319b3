"""graphql-transport-ws as Strawberry serves it, plus keep-alive pings and token expiry.

Strawberry's graphql-transport-ws handler answers pings but never sends one;
proxies close idle sockets, so this one pings every WS_KEEP_ALIVE_INTERVAL
(the protocol lets either side ping; clients answer with pong). The legacy
graphql-ws handler already sends `ka` at that interval.

A connection is authorised once, by the token in `connection_init`; a refused
one closes with 4403 and its `extensions.reason` (TOKEN_MISSING, ...) as the
close reason. When that token expires the connection closes with 4403, the
close code graphql-ws clients answer by reconnecting: with `connectionParams`
as a function they send a fresh token and resubscribe by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import cast

from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)

from graphql_app.errors import AuthReason, Unauthenticated
from graphql_app.http.websocket_messages import BAD_REQUEST_CLOSE, limit_reached, message_problem
from graphql_app.schema.context import Context

log = logging.getLogger("graphql_app.websocket")

FORBIDDEN_CLOSE = 4403
EXPIRY_CLOSE_REASON = AuthReason.TOKEN_EXPIRED.value
# Sending on a socket that closed meanwhile: Strawberry's or Starlette's complaint.
_CLOSED = (WebSocketDisconnected, RuntimeError)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler with server pings and token expiry."""

    _watchers: tuple[asyncio.Task[None], ...] = ()

    async def handle_message(self, message: Message) -> None:
        # Strawberry catches a missing key but not a wrong type (a traceback, no close).
        problem = message_problem(cast("dict[str, object]", message), "subscribe")
        if problem is not None:
            await self.websocket.close(BAD_REQUEST_CLOSE, problem)
            return
        await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        # Checked before Strawberry's own check, whose error carries no code.
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [limit_reached(limit)]}
            )
            return
        self.context.read_afresh()
        await super().handle_subscribe(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload", {})
        if isinstance(payload, dict) and not self.connection_init_received:
            # Strawberry refuses with 4403 "Forbidden"; the same code with the reason
            # lets a client tell an expired token (refresh) from a bad one (log in).
            self.context.connection_params = payload
            refusal = await self.context.authenticate_connection()
            if refusal is not None:
                self.connection_init_received = True
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                reason = refusal.reason if isinstance(refusal, Unauthenticated) else refusal.code
                await self.websocket.close(FORBIDDEN_CLOSE, reason)
                return
        await super().handle_connection_init(message)
        if self.connection_acknowledged and not self._watchers:
            self.context.expiry_closes_connection = True
            watchers = [asyncio.create_task(self._close_at_expiry())]
            if self.view.keep_alive and self.view.keep_alive_interval:
                watchers.append(asyncio.create_task(self._ping(self.view.keep_alive_interval)))
            self._watchers = tuple(watchers)

    async def shutdown(self) -> None:
        for task in self._watchers:
            task.cancel()
        if self._watchers:
            await asyncio.wait(self._watchers)
        await super().shutdown()

    async def _ping(self, interval: float) -> None:
        with contextlib.suppress(*_CLOSED):
            while True:
                await asyncio.sleep(interval)
                await self.send_message({"type": "ping"})

    async def _close_at_expiry(self) -> None:
        # Sleeps until the deadline by the app's clock (injectable), which no Event signals.
        while (left := self.context.seconds_left()) is not None and left > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)
        if self.context.token_expires_at is None:
            return
        with contextlib.suppress(*_CLOSED):
            await self.websocket.close(FORBIDDEN_CLOSE, EXPIRY_CLOSE_REASON)
