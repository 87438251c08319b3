"""GraphQL-over-WebSocket clients written from the protocols' specs, on `websockets`.

- graphql-transport-ws: https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md
- graphql-ws, the legacy protocol of subscriptions-transport-ws:
  https://github.com/apollographql/subscriptions-transport-ws/blob/master/PROTOCOL.md

Both clients offer the same calls, so that one test runs over either
protocol: `subscribe`, `stop`, `operation_message` (the next message about an
operation, in the terms both protocols share), `keep_alive`, `closed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
PROTOCOLS = (TRANSPORT_WS, LEGACY_WS)


@dataclass(frozen=True)
class OperationMessage:
    """What the server said about one operation.

    `next` carries an execution result (graphql-transport-ws `next`, graphql-ws
    `data`); `error` a refusal before execution (its payload as sent: a list
    of errors, or one error for graphql-ws); `complete` the end.
    """

    kind: Literal["next", "error", "complete"]
    id: str
    payload: Any = None


class WSClient:
    """What both protocol clients share: a socket that speaks JSON messages."""

    subprotocol: ClassVar[str]
    keep_alive_type: ClassVar[str]

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._next_id = 0

    @classmethod
    async def connect(cls, url: str, payload: dict[str, Any] | None) -> WSClient:
        """Open the socket and send connection_init; the caller reads the answer."""
        connection = await websockets.connect(url, subprotocols=[cls.subprotocol])  # type: ignore[list-item]
        client = cls(connection)
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await client.send(message)
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive_raw(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next message, keep-alives included."""
        raw = await asyncio.wait_for(self.connection.recv(), timeout)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next message that is not a keep-alive."""
        while True:
            message = await self.receive_raw(timeout)
            if not await self._is_keep_alive(message):
                return message

    async def _is_keep_alive(self, message: dict[str, Any]) -> bool:
        return bool(message["type"] == self.keep_alive_type)

    async def keep_alive(self, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for the server's next keep-alive, skipping nothing else."""
        message = await self.receive_raw(timeout)
        assert message["type"] == self.keep_alive_type, message
        await self._is_keep_alive(message)  # answers it where the protocol says so
        return message

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    async def acknowledged(self) -> None:
        """Wait for connection_ack."""
        ack = await self.receive()
        assert ack["type"] == "connection_ack", ack

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        raise NotImplementedError

    async def stop(self, op_id: str) -> None:
        raise NotImplementedError

    async def operation_message(self, timeout: float = 5.0) -> OperationMessage:
        raise NotImplementedError

    async def closed(self, timeout: float = 10.0) -> tuple[int, str]:
        """Read until the server closes the socket; its close code and reason."""
        try:
            while True:
                await self.receive_raw(timeout)
        except ConnectionClosed as closed:
            frame = closed.rcvd
        assert frame is not None, "the connection dropped without a close frame"
        return frame.code, frame.reason

    async def close(self) -> None:
        await self.connection.close()


class TransportWSClient(WSClient):
    """graphql-transport-ws: connection_init/ack, subscribe, next/error/complete, ping/pong."""

    subprotocol = TRANSPORT_WS
    keep_alive_type = "ping"

    async def _is_keep_alive(self, message: dict[str, Any]) -> bool:
        if message["type"] == "ping":
            await self.send({"type": "pong"})  # the protocol requires the answer
            return True
        return bool(message["type"] == "pong")

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = self.new_id()
        await self.send(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        return op_id

    async def stop(self, op_id: str) -> None:
        await self.send({"id": op_id, "type": "complete"})

    async def operation_message(self, timeout: float = 5.0) -> OperationMessage:
        message = await self.receive(timeout)
        assert message["type"] in ("next", "error", "complete"), message
        return OperationMessage(message["type"], message["id"], message.get("payload"))


class LegacyWSClient(WSClient):
    """graphql-ws (subscriptions-transport-ws): start/data/error/complete/stop, ka."""

    subprotocol = LEGACY_WS
    keep_alive_type = "ka"

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = self.new_id()
        await self.send(
            {
                "id": op_id,
                "type": "start",
                "payload": {"query": query, "variables": variables or {}, "operationName": None},
            }
        )
        return op_id

    async def stop(self, op_id: str) -> None:
        await self.send({"id": op_id, "type": "stop"})

    async def operation_message(self, timeout: float = 5.0) -> OperationMessage:
        message = await self.receive(timeout)
        kinds: dict[str, Literal["next", "error", "complete"]] = {
            "data": "next",
            "error": "error",
            "complete": "complete",
        }
        assert message["type"] in kinds, message
        return OperationMessage(kinds[message["type"]], message["id"], message.get("payload"))

    async def close(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.send({"type": "connection_terminate"})
        await self.connection.close()


CLIENTS: dict[str, type[WSClient]] = {TRANSPORT_WS: TransportWSClient, LEGACY_WS: LegacyWSClient}


async def connect(
    url: str, payload: dict[str, Any] | None, protocol: str = TRANSPORT_WS
) -> WSClient:
    """A client of `protocol` that has sent connection_init with `payload`."""
    return await CLIENTS[protocol].connect(url, payload)


async def authenticated(url: str, token: str, protocol: str = TRANSPORT_WS) -> WSClient:
    """A connection authorised with `token`, acknowledged by the server."""
    client = await connect(url, {"Authorization": f"Bearer {token}"}, protocol)
    await client.acknowledged()
    return client


class Subscriber(Protocol):
    async def operation_message(self, timeout: float = 5.0) -> OperationMessage: ...


def event_of(message: OperationMessage) -> dict[str, Any]:
    """The todoEvents payload of a `next` message, after checking it carries no error."""
    assert message.kind == "next", message
    assert not message.payload.get("errors"), message.payload
    event: dict[str, Any] = message.payload["data"]["todoEvents"]
    return event


async def until_live(
    subscriber: Subscriber, make_probe: Callable[[], Awaitable[str]], attempts: int = 50
) -> None:
    """Return once the subscription delivers events, with no probe event left unread.

    A subscription goes live some time after it is sent. Make probe changes
    (each returns its todo id) until one arrives: from then on every later
    probe arrives too, in order, so reading up to the last one leaves the
    stream clean for the test's own events.
    """
    for _ in range(attempts):
        last = await make_probe()
        try:
            message = await subscriber.operation_message(timeout=0.2)
        except TimeoutError:
            continue
        while event_of(message)["todoId"] != last:
            message = await subscriber.operation_message()
        return
    raise AssertionError("the subscription never delivered an event")
