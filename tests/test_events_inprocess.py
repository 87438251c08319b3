"""The in-process event bus: what a subscriber's stream promises, whichever bus delivers it;
and which bus `open_event_bus` builds for a Redis URL.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from graphql_app.errors import ServiceUnavailable
from graphql_app.events import open_event_bus
from graphql_app.events.base import QUEUE_LIMIT
from graphql_app.events.memory import InProcessEventBus
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


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "REDISS://cache:6380", "unix:///run/redis.sock?db=1"]
)
async def test_open_event_bus_picks_redis_by_the_url_scheme_without_connecting(url: str) -> None:
    from graphql_app.events.redis import RedisEventBus

    bus = open_event_bus(url, key_prefix="tenant")
    assert isinstance(bus, RedisEventBus)
    assert bus.channel("ada") == "tenant:todo-events:ada"
    await bus.close()


def test_open_event_bus_is_in_process_without_a_url_and_refuses_other_schemes() -> None:
    assert isinstance(open_event_bus("", key_prefix="tenant"), InProcessEventBus)
    with pytest.raises(ValueError, match="'memcached'"):
        open_event_bus("memcached://127.0.0.1", key_prefix="tenant")


def test_the_in_process_bus_needs_no_redis_package() -> None:
    """redis is imported by events/redis.py only, and only when a Redis URL picks it."""
    script = (
        "import sys\n"
        "sys.modules['redis'] = None  # any import of redis now fails\n"
        "from graphql_app.events import open_event_bus\n"
        "bus = open_event_bus('', key_prefix='p')\n"
        "print(type(bus).__name__, 'graphql_app.events.redis' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "InProcessEventBus False"), (
        result.stderr
    )
