"""GraphQL object types, built from the plain records of models.py."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.types import Info

from graphql_app import models
from graphql_app.cursors import encode_cursor
from graphql_app.errors import UserGone
from graphql_app.models import Position
from graphql_app.schema.context import Context
from graphql_app.schema.dataloaders import PageKey
from graphql_app.services.todos import parse_page_args


@strawberry.input(name="TodoFilter")
class TodoFilter:
    is_completed: bool | None = strawberry.field(
        default=None,
        description="Only completed (true) or only active (false) todos; all when absent.",
    )


async def load_page(
    info: Info[Context, None],
    user_id: str,
    first: int | None,
    after: str | None,
    filter: TodoFilter | None,
) -> TodoConnection:
    first = 20 if first is None else first
    position = parse_page_args(first, after)
    is_completed = filter.is_completed if filter else None
    page = await info.context.loaders.pages.load(PageKey(user_id, first, position, is_completed))
    return TodoConnection.from_page(page)


@strawberry.type(name="User")
class UserType:
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
        first: int | None = 20,
        after: str | None = None,
        filter: TodoFilter | None = None,
    ) -> TodoConnection:
        # A User is only ever reachable as an account its requester has proven to
        # own: `me`, the creator of the caller's own todos, or the user of an
        # AuthPayload (createUser, logIn, refreshToken: no access token yet).
        return await load_page(info, self.id, first, after, filter)


async def load_user(info: Info[Context, None], user_id: str) -> UserType:
    user = await info.context.loaders.users.load(user_id)
    if user is None:
        raise UserGone()
    return UserType.from_model(user)


@strawberry.type(name="Todo")
class TodoType:
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
            total_count=page.total_count,
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


@strawberry.enum(name="TodoEventKind")
class TodoEventKind(enum.Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


@strawberry.type(name="TodoEvent")
class TodoEvent:
    kind: TodoEventKind
    todo_id: strawberry.ID
    todo: TodoType | None = strawberry.field(
        description="The todo after the change; null for DELETED."
    )
