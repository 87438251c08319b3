"""The npm `graphql-sse` client in both its modes, and single connection mode on the wire.

tests/js/graphql_sse_client.mjs signs up, logs in, queries, mutates, pages
and subscribes (on one server; changes through the other) in distinct
connections mode and in single connection mode, against one server and
against two instances sharing PostgreSQL and Redis. The rest reads single
connection mode's requests and events raw, with httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.js.node import run_node
from tests.support.graphql_client import GraphQLClient, sign_up
from tests.support.live_server import LiveServer
from tests.support.subscribing_clients import assert_the_flow

pytestmark = pytest.mark.slow

TOKEN = "x-graphql-event-stream-token"
EVENTS = "subscription { todoEvents { kind todoId } }"


@pytest.mark.parametrize("mode", ["distinct", "single"])
def test_graphql_sse_client_on_one_server(server: LiveServer, mode: str) -> None:
    suffix = uuid.uuid4().hex[:12]
    url = f"{server.url}/graphql"
    assert_the_flow(run_node("graphql_sse_client.mjs", mode, url, url, suffix), suffix)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("mode", ["distinct", "single"])
def test_graphql_sse_client_across_two_instances(
    instances: tuple[LiveServer, LiveServer], mode: str
) -> None:
    a, b = instances
    suffix = uuid.uuid4().hex[:12]
    report = run_node(
        "graphql_sse_client.mjs", mode, f"{a.url}/graphql", f"{b.url}/graphql", suffix
    )
    assert_the_flow(report, suffix)


# -- single connection mode on the wire ---------------------------------------------


class EventReader:
    """Parses an event stream in the background: (event, data) pairs in order."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.raw = ""
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        buffer = ""
        async for chunk in self.response.aiter_text():
            self.raw += chunk
            buffer += chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                fields = dict(
                    line.split(": ", 1) for line in block.split("\n") if not line.startswith(":")
                )
                if "event" in fields:
                    data = json.loads(fields["data"]) if fields.get("data") else None
                    self.events.put_nowait((fields["event"], data))

    async def next(self, timeout: float = 5) -> tuple[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def reserved_stream(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> AsyncIterator[tuple[str, EventReader]]:
    reservation = await http.put("/graphql", headers=headers)
    assert reservation.status_code == 201
    assert reservation.headers["content-type"].startswith("text/plain")
    token = reservation.text
    stream_headers = {**headers, TOKEN: token, "accept": "text/event-stream"}
    async with http.stream("GET", "/graphql", headers=stream_headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = EventReader(response)
        try:
            yield token, reader
        finally:
            await reader.stop()


async def post_operation(
    http: httpx.AsyncClient, token: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return await http.post("/graphql", json=body, headers={**headers, TOKEN: token})


async def test_operations_run_on_the_reserved_stream(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        ada = await sign_up(GraphQLClient(http), "single-wire@example.com")
        auth = {"authorization": f"Bearer {ada.token}"}
        async with reserved_stream(http, auth) as (token, stream):
            query = {"query": "{ me { email } }", "extensions": {"operationId": "q1"}}
            accepted = await post_operation(http, token, query, auth)
            assert accepted.status_code == 202
            assert await stream.next() == (
                "next",
                {"id": "q1", "payload": {"data": {"me": {"email": "single-wire@example.com"}}}},
            )
            assert await stream.next() == ("complete", {"id": "q1"})

            # A GraphQL error arrives on the stream, as in distinct connections mode.
            invalid = {"query": "{ nope }", "extensions": {"operationId": "q2"}}
            assert (await post_operation(http, token, invalid, auth)).status_code == 202
            event, data = await stream.next()
            assert (event, data["id"]) == ("next", "q2")
            assert data["payload"]["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            assert await stream.next() == ("complete", {"id": "q2"})

            # A subscription runs until DELETE stops it.
            subscription = {"query": EVENTS, "extensions": {"operationId": "s1"}}
            assert (await post_operation(http, token, subscription, auth)).status_code == 202
            again = await post_operation(http, token, subscription, auth)
            assert again.status_code == 409
            assert again.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
            stopped = await http.delete(
                "/graphql", params={"operationId": "s1"}, headers={**auth, TOKEN: token}
            )
            assert stopped.status_code == 200
            # Stopped: its id is free again.
            assert (await post_operation(http, token, subscription, auth)).status_code == 202
        assert "\r" not in stream.raw


async def test_one_stream_per_reservation_and_unknown_tokens_are_404(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        async with reserved_stream(http, {}) as (token, _):
            second = await http.get(
                "/graphql", headers={TOKEN: token, "accept": "text/event-stream"}
            )
            assert second.status_code == 409
        unknown = await post_operation(
            http,
            "no-such-token",
            {"query": "{ __typename }", "extensions": {"operationId": "x"}},
            {},
        )
        assert unknown.status_code == 404
        assert unknown.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        # The stream closed: its reservation goes with it, once the server sees the close.
        operation = {"query": "{ __typename }", "extensions": {"operationId": "x"}}
        async with asyncio.timeout(10):
            while (await post_operation(http, token, operation, {})).status_code != 404:  # noqa: ASYNC110 - polling the server
                await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"query": "{ __typename }"}, 400),
        ({"query": "{ __typename }", "extensions": {"operationId": 5}}, 400),
        ([{"query": "{ __typename }", "extensions": {"operationId": "b"}}], 400),
    ],
    ids=["no-operation-id", "operation-id-not-a-string", "batch"],
)
async def test_an_operation_without_an_id_is_a_400(
    server: LiveServer, body: Any, status: int
) -> None:
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        reserved_stream(http, {}) as (token, _),
    ):
        response = await post_operation(http, token, body, {})
        assert response.status_code == status
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_an_operation_without_content_type_is_refused_as_csrf(server: LiveServer) -> None:
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        reserved_stream(http, {}) as (token, _),
    ):
        body = json.dumps({"query": "{ __typename }", "extensions": {"operationId": "c"}})
        response = await http.post(
            "/graphql", content=body, headers={TOKEN: token, "content-type": "text/plain"}
        )
        assert response.status_code == 400
        assert "CSRF" in response.json()["errors"][0]["message"]
