"""The Redis event bus on a real Redis (db 15), and what users notice when Redis goes away.

Outages are real: the bus talks to Redis through a TCP relay that the test
cuts, as a network failure would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from graphql_app.app import create_app
from graphql_app.errors import ServiceUnavailable
from graphql_app.events.redis import RedisEventBus
from graphql_app.models import Todo, TodoEvent, TodoEventKind
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import REDIS_URL
from tests.support.environment import sqlite_env
from tests.support.graphql_client import GraphQLClient, create_todo, sign_up
from tests.support.live_server import free_port, live_server
from tests.support.redis_relay import Relay
from tests.support.ws_client import authenticated, event_of, until_live

pytestmark = pytest.mark.redis

EVENTS = "subscription { todoEvents { kind todoId todo { id name } } }"


def todo_event(user_id: str, name: str, kind: TodoEventKind = TodoEventKind.CREATED) -> TodoEvent:
    now = datetime.now(UTC)
    todo = Todo(f"todo-{name}", user_id, name, False, now, now + timedelta(seconds=1))
    return TodoEvent(kind, user_id, todo.id, None if kind is TodoEventKind.DELETED else todo)


@pytest.fixture
async def buses(redis_prefix: str) -> AsyncIterator[tuple[RedisEventBus, RedisEventBus]]:
    """Two buses on one Redis, as two instances have."""
    one = RedisEventBus(REDIS_URL, key_prefix=redis_prefix)
    two = RedisEventBus(REDIS_URL, key_prefix=redis_prefix)
    yield one, two
    await one.close()
    await two.close()


async def subscribers(channel: str) -> int:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        counts = await client.pubsub_numsub(channel)
        return int(counts[0][1])
    finally:
        await client.aclose()


async def until_subscribers(channel: str, expected: int) -> None:
    """Wait (bounded) until Redis counts `expected` connections on `channel`."""
    async with asyncio.timeout(5):
        # Redis announces no change of a channel's subscriber count: ask until it matches.
        while await subscribers(channel) != expected:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    relay = Relay()
    await relay.start()
    yield relay
    with contextlib.suppress(AssertionError):
        await relay.cut()


async def test_events_cross_instances_with_the_whole_todo(
    buses: tuple[RedisEventBus, RedisEventBus],
) -> None:
    one, two = buses
    stream = await one.subscribe("ada")
    theirs, ours = todo_event("bob", "bob's"), todo_event("ada", "ada's")
    await two.publish(theirs)
    await two.publish(ours)
    await two.publish(todo_event("ada", "ada's", TodoEventKind.DELETED))
    async with asyncio.timeout(5):
        received = [await anext(stream), await anext(stream)]
    await stream.aclose()
    assert received == [ours, todo_event("ada", "ada's", TodoEventKind.DELETED)]


async def test_bulk_events_cross_instances_with_their_filter_and_count(
    buses: tuple[RedisEventBus, RedisEventBus],
) -> None:
    one, two = buses
    stream = await one.subscribe("ada")
    at = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    bulk = [
        TodoEvent(
            TodoEventKind.BULK_UPDATED, "ada", "c1", None, matched=False, count=3, updated_at=at
        ),
        TodoEvent(TodoEventKind.CLEARED, "ada", "c2", None, matched=True, count=200_000),
    ]
    for event in bulk:
        await two.publish(event)
    async with asyncio.timeout(5):
        received = [await anext(stream), await anext(stream)]
    await stream.aclose()
    assert received == bulk


async def test_one_channel_per_user_and_one_connection_per_instance(
    buses: tuple[RedisEventBus, RedisEventBus], redis_prefix: str
) -> None:
    one, _ = buses
    channel = f"{redis_prefix}:todo-events:ada"
    assert one.channel("ada") == channel
    first, second = await one.subscribe("ada"), await one.subscribe("ada")
    assert await subscribers(channel) == 1
    await first.aclose()
    await one.publish(todo_event("ada", "still heard"))
    async with asyncio.timeout(5):
        assert (await anext(second)).todo_id == "todo-still heard"
    await second.aclose()
    await until_subscribers(channel, 0)


async def test_publishing_without_redis_logs_and_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = RedisEventBus(f"redis://127.0.0.1:{free_port()}/15")  # nothing listens there
    try:
        await bus.publish(todo_event("ada", "lost"))
        with pytest.raises(ServiceUnavailable):
            await bus.subscribe("ada")
    finally:
        await bus.close()
    assert "Redis publish failed" in caplog.text


async def test_an_outage_ends_live_streams_and_subscribing_again_recovers(
    relay: Relay, redis_prefix: str
) -> None:
    bus = RedisEventBus(relay.url, key_prefix=redis_prefix)
    publisher = RedisEventBus(REDIS_URL, key_prefix=redis_prefix)
    try:
        stream = await bus.subscribe("ada")
        await publisher.publish(todo_event("ada", "before"))
        async with asyncio.timeout(5):
            assert (await anext(stream)).todo_id == "todo-before"
        await relay.cut()
        with pytest.raises(ServiceUnavailable):
            async with asyncio.timeout(5):
                await anext(stream)
        await relay.start()
        again = await bus.subscribe("ada")
        await publisher.publish(todo_event("ada", "after"))
        async with asyncio.timeout(5):
            assert (await anext(again)).todo_id == "todo-after"
        await again.aclose()
    finally:
        await bus.close()
        await publisher.close()


async def test_a_mutation_succeeds_while_redis_is_down(
    settings: Settings, storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/15"  # nothing listens there
    app = create_app(settings.model_copy(update={"redis_url": down}), storage=storage)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            gql = GraphQLClient(http)
            ada = await sign_up(gql, "ada@example.com")
            todo = await create_todo(gql, ada.token, "written anyway")
    finally:
        await app.state.deps.events.close()
    assert todo["name"] == "written anyway"
    assert "Redis publish failed" in caplog.text


@pytest.mark.slow
async def test_subscribers_are_told_when_redis_goes_away(
    relay: Relay, redis_prefix: str, tmp_path: Path
) -> None:
    env = sqlite_env(tmp_path, "outage", REDIS_URL=relay.url, REDIS_KEY_PREFIX=redis_prefix)
    with live_server(tmp_path, env) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            gql = GraphQLClient(http)
            ada = await sign_up(gql, "outage@example.com")
            ws = await authenticated(server.ws_url, ada.token)
            try:
                op_id = await ws.subscribe(EVENTS)

                async def probe() -> str:
                    return str((await create_todo(gql, ada.token, "probe"))["id"])

                await until_live(ws, probe)
                await relay.cut()
                ended = await ws.operation_message(timeout=10)
                assert (ended.kind, ended.id) == ("next", op_id)
                assert [e["extensions"]["code"] for e in ended.payload["errors"]] == [
                    "SERVICE_UNAVAILABLE"
                ]
                assert (await ws.operation_message()).kind == "complete"
                # Writes go on while Redis is away; a new subscription says why it cannot start.
                await create_todo(gql, ada.token, "written during the outage")
                refused_id = await ws.subscribe(EVENTS)
                refused = await ws.operation_message(timeout=10)
                assert (refused.kind, refused.id) == ("error", refused_id)
                assert refused.payload[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
                # Back again: subscribing works.
                await relay.start()
                await ws.subscribe(EVENTS)
                await until_live(ws, probe)
                todo = await create_todo(gql, ada.token, "after the outage")
                assert event_of(await ws.operation_message())["todoId"] == todo["id"]
            finally:
                await ws.close()
