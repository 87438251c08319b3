"""The HTTP surface of a real uvicorn process: headers, request ids, body limits on the wire."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.support.environment import sqlite_env
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("http")
    env = sqlite_env(workdir, "http", ENVIRONMENT="production")
    with live_server(workdir, env) as running:
        yield running


def test_no_server_banner_and_a_request_id(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/graphql", json={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}
    assert "server" not in response.headers
    assert len(response.headers["x-request-id"]) == 32
    echoed = httpx.post(
        f"{server.url}/graphql",
        json={"query": "{ __typename }"},
        headers={"x-request-id": "from-the-proxy-1"},
    )
    assert echoed.headers["x-request-id"] == "from-the-proxy-1"


def test_production_serves_no_graphiql(server: LiveServer) -> None:
    page = httpx.get(f"{server.url}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "server" not in page.headers


def raw_exchange(server: LiveServer, request: bytes) -> bytes:
    """Send a request by hand (and nothing more); the server's whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def test_chunked_body_over_the_limit_is_refused_on_the_wire(server: LiveServer) -> None:
    # 110 kB of a chunked body that never ends: the server answers once it has
    # counted past the 100 kB limit instead of waiting for the rest.
    piece = b"x" * 10_000
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(11))
    )
    response = raw_exchange(server, request)
    assert response.startswith(b"HTTP/1.1 413 ")
    assert b'"code":"BAD_REQUEST"' in response


def test_declared_length_over_the_limit_is_refused_before_the_body(server: LiveServer) -> None:
    # Only the head is sent: the answer comes without a byte of the 5 MB body.
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n"
    )
    response = raw_exchange(server, request)
    assert response.startswith(b"HTTP/1.1 413 ")
    assert b"larger than the limit of 100000 bytes" in response
