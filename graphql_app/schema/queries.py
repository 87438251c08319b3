"""Query fields: thin resolvers over the services."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry
from strawberry.types import Info

from graphql_app.errors import BadUserInput
from graphql_app.schema.context import Context
from graphql_app.schema.types import (
    AFTER,
    BEFORE,
    FIRST,
    LAST,
    MAX_NODES,
    Node,
    TodoConnection,
    TodoFilter,
    TodoType,
    UserType,
    load_node,
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
        todo = await info.context.services.todos.get(user_id, str(id))
        return TodoType.from_model(todo) if todo else None

    @strawberry.field(description="The caller's todos, newest first.")
    async def todos(
        self,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
        filter: TodoFilter | None = None,
    ) -> TodoConnection:
        user_id = info.context.require_user_id()
        return await load_page(info, user_id, first, after, last, before, filter)

    @strawberry.field(
        description=(
            "The object with this id: one of the caller's todos, or the caller; null for"
            " anything else (someone else's todo or account, an unknown or malformed id)."
        )
    )
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return await load_node(info, info.context.require_user_id(), str(id))

    @strawberry.field(description=f"`node` for each id, in order (at most {MAX_NODES} ids).")
    async def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        user_id = info.context.require_user_id()
        if len(ids) > MAX_NODES:
            raise BadUserInput({"ids": f"At most {MAX_NODES} ids"})
        return list(await asyncio.gather(*(load_node(info, user_id, str(i)) for i in ids)))
