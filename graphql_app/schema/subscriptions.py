"""Subscription fields: the caller's todo events, from any instance.

The events and their rules come from the todo service (TodoService.subscribe):
a subscription lives as long as the access token it was authorised with.
When the token expires, the subscription ends with an UNAUTHENTICATED error
(graphql-ws, SSE) or its connection closes with 4403 (graphql-transport-ws,
graphql_app/http/websocket.py); the client refreshes its token and
subscribes again. An event that arrives after expiry is never delivered. A
revocation (changePassword, logOutEverywhere, deleteAccount, on any instance)
ends the subscriptions resting on the revoked tokens at once, with
TOKEN_REVOKED.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from graphql_app import models
from graphql_app.schema.context import Context
from graphql_app.schema.types import TodoEvent, TodoEventFilter, TodoType


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Changes to the caller's todos, from any server instance.")
    async def todo_events(self, info: Info[Context, None]) -> AsyncGenerator[TodoEvent, None]:
        # A plain coroutine (not a generator), so that these refusals come before
        # the stream starts: an `error` message rather than a result.
        context = info.context
        events = await context.services.todos.subscribe(
            context.require_caller(), watch_expiry=not context.expiry_closes_connection
        )
        return render_events(events)


async def render_events(
    events: AsyncGenerator[models.TodoEvent, None],
) -> AsyncGenerator[TodoEvent, None]:
    """The service's events as GraphQL objects; closing this closes them."""
    async with contextlib.aclosing(events):
        async for event in events:
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
