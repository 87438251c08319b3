"""Which requests stream, and how the streams are framed.

Negotiation (RFC 9110: q-values, then the client's order) decides between a
JSON response and a stream, in process; the frames themselves (SSE with LF
line endings, one multipart media type) are read raw from a real uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from graphql_app.app import create_app
from graphql_app.events.memory import InProcessEventBus
from graphql_app.http.media_types import choose_stream, parse_accept
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import sqlite_backend
from tests.support.clock import Clock
from tests.support.graphql_client import GraphQLClient, create_todo, sign_up
from tests.support.live_server import LiveServer

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
SSE = "text/event-stream"
APOLLO_MULTIPART = 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json'
# urql sends this on every request, mutations included.
URQL = f"{GRAPHQL_RESPONSE}, application/graphql+json, {JSON}, {SSE}, multipart/mixed"
EVENTS = "subscription { todoEvents { kind todoId } }"
CREATE = 'mutation { createTodo(input: {name: "x"}) { name } }'


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with sqlite_backend(tmp_path) as store:
        yield store


def test_accept_parsing_keeps_order_parameters_and_quoted_commas() -> None:
    ranges = parse_accept('multipart/mixed; boundary="a,b"; subscriptionSpec="1.0";q=0.5, */*')
    assert [(r.essence, r.params, r.quality) for r in ranges] == [
        ("multipart/mixed", {"boundary": "a,b", "subscriptionspec": "1.0"}, 0.5),
        ("*/*", {}, 1.0),
    ]


@pytest.mark.parametrize(
    ("accept", "preferred", "acceptable"),
    [
        (SSE, "sse", "sse"),
        (f"{SSE}, {JSON}", "sse", "sse"),
        (f"{JSON}, {SSE}", None, "sse"),
        (f"{JSON};q=1, {SSE};q=0.5", None, "sse"),
        (f"{JSON};q=0.5, {SSE}", "sse", "sse"),
        (URQL, None, "sse"),
        (f"{SSE};q=0, {JSON}", None, None),
        (APOLLO_MULTIPART, None, "multipart-subscription"),
        ("multipart/mixed;deferSpec=20220824, application/json", None, None),
        (
            f"{JSON}, multipart/mixed;subscriptionSpec=1.0;q=0.9, {SSE};q=0.8",
            None,
            "multipart-subscription",
        ),
        ("*/*", None, None),
    ],
)
def test_streams_are_ranked_by_quality_then_order(
    accept: str, preferred: str | None, acceptable: str | None
) -> None:
    choice = choose_stream(accept)
    assert (choice.preferred, choice.acceptable) == (preferred, acceptable)


@pytest.mark.parametrize(
    "accept",
    [URQL, f"{JSON};q=1, {SSE};q=0.5", f"{GRAPHQL_RESPONSE}, {SSE};q=0.9"],
    ids=["urql", "json-preferred-by-q", "graphql-response-preferred"],
)
async def test_a_mutation_gets_json_when_the_client_prefers_json(
    http: httpx.AsyncClient, accept: str
) -> None:
    gql = GraphQLClient(http)
    ada = await sign_up(gql, "urql@example.com")
    response = await http.post(
        "/graphql",
        json={"query": CREATE},
        headers={"accept": accept, "authorization": f"Bearer {ada.token}"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in (GRAPHQL_RESPONSE, JSON)
    assert response.json() == {"data": {"createTodo": {"name": "x"}}}


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE, "*/*", None])
async def test_a_subscription_without_a_stream_accept_is_a_400_naming_the_transports(
    http: httpx.AsyncClient, accept: str | None
) -> None:
    headers = {"accept": accept} if accept else {}
    response = await http.post("/graphql", json={"query": EVENTS}, headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    for transport in ("graphql-transport-ws", "graphql-ws", SSE, "multipart/mixed"):
        assert transport in error["message"]


async def test_a_subscription_in_a_batch_is_refused_alone(
    settings: Settings, storage: Storage, clock: Clock, events: InProcessEventBus
) -> None:
    batching = settings.model_copy(update={"batch_requests": True})
    app = create_app(batching, clock=clock, storage=storage, events=events)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.post(
            "/graphql", json=[{"query": "{ __typename }"}, {"query": EVENTS}]
        )
    assert response.status_code == 200
    first, second = response.json()
    assert first == {"data": {"__typename": "Query"}}
    assert second["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_subscription_body_is_graphql_response_json_when_preferred(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/graphql",
        json={"query": EVENTS},
        headers={"accept": f"{GRAPHQL_RESPONSE}, {JSON};q=0.9"},
    )
    assert (response.status_code, response.headers["content-type"]) == (400, GRAPHQL_RESPONSE)


async def test_a_query_streams_as_lf_framed_events_when_the_client_prefers_sse(
    server: LiveServer,
) -> None:
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        http.stream(
            "POST", "/graphql", json={"query": "{ __typename }"}, headers={"accept": SSE}
        ) as response,
    ):
        assert response.headers["content-type"].startswith(SSE)
        body = await response.aread()  # a query's stream ends after its one result
    assert b"\r" not in body
    assert (
        body == b'event: next\ndata: {"data":{"__typename":"Query"}}\n\nevent: complete\ndata: \n\n'
    )


class RawReader:
    """Collects a streaming response's raw bytes in the background."""

    def __init__(self, response: httpx.Response) -> None:
        self.received = b""
        self._arrived = asyncio.Event()
        self._response = response
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for chunk in self._response.aiter_raw():
            self.received += chunk
            self._arrived.set()

    async def wait_for(self, marker: bytes, timeout: float) -> bool:
        async with asyncio.timeout(timeout):
            while marker not in self.received:
                self._arrived.clear()
                await self._arrived.wait()
        return True

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def subscribe_raw(server: LiveServer, accept: str) -> tuple[httpx.Headers, bytes]:
    """Subscribe to todoEvents with `accept`, create todos until one's CREATED event
    arrives; the response headers and the raw stream up to then."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, f"raw-{len(accept)}-{accept[:4]}@example.com")
        headers = {"accept": accept, "authorization": f"Bearer {ada.token}"}
        async with http.stream(
            "POST", "/graphql", json={"query": EVENTS}, headers=headers
        ) as response:
            assert response.status_code == 200
            reader = RawReader(response)
            try:
                for _ in range(100):  # a probe made before the subscription starts is lost
                    await create_todo(gql, ada.token, "probe")
                    with contextlib.suppress(TimeoutError):
                        await reader.wait_for(b'"CREATED"', 0.3)
                        break
                await reader.wait_for(b'"CREATED"', 1)
            finally:
                await reader.stop()
            return response.headers, reader.received


async def test_a_subscription_streams_sse_even_when_json_is_preferred(
    server: LiveServer,
) -> None:
    headers, body = await subscribe_raw(server, URQL)
    assert headers["content-type"].startswith(SSE)
    assert body.startswith(b"event: next\ndata: {")
    assert b"\r" not in body


async def test_multipart_subscriptions_answer_one_media_type(server: LiveServer) -> None:
    headers, body = await subscribe_raw(server, APOLLO_MULTIPART)
    assert headers["content-type"] == 'multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"'
    assert b"\r\n--graphql\r\nContent-Type: application/json; charset=utf-8\r\n" in body
    assert b'{"payload":{"data":{"todoEvents":{"kind":"CREATED"' in body


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_cors_lets_configured_origins_use_single_connection_mode(
    settings: Settings, storage: Storage, clock: Clock, events: InProcessEventBus, method: str
) -> None:
    changed = settings.model_copy(update={"cors_origins": "https://app.example.com"})
    app = create_app(changed, clock=clock, storage=storage, events=events)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        preflight = await http.options(
            "/graphql",
            headers={
                "origin": "https://app.example.com",
                "access-control-request-method": method,
                "access-control-request-headers": "authorization, x-graphql-event-stream-token",
            },
        )
    assert preflight.status_code == 200
    assert method in preflight.headers["access-control-allow-methods"]
    assert "x-graphql-event-stream-token" in preflight.headers["access-control-allow-headers"]
