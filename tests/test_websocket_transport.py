"""What both WebSocket protocols share, on the wire, against a real uvicorn.

Frames are read raw with `websockets` (the Python library gql runs on): the
frame type, the handshake status, the close code and reason are what the
client libraries act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.environment import sqlite_env
from tests.support.graphql_client import GraphQLClient, sign_up
from tests.support.live_server import LiveServer, live_server
from tests.support.ws_client import PROTOCOLS

pytestmark = pytest.mark.slow

APP_ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("ws-wire")
    env = sqlite_env(workdir, "wire", CORS_ORIGINS=f"{APP_ORIGIN},https://admin.example.com")
    with live_server(workdir, env) as running:
        yield running


@pytest.fixture(scope="module")
def token(server: LiveServer) -> str:
    import asyncio

    async def make() -> str:
        async with httpx.AsyncClient(base_url=server.url) as http:
            return (await sign_up(GraphQLClient(http), "wire@example.com")).token

    return asyncio.run(make())


async def open_socket(
    server: LiveServer, protocol: str, origin: str | None = None
) -> ClientConnection:
    return await websockets.connect(
        server.ws_url,
        subprotocols=[protocol],  # type: ignore[list-item]
        origin=origin,  # type: ignore[arg-type]
    )


async def initialised(server: LiveServer, protocol: str, token: str) -> ClientConnection:
    ws = await open_socket(server, protocol)
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    return ws


async def next_of_type(ws: ClientConnection, kind: str) -> Any:
    """The next frame whose message type is `kind` (keep-alives skipped), raw."""
    async with asyncio.timeout(5):
        while True:
            frame = await ws.recv()
            if json.loads(frame)["type"] == kind:
                return frame


async def close_of(ws: ClientConnection) -> tuple[int | None, str | None]:
    """The server's close code and reason (messages before it skipped)."""
    async with asyncio.timeout(5):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    return (ws.close_code, ws.close_reason)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_every_message_is_a_text_frame(server: LiveServer, token: str, protocol: str) -> None:
    ws = await initialised(server, protocol, token)
    try:
        ack = await next_of_type(ws, "connection_ack")
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        await ws.send(
            json.dumps({"id": "1", "type": start, "payload": {"query": "{ __typename }"}})
        )
        result = await next_of_type(ws, "next" if start == "subscribe" else "data")
    finally:
        await ws.close()
    # websockets hands text frames over as str, binary frames as bytes.
    assert isinstance(ack, str)
    assert isinstance(result, str)
    assert json.loads(result)["payload"] == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "origin",
    [None, APP_ORIGIN, "https://admin.example.com", "same-origin"],
    ids=["no-origin", "listed", "listed-second", "same-origin"],
)
async def test_listed_same_and_absent_origins_connect(
    server: LiveServer, token: str, origin: str | None
) -> None:
    if origin == "same-origin":
        origin = server.url
    ws = await open_socket(server, "graphql-transport-ws", origin)
    try:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
    finally:
        await ws.close()


@pytest.mark.parametrize("origin", ["https://evil.example.com", "http://app.example.com", "null"])
async def test_other_origins_get_403(server: LiveServer, origin: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await open_socket(server, "graphql-transport-ws", origin)
    assert refused.value.response.status_code == 403


START = {"graphql-transport-ws": "subscribe", "graphql-ws": "start"}
RESULT = {"graphql-transport-ws": "next", "graphql-ws": "data"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "frame",
    [
        "[]",
        '"connection_init"',
        "42",
        "null",
        "not json",
        '{"type": 5}',
        '{"id": "1", "type": "START", "payload": []}',
        '{"id": 1, "type": "START", "payload": {"query": "{ __typename }"}}',
        '{"id": "1", "type": "START", "payload": {"query": 5}}',
        '{"id": "1", "type": "START", "payload": {"query": "{ me { id } }", "variables": []}}',
    ],
)
async def test_a_message_that_is_not_a_well_formed_object_closes_with_4400(
    server: LiveServer, token: str, protocol: str, frame: str
) -> None:
    ws = await initialised(server, protocol, token)
    await next_of_type(ws, "connection_ack")
    await ws.send(frame.replace("START", START[protocol]))
    code, reason = await close_of(ws)
    assert code == 4400
    assert reason
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_message_over_max_body_bytes_closes_with_1009(
    server: LiveServer, token: str, protocol: str
) -> None:
    ws = await initialised(server, protocol, token)
    await next_of_type(ws, "connection_ack")
    query = "{ __typename }" + " " * 100_001  # MAX_BODY_BYTES is 100000 by default
    await ws.send(json.dumps({"id": "1", "type": START[protocol], "payload": {"query": query}}))
    code, _ = await close_of(ws)
    assert code == 1009
    assert "Traceback" not in server.log()


async def test_the_app_bounds_messages_under_another_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Under plain uvicorn (its 16 MiB ws_max_size), the app still closes with 1009."""
    workdir = tmp_path_factory.mktemp("ws-plain-uvicorn")
    env = sqlite_env(workdir, "plain", MAX_BODY_BYTES="2000")
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "graphql_app.app:create_app_from_env"]
    with live_server(workdir, env, command=uvicorn) as plain:
        async with httpx.AsyncClient(base_url=plain.url) as http:
            token = (await sign_up(GraphQLClient(http), "plain@example.com")).token
        for protocol in PROTOCOLS:
            ws = await initialised(plain, protocol, token)
            await next_of_type(ws, "connection_ack")
            query = "{ __typename }" + " " * 2001
            await ws.send(
                json.dumps({"id": "1", "type": START[protocol], "payload": {"query": query}})
            )
            assert await close_of(ws) == (1009, "A message may be at most 2000 bytes")
            ws = await initialised(plain, protocol, token)
            await next_of_type(ws, "connection_ack")
            await ws.send(
                json.dumps(
                    {"id": "2", "type": START[protocol], "payload": {"query": "{ __typename }"}}
                )
            )
            assert json.loads(await next_of_type(ws, RESULT[protocol]))["id"] == "2"
            await ws.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ me { email } }", {"me": {"email": "wire@example.com"}}),
        (
            'mutation { createTodo(input: {name: "over the socket"}) { name } }',
            {"createTodo": {"name": "over the socket"}},
        ),
    ],
    ids=["query", "mutation"],
)
async def test_queries_and_mutations_run_over_both_protocols(
    server: LiveServer, token: str, protocol: str, query: str, expected: dict[str, Any]
) -> None:
    ws = await initialised(server, protocol, token)
    try:
        await next_of_type(ws, "connection_ack")
        await ws.send(
            json.dumps({"id": "op", "type": START[protocol], "payload": {"query": query}})
        )
        result = json.loads(await next_of_type(ws, RESULT[protocol]))
        complete = json.loads(await next_of_type(ws, "complete"))
    finally:
        await ws.close()
    assert result == {"id": "op", "type": RESULT[protocol], "payload": {"data": expected}}
    assert complete == {"id": "op", "type": "complete"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_refused_operation_carries_a_code(
    server: LiveServer, token: str, protocol: str
) -> None:
    ws = await initialised(server, protocol, token)
    try:
        await next_of_type(ws, "connection_ack")
        await ws.send(
            json.dumps({"id": "v", "type": START[protocol], "payload": {"query": "{ nope }"}})
        )
        refused = json.loads(await next_of_type(ws, "error"))
    finally:
        await ws.close()
    errors = refused["payload"] if isinstance(refused["payload"], list) else [refused["payload"]]
    assert [e["extensions"]["code"] for e in errors] == ["GRAPHQL_VALIDATION_FAILED"]
