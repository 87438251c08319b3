"""Stock Strawberry: what graphql_app's read scenarios cost on Strawberry as shipped.

A plain code-first schema with the fields of the bench's read scenarios, named
and shaped as graphql_app's (tests/test_bench.py compares them with
schema.graphql), served by `strawberry.asgi.GraphQL` with nothing of
graphql_app's around it: no custom executor, no parse or validation cache, no
token cache, no fast paths, no middleware. The resolvers call the project's
storage layer (`open_storage(url)`, `list_todos`, `get_users`) as graphql_app's
do, so the SQL is the same statements; a per-request Strawberry DataLoader
batches the users (`me` and every todo's `creator`). The bearer token is
verified with PyJWT on every request (HS256, SECRET_KEY, `aud`, `iss`, expiry,
`typ` = "access"). Production settings: no GraphiQL, introspection off with
Strawberry's own `DisableIntrospection` extension.

Run: `python -m bench.strawberry_stock --port 8002` with graphql_app's
environment (DATABASE_URL, SECRET_KEY, ...), served by uvicorn with the options
the REST baseline uses (one worker, uvloop and httptools, uvicorn's access log).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import jwt
import strawberry
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.dataloader import DataLoader
from strawberry.extensions import DisableIntrospection
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from bench.baseline_app import app_with_health, serve, settings_storage
from graphql_app import models
from graphql_app.cursors import decode_cursor, encode_cursor
from graphql_app.settings import Settings, load_settings
from graphql_app.storage import Storage

MAX_FIRST = 100


def _unauthenticated(message: str, reason: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "UNAUTHENTICATED", "reason": reason})


def _bad_input(field: str, problem: str) -> GraphQLError:
    return GraphQLError(
        f"{field}: {problem}", extensions={"code": "BAD_USER_INPUT", "fields": {field: problem}}
    )


@dataclass
class Context:
    storage: Storage
    users: DataLoader[str, models.User | None]
    user_id: str | None
    problem: GraphQLError | None

    def require_user_id(self) -> str:
        if self.user_id is None:
            raise self.problem or _unauthenticated("Authentication required", "TOKEN_MISSING")
        return self.user_id


def _selects_count(selections: Sequence[Selection]) -> bool:
    """Whether a connection's selection asks for totalCount (through fragments too)."""
    return any(
        selection.name == "totalCount"
        if isinstance(selection, SelectedField)
        else isinstance(selection, (FragmentSpread, InlineFragment))
        and _selects_count(selection.selections)
        for selection in selections
    )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class TodoEdge:
    cursor: str
    node: Todo


@strawberry.type
class TodoConnection:
    edges: list[TodoEdge]
    page_info: PageInfo
    total_count: int


async def _page(
    info: Info[Context, None], user_id: str, first: int | None, after: str | None
) -> TodoConnection:
    size = 20 if first is None else first
    if not 1 <= size <= MAX_FIRST:
        raise _bad_input("first", f"Must be between 1 and {MAX_FIRST}")
    position = None
    if after is not None:
        try:
            position = decode_cursor(after)
        except ValueError:
            raise _bad_input("after", "Invalid cursor") from None
    with_count = any(
        isinstance(field, SelectedField) and _selects_count(field.selections)
        for field in info.selected_fields
    )
    page = await info.context.storage.list_todos(
        user_id, size, position, None, with_count=with_count
    )
    edges = [
        TodoEdge(cursor=encode_cursor(models.Position(t.created_at, t.id)), node=Todo.of(t))
        for t in page.todos
    ]
    return TodoConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total_count or 0,
    )


First = Annotated[int | None, strawberry.argument()]


@strawberry.type
class User:
    id: strawberry.ID
    email: str
    fullname: str
    created_at: datetime

    @strawberry.field
    async def todos(
        self, info: Info[Context, None], first: First = 20, after: str | None = None
    ) -> TodoConnection:
        return await _page(info, self.id, first, after)


async def _user(info: Info[Context, None], user_id: str) -> User:
    user = await info.context.users.load(user_id)
    if user is None:
        raise _unauthenticated("This account no longer exists", "TOKEN_REVOKED")
    return User(
        id=strawberry.ID(user.id),
        email=user.email,
        fullname=user.fullname,
        created_at=user.created_at,
    )


@strawberry.type
class Todo:
    id: strawberry.ID
    name: str
    is_completed: bool
    created_at: datetime
    updated_at: datetime
    user_id: strawberry.Private[str]

    @classmethod
    def of(cls, todo: models.Todo) -> Todo:
        return cls(
            id=strawberry.ID(todo.id),
            name=todo.name,
            is_completed=todo.is_completed,
            created_at=todo.created_at,
            updated_at=todo.updated_at,
            user_id=todo.user_id,
        )

    @strawberry.field
    async def creator(self, info: Info[Context, None]) -> User:
        return await _user(info, self.user_id)


@strawberry.type
class Query:
    @strawberry.field
    async def me(self, info: Info[Context, None]) -> User:
        return await _user(info, info.context.require_user_id())

    @strawberry.field
    async def todos(
        self, info: Info[Context, None], first: First = 20, after: str | None = None
    ) -> TodoConnection:
        return await _page(info, info.context.require_user_id(), first, after)


schema = strawberry.Schema(query=Query, extensions=[DisableIntrospection])


class StockGraphQL(GraphQL[Context, None]):
    """strawberry.asgi.GraphQL with a context of the caller and the storage."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        super().__init__(schema, graphql_ide=None)
        self.settings = settings
        self.storage = storage

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        user_id, problem = self._caller(request.headers.get("authorization", ""))
        users = DataLoader(load_fn=self.storage.get_users)
        return Context(self.storage, users, user_id, problem)

    def _caller(self, authorization: str) -> tuple[str | None, GraphQLError | None]:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, _unauthenticated("Authentication required", "TOKEN_MISSING")
        try:
            claims: dict[str, Any] = jwt.decode(
                token.strip(),
                self.settings.secret_key,
                algorithms=["HS256"],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "jti", "typ"]},
            )
        except jwt.ExpiredSignatureError:
            return None, _unauthenticated("Access token expired; refresh it", "TOKEN_EXPIRED")
        except jwt.PyJWTError:
            return None, _unauthenticated("Invalid access token", "TOKEN_INVALID")
        subject = claims["sub"]
        if claims["typ"] != "access" or not isinstance(subject, str) or not subject:
            return None, _unauthenticated("Invalid access token", "TOKEN_INVALID")
        return subject, None


def create_app(settings: Settings | None = None, storage: Storage | None = None) -> Starlette:
    """/graphql (stock Strawberry) and /healthz; `storage` may be given by tests."""
    settings = settings or load_settings()
    store = storage or settings_storage(settings)
    # Mounted as Strawberry's Starlette guide mounts it.
    return app_with_health(store, [Route("/graphql", StockGraphQL(settings, store))])


def main() -> None:
    """Serve with uvicorn, with the options of the REST baseline (bench/baseline_app.py)."""
    serve("bench.strawberry_stock:create_app", __doc__, 8002)


if __name__ == "__main__":
    main()
