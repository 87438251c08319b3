"""Subscription fields: the caller's todo events, from any instance.

A subscription lives as long as the access token it was authorised with.
When the token expires, the subscription ends with an UNAUTHENTICATED error
(graphql-ws, SSE) or its connection closes with 4403 (graphql-transport-ws,
graphql_app/http/websocket.py); the client refreshes its token and
subscribes again. An event that arrives after expiry is never delivered. A
revocation (changePassword, logOutEverywhere, deleteAccount, on any instance)
ends the subscriptions resting on the revoked tokens at once, with
TOKEN_REVOKED.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.types import Info

from graphql_app.errors import AuthReason, Unauthenticated
from graphql_app.events import EventStream
from graphql_app.models import TodoEvent as StoreEvent
from graphql_app.schema.context import Context
from graphql_app.schema.types import TodoEvent, TodoEventFilter, TodoType

_ENDED: Any = object()  # anext()'s default: the stream ended
EXPIRED_MESSAGE = "Access token expired; refresh it and subscribe again"


def seconds_left(context: Context) -> float | None:
    """Seconds until the caller's access token expires, by the app's clock; None: no expiry."""
    if context.token_expires_at is None:
        return None
    return (context.token_expires_at - context.services.deps.clock()).total_seconds()


def check_token(context: Context) -> None:
    """UNAUTHENTICATED once the access token the subscription rests on has expired
    (TOKEN_EXPIRED) or been revoked (TOKEN_REVOKED)."""
    context.require_user_id()
    left = seconds_left(context)
    if left is not None and left <= 0:
        raise Unauthenticated(EXPIRED_MESSAGE, AuthReason.TOKEN_EXPIRED)


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Changes to the caller's todos, from any server instance.")
    async def todo_events(self, info: Info[Context, None]) -> AsyncGenerator[TodoEvent, None]:
        # A plain coroutine (not a generator), so that these refusals come before
        # the stream starts: an `error` message rather than a result.
        context = info.context
        user_id = context.require_user_id()
        check_token(context)
        stream = await context.services.deps.events.subscribe(user_id)
        return render_events(context, stream)


async def _next_event(stream: EventStream, revoked: asyncio.Event) -> StoreEvent | None:
    """The stream's next event; None when a revocation of the user came first (the
    caller checks whether it covers this token)."""
    if revoked.is_set():
        revoked.clear()
        return None
    getter = asyncio.ensure_future(anext(stream, _ENDED))
    waker = asyncio.ensure_future(revoked.wait())
    try:
        done, _ = await asyncio.wait((getter, waker), return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Cancelling a wait for the next event loses no event (EventStream).
        for task in (getter, waker):
            if not task.done():
                task.cancel()
    if getter in done:
        return getter.result()  # the event, _ENDED, or the bus's error
    revoked.clear()
    return None


async def render_events(context: Context, stream: EventStream) -> AsyncGenerator[TodoEvent, None]:
    """The stream's events as GraphQL objects, until it ends, or the token expires or
    is revoked (at once: a revocation wakes the subscription, events or not)."""
    watch_expiry = not context.expiry_closes_connection
    revocations = context.services.deps.revocations
    user_id = context.require_user_id()
    revoked = revocations.waiter(user_id)
    try:
        while True:
            timeout = seconds_left(context) if watch_expiry else None
            try:
                async with asyncio.timeout(timeout):
                    event = await _next_event(stream, revoked)
            except TimeoutError:
                check_token(context)
                continue  # the clock disagreed with the timer: wait again
            if event is _ENDED:
                return
            check_token(context)
            if event is None:
                continue  # a revocation older than this subscription's token
            yield TodoEvent(
                kind=event.kind,
                todo_id=strawberry.ID(event.todo_id),
                todo=TodoType.from_model(event.todo) if event.todo else None,
                filter=None
                if event.matched is None
                else TodoEventFilter(is_completed=event.matched),
                count=event.count,
                updated_at=event.updated_at,
            )
    finally:
        revocations.forget_waiter(user_id, revoked)
        await stream.aclose()
