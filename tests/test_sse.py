"""Subscriptions over plain HTTP, for clients that cannot use WebSockets, on a real uvicorn.

- graphql-sse's distinct connections mode: GET or POST with
  `Accept: text/event-stream`; `next` events carry results, `complete` ends.
- Apollo's multipart subscriptions: `Accept: multipart/mixed;subscriptionSpec=1.0`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.environment import sqlite_env
from tests.support.graphql_client import GraphQLClient, create_todo, sign_up
from tests.support.live_server import LiveServer, live_server
from tests.support.sse import MULTIPART, SSE, subscription
from tests.support.ws_client import OperationMessage, event_of, until_live

pytestmark = pytest.mark.slow

SHORT_TTL = 3


@pytest.fixture(scope="module")
def short_token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("sse-ttl")
    with live_server(
        workdir, sqlite_env(workdir, "sse", ACCESS_TOKEN_TTL=str(SHORT_TTL))
    ) as running:
        yield running


def probe_maker(gql: GraphQLClient, token: str) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        return str((await create_todo(gql, token, "probe"))["id"])

    return probe


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_events_stream_as_server_sent_events(server: LiveServer, method: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, f"sse-{method.lower()}@example.com")
        bob = await sign_up(gql, f"sse-other-{method.lower()}@example.com")
        async with subscription(http, SSE, ada.token, method) as stream:
            assert stream.response.status_code == 200
            assert stream.response.headers["content-type"].startswith(SSE)
            await until_live(stream, probe_maker(gql, ada.token))
            await create_todo(gql, bob.token, "not for ada")
            todo = await create_todo(gql, ada.token, "over SSE")
            event = event_of(await stream.operation_message())
    assert event == {
        "kind": "CREATED",
        "todoId": todo["id"],
        "todo": {"id": todo["id"], "name": "over SSE", "isCompleted": False},
    }


async def test_events_stream_as_multipart(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, "multipart@example.com")
        async with subscription(http, MULTIPART, ada.token) as stream:
            assert stream.response.headers["content-type"].startswith("multipart/mixed")
            await until_live(stream, probe_maker(gql, ada.token))
            todo = await create_todo(gql, ada.token, "over multipart")
            event = event_of(await stream.operation_message())
    assert (event["kind"], event["todoId"]) == ("CREATED", todo["id"])


async def test_a_stream_without_a_token_ends_with_unauthenticated(server: LiveServer) -> None:
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        subscription(http, SSE, None) as stream,
    ):
        refused = await stream.operation_message()
        assert [e["extensions"]["code"] for e in refused.payload["errors"]] == ["UNAUTHENTICATED"]
        assert await stream.operation_message() == OperationMessage("complete", "sse")
        assert await stream.ended()


async def test_an_expired_token_ends_the_stream(short_token_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=short_token_server.url, timeout=10) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, "sse-expiry@example.com")
        async with subscription(http, SSE, ada.token) as stream:
            await until_live(stream, probe_maker(gql, ada.token))
            ended: dict[str, Any] = (await stream.operation_message(SHORT_TTL + 5)).payload
            assert [e["extensions"]["code"] for e in ended["errors"]] == ["UNAUTHENTICATED"]
            assert await stream.operation_message() == OperationMessage("complete", "sse")
            assert await stream.ended()
