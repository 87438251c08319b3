"""GraphQL object types, built from the plain records of models.py.

Resolvers read through the request's services (info.context.services), which
batch through their DataLoaders.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.types import Info
from strawberry.types.enum import has_enum_definition
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from graphql_app import models
from graphql_app.cursors import encode_cursor
from graphql_app.models import Position
from graphql_app.schema.context import Context
from graphql_app.schema.execution import InstanceTyped


@strawberry.input(name="TodoFilter")
class TodoFilter:
    is_completed: bool | None = strawberry.field(
        default=None,
        description="Only completed (true) or only active (false) todos; all when absent.",
    )


def _wanted(selections: list[Selection], found: set[str]) -> None:
    for selection in selections:
        if isinstance(selection, SelectedField):
            found.add(selection.name)
        elif isinstance(selection, (FragmentSpread, InlineFragment)):
            _wanted(selection.selections, found)
        else:  # a kind of selection this code does not know: ask for everything
            found.update(("edges", "totalCount"))


def connection_needs(info: Info[Context, None]) -> tuple[bool, bool]:
    """Whether the selected connection fields need the page, and the count.

    Fragments count as selected whatever their type condition or directives:
    loading something unneeded is harmless, leaving out something needed is not.
    """
    found: set[str] = set()
    for field in info.selected_fields:  # this connection field, as each node names it
        if isinstance(field, SelectedField):
            _wanted(field.selections, found)
        else:
            found.update(("edges", "totalCount"))
    count = "totalCount" in found
    # Only __typename and totalCount can be answered without the page itself.
    return bool(found - {"totalCount", "__typename"}), count


async def load_page(
    info: Info[Context, None],
    user_id: str,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: TodoFilter | None,
) -> TodoConnection:
    if last is not None and first is not None and not _given(info, "first"):
        first = None  # the schema's default (20) only counts when paging forward
    with_page, with_count = connection_needs(info)
    page = await info.context.services.todos.page(
        user_id,
        first,
        after,
        last,
        before,
        filter.is_completed if filter else None,
        with_page=with_page,
        with_count=with_count,
    )
    return TodoConnection.from_page(page)


def _given(info: Info[Context, None], argument: str) -> bool:
    """Whether the client wrote `argument` (not null) on this field, not left it to its default."""
    return any(
        isinstance(field, SelectedField) and field.arguments.get(argument) is not None
        for field in info.selected_fields
    )


FIRST = "The first todos after `after` (or from the start), paging forward."
AFTER = "A cursor: page forward from just after it."
LAST = "The last todos before `before` (or up to the end), paging backward."
BEFORE = "A cursor: page backward from just before it (with last)."


@strawberry.interface(
    name="Node",
    description="An object with a global id: `node(id:)` fetches it again (Relay).",
)
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque, stable identifier.")


@strawberry.type(name="User")
class UserType(InstanceTyped, Node):
    id: strawberry.ID = strawberry.field(description="Opaque, stable identifier.")
    email: str = strawberry.field(
        description="Stored lower-cased and trimmed; unique across users."
    )
    fullname: str
    created_at: datetime

    @classmethod
    def from_model(cls, user: models.User) -> UserType:
        return cls(
            id=strawberry.ID(user.id),
            email=user.email,
            fullname=user.fullname,
            created_at=user.created_at,
        )

    @strawberry.field(description="The user's todos, newest first.")
    async def todos(
        self,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
        filter: TodoFilter | None = None,
    ) -> TodoConnection:
        # A User is only ever reachable as an account its requester has proven to
        # own: `me`, the creator of the caller's own todos, or the user of an
        # AuthPayload (createUser, logIn, refreshToken: no access token yet).
        return await load_page(info, self.id, first, after, last, before, filter)


async def load_user(info: Info[Context, None], user_id: str) -> UserType:
    return UserType.from_model(await info.context.services.accounts.user(user_id))


@strawberry.type(name="Todo")
class TodoType(InstanceTyped, Node):
    id: strawberry.ID = strawberry.field(description="Opaque, stable identifier.")
    name: str
    is_completed: bool
    created_at: datetime
    updated_at: datetime
    user_id: strawberry.Private[str]

    @classmethod
    def from_model(cls, todo: models.Todo) -> TodoType:
        return cls(
            id=strawberry.ID(todo.id),
            name=todo.name,
            is_completed=todo.is_completed,
            created_at=todo.created_at,
            updated_at=todo.updated_at,
            user_id=todo.user_id,
        )

    @strawberry.field
    async def creator(self, info: Info[Context, None]) -> UserType:
        return await load_user(info, self.user_id)


MAX_NODES = 100


async def load_node(info: Info[Context, None], user_id: str, node_id: str) -> Node | None:
    """The caller themself, or one of the caller's todos (TodoService.node); else None."""
    found = await info.context.services.todos.node(user_id, node_id)
    if isinstance(found, models.User):
        return UserType.from_model(found)
    return TodoType.from_model(found) if found else None


