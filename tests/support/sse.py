"""Subscriptions over plain HTTP, read as a client does: SSE or multipart, parsed as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

import httpx

from tests.support.ws_client import OperationMessage

EVENTS = "subscription { todoEvents { kind todoId todo { id name isCompleted } } }"
SSE = "text/event-stream"
MULTIPART = 'multipart/mixed;subscriptionSpec="1.0", application/json'


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
    query: str = EVENTS,
) -> AsyncIterator[StreamReader]:
    """`query` over HTTP as a stream of `accept`'s kind (SSE or multipart), read in the
    background until the block ends."""
    headers = {"accept": accept, "content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if method == "GET":
        request = http.build_request("GET", "/graphql", params={"query": query}, headers=headers)
    else:
        request = http.build_request("POST", "/graphql", json={"query": query}, headers=headers)
    response = await http.send(request, stream=True)
    parse = multipart_parser() if accept.startswith("multipart") else sse_parser()
    reader = StreamReader(response, parse)
    try:
        yield reader
    finally:
        await reader.stop()
        await response.aclose()
