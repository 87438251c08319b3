"""Subscription fields: the caller's todo events, from any instance."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from graphql_app.schema.context import Context
from graphql_app.schema.types import TodoEvent, TodoEventKind, TodoType


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Changes to the caller's todos, from any server instance.")
    async def todo_events(self, info: Info[Context, None]) -> AsyncGenerator[TodoEvent, None]:
        user_id = info.context.require_user_id()
        events = info.context.services.deps.events.subscribe(user_id)
        try:
            async for event in events:
                yield TodoEvent(
                    kind=TodoEventKind(event.kind.value),
                    todo_id=strawberry.ID(event.todo_id),
                    todo=TodoType.from_model(event.todo) if event.todo else None,
                )
        finally:
            await events.aclose()  # type: ignore[attr-defined]
