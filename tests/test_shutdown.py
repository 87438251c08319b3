"""Graceful shutdown of a real `python -m graphql_app serve` process on SIGTERM.

The slow request is a real one: a logIn whose password was hashed at bcrypt
cost 14 (about a second to check). `Expect: 100-continue` tells the test the
moment the server is working on the request: uvicorn answers `100 Continue`
when the app starts reading the body, and the test sends the body only after
the signal.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.environment import sqlite_env
from tests.support.graphql_client import PASSWORD, GraphQLClient, sign_up
from tests.support.live_server import LiveServer, live_server
from tests.support.sse import SSE, subscription
from tests.support.ws_client import authenticated

pytestmark = pytest.mark.slow

LOG_IN = "mutation L($i: LogInInput!) { logIn(input: $i) { token } }"
GRACE = 15


def server_env(workdir: Path, **extra: str) -> dict[str, str]:
    return sqlite_env(workdir, "shutdown", **{"SHUTDOWN_GRACE_SECONDS": str(GRACE), **extra})


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path, server_env(tmp_path, BCRYPT_ROUNDS="14")) as running:
        yield running


class HeldRequest:
    """A POST whose body waits for `send_body`: in flight from `100 Continue` on."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes):
        self.reader, self.writer, self.body = reader, writer, body

    @classmethod
    async def start(cls, port: int, payload: dict[str, Any]) -> HeldRequest:
        body = json.dumps(payload).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/json\r\nAccept: application/json\r\n"
                f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert interim.startswith(b"HTTP/1.1 100"), interim
        return cls(reader, writer, body)

    async def send_body(self) -> tuple[int, dict[str, Any]]:
        """Send the body; the final status and JSON answer."""
        self.writer.write(self.body)
        await self.writer.drain()
        raw = await asyncio.wait_for(self.reader.read(), 30)  # until the server closes
        self.writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, json.loads(body)


async def refuses_connections(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


async def test_sigterm_finishes_the_request_in_flight_and_exits_0(slow_server: LiveServer) -> None:
    server = slow_server
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        ada = await sign_up(GraphQLClient(http), "ada@example.com")
    ws = await authenticated(server.ws_url, ada.token)
    held = await HeldRequest.start(
        server.port,
        {"query": LOG_IN, "variables": {"i": {"email": ada.email, "password": PASSWORD}}},
    )

    server.process.send_signal(signal.SIGTERM)

    try:
        # The socket of a subscriber closes with 1012, service restart: clients reconnect.
        code, _ = await ws.closed()
        assert code == 1012
    finally:
        await ws.close()
    # No new connection is accepted...
    async with asyncio.timeout(10):
        while not await refuses_connections(server.port):  # noqa: ASYNC110 - no event to await
            await asyncio.sleep(0.05)
    # ...but the request in flight is answered in full.
    status, answer = await held.send_body()
    assert status == 200
    assert answer["data"]["logIn"]["token"]
    assert await asyncio.to_thread(server.process.wait, GRACE + 10) == 0


async def test_sigterm_stops_within_the_grace_period_despite_endless_streams(
    tmp_path: Path,
) -> None:
    env = server_env(tmp_path, BCRYPT_ROUNDS="4", SHUTDOWN_GRACE_SECONDS="1")
    with live_server(tmp_path, env) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            ada = await sign_up(GraphQLClient(http), "ada@example.com")
            # A subscription over SSE is a request that never ends by itself.
            async with subscription(http, SSE, ada.token) as stream:
                server.process.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(server.process.wait, 15) == 0
                assert await stream.ended(timeout=5)
    assert "timeout graceful shutdown exceeded" in server.log()
