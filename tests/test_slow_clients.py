"""Hostile connections against a real uvicorn process: huge headers, slow and idle
clients, too many connections (graphql_app/http/server_protocol.py).

Waits are bounded and nothing asserts a duration: a slow connection is shown
closed by the server (EOF), however long the machine took to get there.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tests.support.environment import sqlite_env
from tests.support.graphql_client import PASSWORD
from tests.support.live_server import LiveServer, live_server
from tests.support.ws_client import authenticated

pytestmark = pytest.mark.slow

HEAD = b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
QUERY = b'{"query": "{ __typename }"}'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("slow")
    env = sqlite_env(
        workdir, "slow", ENVIRONMENT="production", HEADER_TIMEOUT="1", BODY_IDLE_TIMEOUT="1"
    )
    with live_server(workdir, env) as running:
        yield running


def connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=15)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by the timeout)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def read_response(sock: socket.socket) -> bytes:
    """One response: its head, then as many body bytes as its Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, data
        body += chunk
    return head + b"\r\n\r\n" + body


def answered(server: LiveServer) -> None:
    """A normal request gets its answer."""
    response = httpx.post(f"{server.url}/graphql", json={"query": "{ __typename }"}, timeout=15)
    assert response.json() == {"data": {"__typename": "Query"}}


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_headers_within_the_limit_are_served(server: LiveServer) -> None:
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": "{ __typename }"},
        headers={"x-padding": "p" * 15_000},
    )
    assert response.json() == {"data": {"__typename": "Query"}}


def test_complete_headers_over_the_limit_are_431(server: LiveServer) -> None:
    # Sent in one piece: the parser sees the whole head, the exact count refuses it.
    with connect(server) as sock:
        sock.sendall(HEAD + b"Authorization: Bearer " + b"a" * 17_000 + b"\r\n\r\n")
        response = read_all(sock)
    assert response.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"connection: close" in response
    assert response.endswith(
        b'{"errors":[{"message":"The request headers are larger than the limit of 16384 bytes",'
        b'"extensions":{"code":"BAD_REQUEST"}}]}'
    )
    answered(server)


def test_headers_that_never_end_are_refused_before_they_end(server: LiveServer) -> None:
    # 40 KB of one header and no end in sight: the answer comes without the rest.
    with connect(server) as sock:
        sock.sendall(HEAD + b"Cookie: " + b"c" * 40_000)
        response = read_all(sock)
    assert response.startswith(b"HTTP/1.1 431 ")
    answered(server)


def test_forty_concurrent_16_mb_headers_leave_memory_flat(server: LiveServer) -> None:
    answered(server)
    before = rss_bytes(server.process.pid)
    sent: list[int] = []

    def attack() -> None:
        piece = b"a" * 1_048_576
        total = 0
        try:
            with connect(server) as sock:
                sock.sendall(HEAD + b"Authorization: Bearer ")
                for _ in range(16):
                    sock.sendall(piece)
                    total += len(piece)
        except OSError:
            pass  # refused mid-way: the point
        sent.append(total)

    threads = [threading.Thread(target=attack) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    answered(server)
    grown = rss_bytes(server.process.pid) - before
    assert len(sent) == 40
    assert all(total < 16 * 1_048_576 for total in sent), "no connection took all 16 MB"
    assert grown < 20 * 1_048_576, f"RSS grew by {grown / 1_048_576:.1f} MB"


def test_slow_headers_are_cut_off_while_others_are_served(server: LiveServer) -> None:
    # A slowloris: 50 connections each sending one header line at a time.
    sockets = [connect(server) for _ in range(50)]
    for sock in sockets:
        sock.sendall(b"GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: x\r\n")
    closed: set[int] = set()
    deadline = time.monotonic() + 20
    answers: list[bytes] = []
    while len(closed) < len(sockets) and time.monotonic() < deadline:
        answered(server)
        for index, sock in enumerate(sockets):
            if index in closed:
                continue
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed.add(index)
                answers.append(read_all(sock))
        time.sleep(0.2)
    for sock in sockets:
        sock.close()
    assert len(closed) == len(sockets)
    assert any(a.startswith(b"HTTP/1.1 408 Request Timeout\r\n") for a in answers)


def test_a_connection_that_says_nothing_is_closed(server: LiveServer) -> None:
    with connect(server) as sock:
        assert read_all(sock) == b""  # closed by the server, without a word


def test_an_idle_body_is_cut_off(server: LiveServer) -> None:
    with connect(server) as sock:
        sock.sendall(HEAD + b"Content-Length: 100\r\n\r\n" + b'{"query": ')
        response = read_all(sock)
    assert response.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"The request body stopped arriving" in response
    answered(server)


def test_a_slow_but_steady_body_is_served(server: LiveServer) -> None:
    # Each byte arrives well within the idle limit, the whole body well after it.
    body = b'{"query": "{ __typename }"}'
    with connect(server) as sock:
        sock.sendall(HEAD + b"Content-Length: %d\r\n\r\n" % len(body))
        for start in range(0, len(body), 4):
            sock.sendall(body[start : start + 4])
            time.sleep(0.25)
        response = read_response(sock)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b'{"data":{"__typename":"Query"}}')