@strawberry.type(name="TodoEdge")
class TodoEdge:
    cursor: str
    node: TodoType


@strawberry.type(name="PageInfo")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(
    name="TodoConnection",
    description="Relay-style cursor connection (Apollo's relayStylePagination works on it).",
)
class TodoConnection:
    edges: list[TodoEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(
        description="Number of todos matching the filter, over all pages."
    )

    @classmethod
    def from_page(cls, page: models.Page) -> TodoConnection:
        edges = [
            TodoEdge(
                cursor=encode_cursor(Position(t.created_at, t.id)), node=TodoType.from_model(t)
            )
            for t in page.todos
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            # None only when the query did not select totalCount; were it ever
            # rendered, the non-null field would answer an error, never a wrong number.
            total_count=cast(int, page.total_count),
        )


@strawberry.type(name="AuthPayload")
class AuthPayload:
    token: str = strawberry.field(
        description="Short-lived JWT access token; send it as `Authorization: Bearer <token>`."
    )
    refresh_token: str = strawberry.field(
        description="Opaque, single-use refresh token; trade it in with refreshToken."
    )
    expires_at: datetime = strawberry.field(description="When `token` expires.")
    user_id: strawberry.Private[str]

    @strawberry.field
    async def user(self, info: Info[Context, None]) -> UserType:
        return await load_user(info, self.user_id)


@strawberry.type(name="DeleteTodoPayload")
class DeleteTodoPayload:
    id: strawberry.ID
    message: str


def _describe_values(kind: type[enum.Enum], descriptions: dict[str, str]) -> None:
    """Describe the values of `kind`, a GraphQL enum, by name.

    Strawberry reads a value's description from `strawberry.enum_value` in the
    class body, which models.py (no GraphQL there) does not use: they go on the
    definition `strawberry.enum` gave the class (tests/test_schema_file.py shows
    them served).
    """
    assert has_enum_definition(kind)
    for value in kind.__strawberry_definition__.values:
        value.description = descriptions.get(value.name)


# The model's own enum is served: an event's kind goes out as it is.
strawberry.enum(models.TodoEventKind, name="TodoEventKind")
_describe_values(
    models.TodoEventKind,
    {
        "BULK_UPDATED": (
            "setAllTodosCompleted: every todo matching `filter` now has the opposite "
            "isCompleted and updatedAt = `updatedAt`; `count` of them. One event, however many."
        ),
        "CLEARED": (
            "clearCompletedTodos: every todo matching `filter` (isCompleted: true) was "
            "deleted; `count` of them. One event, however many."
        ),
    },
)


@strawberry.type(
    name="TodoEventFilter",
    description="The todos a bulk change applied to, in the terms of TodoFilter.",
)
class TodoEventFilter:
    is_completed: bool


@strawberry.type(name="TodoEvent")
class TodoEvent:
    kind: models.TodoEventKind
    todo_id: strawberry.ID = strawberry.field(
        description=(
            "The todo's id; for BULK_UPDATED and CLEARED an id of the change itself, "
            "which no todo has."
        )
    )
    todo: TodoType | None = strawberry.field(
        description="The todo after the change; null for DELETED, BULK_UPDATED and CLEARED."
    )
    filter: TodoEventFilter | None = strawberry.field(
        default=None,
        description="BULK_UPDATED and CLEARED: the todos the change applied to; null otherwise.",
    )
    count: int | None = strawberry.field(
        default=None,
        description="BULK_UPDATED and CLEARED: how many todos changed; null otherwise.",
    )
    updated_at: datetime | None = strawberry.field(
        default=None,
        description="BULK_UPDATED: the updatedAt the changed todos now have; null otherwise.",
    )
