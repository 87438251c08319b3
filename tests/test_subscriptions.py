"""The todoEvents field over the todo service's events (schema/subscriptions.py).

Run through the schema itself, with the context the view makes, so that the
test sees the moment a subscription ends: what a transport does when a client
unsubscribes is to close the schema's result stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from starlette.applications import Starlette
from strawberry.types import ExecutionResult

from graphql_app.events import EventStream
from graphql_app.events.memory import InProcessEventBus
from graphql_app.schema import build_schema
from graphql_app.schema.context import Context
from graphql_app.services import ServiceFactory
from tests.support.graphql_client import GraphQLClient, create_todo, sign_up


class RecordingBus(InProcessEventBus):
    """The in-process bus, keeping each stream it opens for the test to look at."""

    def __init__(self) -> None:
        super().__init__()
        self.streams: list[EventStream] = []
        self.subscribed = asyncio.Event()

    async def subscribe(self, user_id: str) -> EventStream:
        stream = await super().subscribe(user_id)
        self.streams.append(stream)
        self.subscribed.set()
        return stream


@pytest.fixture
def events() -> RecordingBus:
    return RecordingBus()


async def subscribe(app: Starlette, token: str) -> AsyncGenerator[ExecutionResult, None]:
    context = Context(services=ServiceFactory(app.state.deps).for_request())
    await context.authenticate(f"Bearer {token}")
    results = await build_schema().subscribe(
        "subscription { todoEvents { kind todo { name } } }", context_value=context
    )
    assert isinstance(results, AsyncGenerator), results
    return results


async def test_unsubscribing_releases_the_event_stream_at_once(
    app: Starlette, gql: GraphQLClient, events: RecordingBus
) -> None:
    ada = await sign_up(gql, "ada@example.com")
    results = await subscribe(app, ada.token)
    first_result = asyncio.ensure_future(anext(results))  # the stream starts on the first ask
    async with asyncio.timeout(5):
        await events.subscribed.wait()
    await create_todo(gql, ada.token, "first")
    first = await first_result
    assert first.data == {"todoEvents": {"kind": "CREATED", "todo": {"name": "first"}}}
    (stream,) = events.streams
    assert not stream.ended
    await results.aclose()
    # Not left to the garbage collector: the bus forgets the subscriber before
    # the transport's close returns.
    assert stream.ended
