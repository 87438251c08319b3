"""Subscription fields: the caller's todo events, from any instance.

A subscription lives as long as the access token it was authorised with.
When the token expires, the subscription ends with an UNAUTHENTICATED error
(graphql-ws, SSE) or its connection closes with 4403 (graphql-transport-ws,
graphql_app/http/websocket.py); the client refreshes its token and
subscribes again. An event that arrives after expiry is never delivered; nor
one after the token is revoked: the subscription ends with TOKEN_REVOKED.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from graphql_app.errors import AuthReason, Unauthenticated
from graphql_app.events import EventStream
from graphql_app.schema.context import Context
from graphql_app.schema.types import TodoEvent, TodoEventFilter, TodoEventKind, TodoType

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


async def render_events(context: Context, stream: EventStream) -> AsyncGenerator[TodoEvent, None]:
    """The stream's events as GraphQL objects, until it ends or the token expires."""
    watch_expiry = not context.expiry_closes_connection
    try:
        while True:
            timeout = seconds_left(context) if watch_expiry else None
            try:
                async with asyncio.timeout(timeout):
                    event = await anext(stream)
            except TimeoutError:
                check_token(context)
                continue  # the clock disagreed with the timer: wait again
            except StopAsyncIteration:
                return
            check_token(context)
            yield TodoEvent(
                kind=TodoEventKind(event.kind.value),
                todo_id=strawberry.ID(event.todo_id),
                todo=TodoType.from_model(event.todo) if event.todo else None,
                filter=None
                if event.matched is None
                else TodoEventFilter(is_completed=event.matched),
                count=event.count,
                updated_at=event.updated_at,
            )
    finally:
        await stream.aclose()
