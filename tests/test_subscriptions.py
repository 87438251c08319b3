"""The todoEvents field over the todo service's events (schema/subscriptions.py).

How a subscription ends, in process, outside the slow suite: when its client
unsubscribes (through the schema itself, with the context the view makes, so
that the test sees the moment: what a transport does then is to close the
schema's result stream), when its token expires or is revoked, and when the
event bus closes (over SSE: httpx's ASGI transport hands the answer over once
the stream has ended, which is what these tests wait for). The expiry runs on
the app's clock, which the tests move by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from strawberry.types import ExecutionResult

from graphql_app.events import EventStream
from graphql_app.events.memory import InProcessEventBus
from graphql_app.schema import build_schema
from graphql_app.schema.context import Context
from graphql_app.services import ServiceFactory
from tests.support.clock import Clock, leave_until_expiry
from tests.support.graphql_client import LOG_IN, PASSWORD, GraphQLClient, create_todo, sign_up
from tests.support.sse import SSE, sse_parser
from tests.support.ws_client import OperationMessage


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
    first = await asyncio.wait_for(first_result, 5)
    assert first.data == {"todoEvents": {"kind": "CREATED", "todo": {"name": "first"}}}
    (stream,) = events.streams
    assert not stream.ended
    await results.aclose()
    # Not left to the garbage collector: the bus forgets the subscriber before
    # the transport's close returns.
    assert stream.ended


EVENTS = "subscription { todoEvents { kind todoId } }"
EVERYWHERE = "mutation { logOutEverywhere }"


async def sse_messages(http: httpx.AsyncClient, token: str) -> list[OperationMessage]:
    """A todoEvents subscription over SSE: everything it sent, once it has ended."""
    response = await http.post(
        "/graphql",
        json={"query": EVENTS},
        headers={"accept": SSE, "authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return sse_parser()(response.text)


async def listening(
    http: httpx.AsyncClient, token: str, events: RecordingBus
) -> asyncio.Task[list[OperationMessage]]:
    """The subscription, running: its event stream is open when this returns."""
    task = asyncio.create_task(sse_messages(http, token))
    async with asyncio.timeout(5):
        await events.subscribed.wait()
    return task


def created(message: OperationMessage, todo: dict[str, Any]) -> bool:
    return message.kind == "next" and message.payload == {
        "data": {"todoEvents": {"kind": "CREATED", "todoId": todo["id"]}}
    }


def ended_unauthenticated(messages: list[OperationMessage], reason: str) -> bool:
    *_, error, complete = messages
    (extensions,) = [e["extensions"] for e in error.payload["errors"]]
    return (
        error.kind == "next"
        and extensions["code"] == "UNAUTHENTICATED"
        and extensions["reason"] == reason
        and complete.kind == "complete"
    )


def forgotten(app: Starlette) -> bool:
    """No subscription is left waiting for revocations (each one that ended let go)."""
    # A private attribute: a waiter left behind is a leak, and a leak shows only here.
    return not app.state.deps.revocations._waiters


async def test_a_subscription_ends_when_its_token_expires(
    app: Starlette, gql: GraphQLClient, http: httpx.AsyncClient, events: RecordingBus, clock: Clock
) -> None:
    """Ended by a timer set for the expiry, checked against the app's clock when it
    fires: a timer early by that clock (here, always, until the test moves it) waits
    again. Mutants of graphql_app.services.todos: xǁTodoServiceǁ_watch__mutmut_5, 6, 9
    and subscribe__mutmut_7 (no timer: the subscription outlives its token),
    _watch__mutmut_15 (the clock's verdict asked of no caller: an error),
    _watch__mutmut_16 (an early timer ends it), check_live__mutmut_4 (a token with
    less than a second left refused), check_live__mutmut_6, 7 and 8 (ended without
    the reason TOKEN_EXPIRED); graphql_app.services.todos.xǁTodoServiceǁ_watch__mutmut_21
    and 22 (its revocation waiter never let go)."""
    ada = await sign_up(gql, "ada@example.com")
    leave_until_expiry(clock, ada.token, 0.5)  # by the app's clock
    subscription = await listening(http, ada.token, events)
    await asyncio.sleep(1.2)  # the timer has fired at least twice, early each time
    todo = await create_todo(gql, ada.token, "before the expiry")
    clock.travel(seconds=1)  # expired: the next firing ends it
    messages = await asyncio.wait_for(subscription, 5)
    assert created(messages[0], todo), messages
    assert ended_unauthenticated(messages, "TOKEN_EXPIRED"), messages
    assert len(messages) == 3, messages
    assert forgotten(app)


async def test_a_revocation_ends_a_subscription_at_once(
    app: Starlette, gql: GraphQLClient, http: httpx.AsyncClient, events: RecordingBus
) -> None:
    """logOutEverywhere ends the subscription of a token it revokes with no event to
    wait for. Mutant graphql_app.services.todos.xǁTodoServiceǁ_watch__mutmut_3 (the
    subscription waits on another user's revocations: it hears of its own only with
    its next event)."""
    ada = await sign_up(gql, "ada@example.com")
    subscription = await listening(http, ada.token, events)
    assert (await gql(EVERYWHERE, token=ada.token)).ok() == {"logOutEverywhere": True}
    messages = await asyncio.wait_for(subscription, 5)
    assert len(messages) == 2 and ended_unauthenticated(messages, "TOKEN_REVOKED"), messages
    assert forgotten(app)


async def test_a_revocation_older_than_the_token_leaves_its_subscription_running(
    app: Starlette, gql: GraphQLClient, http: httpx.AsyncClient, events: RecordingBus, clock: Clock
) -> None:
    """A revocation that arrives after the subscription started but covers only tokens
    issued before this one (as one relayed late from another instance does) wakes the
    subscription, which checks and goes on. Mutants graphql_app.services.todos
    xǁTodoServiceǁ_watch__mutmut_20 (it ends) and x__next_event__mutmut_14 (the wait
    for the next event left running beside a new one: an error)."""
    ada = await sign_up(gql, "ada@example.com")
    clock.travel(seconds=10)
    logged_in = await gql(LOG_IN, {"input": {"email": ada.email, "password": PASSWORD}})
    newer = logged_in.ok()["logIn"]["token"]  # issued 10 s after ada.token
    subscription = await listening(http, newer, events)
    clock.travel(seconds=-5)  # a revocation dated between the two tokens
    assert (await gql(EVERYWHERE, token=ada.token)).ok() == {"logOutEverywhere": True}
    await asyncio.sleep(0.1)  # the subscription has woken, checked and gone on waiting
    clock.travel(seconds=5)
    todo = await create_todo(gql, newer, "after the old revocation")
    await events.close()  # ends the stream: the test reads what was sent
    messages = await asyncio.wait_for(subscription, 5)
    assert created(messages[0], todo), messages
    assert [m.kind for m in messages] == ["next", "complete"], messages
    assert forgotten(app)


async def test_a_subscription_ends_cleanly_when_the_event_bus_closes(
    app: Starlette, gql: GraphQLClient, http: httpx.AsyncClient, events: RecordingBus
) -> None:
    """At shutdown the bus ends every event stream: each subscription completes, with
    no error. Mutants graphql_app.services.todos.x__next_event__mutmut_4 (the end taken
    for a revocation's wake-up: the subscription never ends) and 6 (the end raised:
    an error)."""
    ada = await sign_up(gql, "ada@example.com")
    subscription = await listening(http, ada.token, events)
    await events.close()
    messages = await asyncio.wait_for(subscription, 5)
    assert [m.kind for m in messages] == ["complete"], messages
    assert forgotten(app)
