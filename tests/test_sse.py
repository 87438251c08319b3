"""Subscriptions over plain HTTP, for clients that cannot use WebSockets, on a real uvicorn.

- graphql-sse's distinct connections mode: GET or POST with
  `Accept: text/event-stream`; `next` events carry results, `complete` ends.
- Apollo's multipart subscriptions: `Accept: multipart/mixed;subscriptionSpec=1.0`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.graphql_client import GraphQLClient, create_todo, sign_up
from tests.live_server import LiveServer, live_server
from tests.ws_client import OperationMessage, event_of, until_live

pytestmark = pytest.mark.slow

EVENTS = "subscription { todoEvents { kind todoId todo { id name isCompleted } } }"
SSE = "text/event-stream"
MULTIPART = 'multipart/mixed;subscriptionSpec="1.0", application/json'
SHORT_TTL = 3


def server_env(workdir: object, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{workdir}/sse.db",
        "SECRET_KEY": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "AUTH_RATE_LIMIT": "",
        "LOGIN_ACCOUNT_RATE_LIMIT": "",
        **extra,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("sse")
    with live_server(workdir, server_env(workdir)) as running:
        yield running


@pytest.fixture(scope="module")
def short_token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("sse-ttl")
    with live_server(workdir, server_env(workdir, ACCESS_TOKEN_TTL=str(SHORT_TTL))) as running:
        yield running


class StreamReader:
    """Reads a streaming response in the background; hands out what it parsed, in order."""

    def __init__(self, response: httpx.Response, parse: Callable[[str], list[OperationMessage]]):
        self.response = response
        self.messages: asyncio.Queue[OperationMessage | None] = asyncio.Queue()
        self._parse = parse
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for chunk in self.response.aiter_text():
                for message in self._parse(chunk):
                    self.messages.put_nowait(message)
        except httpx.HTTPError:
            pass
        finally:
            self.messages.put_nowait(None)  # the response ended

    async def operation_message(self, timeout: float = 5.0) -> OperationMessage:
        message = await asyncio.wait_for(self.messages.get(), timeout)
        assert message is not None, "the stream ended"
        return message

    async def ended(self, timeout: float = 5.0) -> bool:
        return await asyncio.wait_for(self.messages.get(), timeout) is None

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def sse_parser() -> Callable[[str], list[OperationMessage]]:
    """Server-sent events, as the HTML spec frames them: fields, then a blank line."""
    buffer = ""

    def parse(chunk: str) -> list[OperationMessage]:
        nonlocal buffer
        buffer += chunk.replace("\r\n", "\n")
        messages = []
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields: dict[str, str] = {}
            for line in block.split("\n"):
                if line.startswith(":"):
                    continue  # a comment: the server's heartbeat
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            if fields.get("event") == "next":
                messages.append(OperationMessage("next", "sse", json.loads(fields["data"])))
            elif fields.get("event") == "complete":
                messages.append(OperationMessage("complete", "sse"))
        return messages

    return parse


def multipart_parser() -> Callable[[str], list[OperationMessage]]:
    """multipart/mixed with boundary `graphql`: each part one JSON body; `{}` is a heartbeat."""
    buffer = ""

    def parse(chunk: str) -> list[OperationMessage]:
        nonlocal buffer
        buffer += chunk
        messages = []
        while True:
            start = buffer.find("--graphql")
            end = buffer.find("--graphql", start + 1) if start >= 0 else -1
            if end < 0:
                if buffer[start:].startswith("--graphql--"):
                    messages.append(OperationMessage("complete", "multipart"))
                    buffer = ""
                return messages
            part, buffer = buffer[start + len("--graphql") : end], buffer[end:]
            _, _, body = part.partition("\r\n\r\n")
            data = json.loads(body) if body.strip() else {}
            if "payload" in data:
                messages.append(OperationMessage("next", "multipart", data["payload"]))

    return parse


@contextlib.asynccontextmanager
async def subscription(
    http: httpx.AsyncClient,
    accept: str,
    token: str | None,
    method: str = "POST",
) -> AsyncIterator[StreamReader]:
    headers = {"accept": accept, "content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if method == "GET":
        request = http.build_request("GET", "/graphql", params={"query": EVENTS}, headers=headers)
    else:
        request = http.build_request("POST", "/graphql", json={"query": EVENTS}, headers=headers)
    response = await http.send(request, stream=True)
    parse = multipart_parser() if accept.startswith("multipart") else sse_parser()
    reader = StreamReader(response, parse)
    try:
        yield reader
    finally:
        await reader.stop()
        await response.aclose()


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