def test_keep_alive_serves_several_requests_on_one_connection(server: LiveServer) -> None:
    request = HEAD + b"Content-Length: %d\r\n\r\n" % len(QUERY) + QUERY
    with connect(server) as sock:
        for _ in range(3):
            sock.sendall(request)
            assert read_response(sock).endswith(b'{"data":{"__typename":"Query"}}')
            time.sleep(0.5)  # between requests only the keep-alive timeout (5 s) runs


async def test_a_websocket_outlives_the_header_and_body_timeouts(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        sign_up = await http.post(
            "/graphql",
            json={
                "query": "mutation($i: CreateUserInput!) { createUser(input: $i) { token } }",
                "variables": {
                    "i": {"email": "ws@example.com", "fullname": "W", "password": PASSWORD}
                },
            },
        )
    token = sign_up.json()["data"]["createUser"]["token"]
    client = await authenticated(server.ws_url, token)
    try:
        await asyncio.sleep(2.5)  # past both 1 s limits
        op_id = await client.subscribe("subscription { todoEvents { kind } }")
        async with httpx.AsyncClient(base_url=server.url) as http:
            await http.post(
                "/graphql",
                json={"query": 'mutation { createTodo(input: {name: "x"}) { id } }'},
                headers={"authorization": f"Bearer {token}"},
            )
        message = await client.operation_message()
        assert (message.kind, message.id) == ("next", op_id)
        assert message.payload == {"data": {"todoEvents": {"kind": "CREATED"}}}
    finally:
        await client.close()


def test_the_connection_cap_answers_503(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path, "cap", MAX_CONNECTIONS="5", HEADER_TIMEOUT="30")
    with live_server(tmp_path, env) as server:
        idle = [connect(server) for _ in range(5)]
        try:
            with connect(server) as sock:
                sock.sendall(HEAD + b"Content-Length: %d\r\n\r\n" % len(QUERY) + QUERY)
                response = read_all(sock)
            assert response.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert b"retry-after: 1\r\n" in response
            assert b'"code":"SERVICE_UNAVAILABLE"' in response
            # A WebSocket upgrade counts the same: refused before it is accepted.
            with connect(server) as sock:
                sock.sendall(
                    b"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
                )
                upgrade = read_all(sock)
            assert upgrade.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + 15
        while True:  # the idle ones are gone once the server has seen them close
            try:
                answered(server)
                break
            except (AssertionError, httpx.HTTPError, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def test_the_uvicorn_hooks_the_protocol_overrides_still_exist() -> None:
    # server_protocol.py overrides these and calls the others; uvicorn 0.54's shapes.
    expected = {
        "__init__": ["self", "config", "server_state", "app_state", "_loop"],
        "connection_made": ["self", "transport"],
        "connection_lost": ["self", "exc"],
        "data_received": ["self", "data"],
        "on_message_begin": ["self"],
        "on_headers_complete": ["self"],
        "on_message_complete": ["self"],
        "_unset_keepalive_if_required": ["self"],
        "_should_upgrade": ["self"],
        "_unsupported_upgrade_warning": ["self"],
        "handle_websocket_upgrade": ["self"],
        "send_400_response": ["self", "msg"],
    }
    for name, parameters in expected.items():
        method = getattr(HttpToolsProtocol, name)
        assert list(inspect.signature(method).parameters) == parameters, name
    source = inspect.getsource(HttpToolsProtocol)
    for attribute in ("self.parser", "self.url", "self.headers", "self.cycle", "self.flow"):
        assert attribute in source, attribute
    assert "self.connections" in source and "server_state.default_headers" in source
