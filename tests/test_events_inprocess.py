"""The in-process event bus: what a subscriber's stream promises, whichever bus delivers it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from graphql_app.errors import ServiceUnavailable
from graphql_app.events import QUEUE_LIMIT, InProcessEventBus
from graphql_app.models import Todo, TodoEvent, TodoEventKind


def created(user_id: str, n: int) -> TodoEvent:
    now = datetime.now(UTC)
    return TodoEvent(
        TodoEventKind.CREATED, user_id, f"t{n}", Todo(f"t{n}", user_id, f"n{n}", False, now, now)
    )


async def test_a_subscriber_hears_its_own_user_only_in_order() -> None:
    bus = InProcessEventBus()
    stream = await bus.subscribe("ada")
    await bus.publish(created("bob", 0))
    for n in range(3):
        await bus.publish(created("ada", n))
    assert [(await anext(stream)).todo_id for _ in range(3)] == ["t0", "t1", "t2"]
    await stream.aclose()


async def test_giving_up_waiting_loses_no_event() -> None:
    bus = InProcessEventBus()
    stream = await bus.subscribe("ada")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await anext(stream)
    await bus.publish(created("ada", 1))
    assert (await anext(stream)).todo_id == "t1"
    await stream.aclose()


async def test_a_subscriber_that_falls_behind_is_told_rather_than_skipped() -> None:
    bus = InProcessEventBus()
    stream = await bus.subscribe("ada")
    for n in range(QUEUE_LIMIT + 5):
        await bus.publish(created("ada", n))
    received = [await anext(stream) for _ in range(QUEUE_LIMIT)]
    assert received[-1].todo_id == f"t{QUEUE_LIMIT - 1}"
    with pytest.raises(ServiceUnavailable):
        await anext(stream)
    await stream.aclose()


async def test_closing_the_bus_ends_every_stream() -> None:
    bus = InProcessEventBus()
    stream = await bus.subscribe("ada")
    await bus.publish(created("ada", 1))
    await bus.close()
    assert [event.todo_id async for event in stream] == ["t1"]
