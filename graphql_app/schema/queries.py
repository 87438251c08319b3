"""Query fields: thin resolvers over the services."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from graphql_app.schema.context import Context
from graphql_app.schema.types import (
    TodoConnection,
    TodoFilter,
    TodoType,
    UserType,
    load_page,
    load_user,
)


@strawberry.type
class Query:
    @strawberry.field(
        description="The authenticated user (UNAUTHENTICATED error without a valid token)."
    )
    async def me(self, info: Info[Context, None]) -> UserType:
        return await load_user(info, info.context.require_user_id())

    @strawberry.field(
        description="One of the caller's todos; null when it does not exist or is someone else's."
    )
    async def todo(self, info: Info[Context, None], id: strawberry.ID) -> TodoType | None:
        user_id = info.context.require_user_id()
        todo = await info.context.loaders.todos.load((user_id, str(id)))
        return TodoType.from_model(todo) if todo else None

    @strawberry.field(description="The caller's todos, newest first.")
    async def todos(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        filter: TodoFilter | None = None,
    ) -> TodoConnection:
        return await load_page(info, info.context.require_user_id(), first, after, filter)
