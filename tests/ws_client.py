"""A graphql-transport-ws client written from the protocol's spec, on `websockets`.

https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

TRANSPORT_WS = "graphql-transport-ws"


class TransportWSClient:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._next_id = 0

    @classmethod
    async def connect(cls, url: str, payload: dict[str, Any] | None) -> TransportWSClient:
        """Open the socket and send connection_init; the caller reads the answer."""
        connection = await websockets.connect(url, subprotocols=[TRANSPORT_WS])  # type: ignore[list-item]
        client = cls(connection)
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await client.send(message)
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next message that is not a ping (pings are answered)."""
        while True:
            raw = await asyncio.wait_for(self.connection.recv(), timeout)
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._next_id += 1
        op_id = str(self._next_id)
        await self.send(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        return op_id

    async def close(self) -> None:
        await self.connection.close()


async def authenticated(url: str, token: str) -> TransportWSClient:
    client = await TransportWSClient.connect(url, {"Authorization": f"Bearer {token}"})
    ack = await client.receive()
    assert ack["type"] == "connection_ack", ack
    return client
