"""The REST baseline: what each GraphQL scenario costs without GraphQL.

A minimal Starlette app that does the same work as graphql_app for the bench
scenarios and nothing else: verify the bearer token with the project's
TokenService, make the same storage calls through the project's storage
layer (open_storage), and answer the same JSON that the GraphQL response
carries (`{"data": {...}}`, same field names, same cursor and DateTime
formats). Served by uvicorn exactly as `python -m graphql_app serve` serves
the app, so the ratio graphql_app ÷ baseline is the price of the GraphQL
layer and everything around it.

Not in it, on purpose: GraphQL parsing, validation and execution, the
request-log middleware, DataLoaders, the event bus. Routes:

    GET    /todos?first=N   (a), (b): todos { totalCount edges { cursor node } }
    GET    /me?first=N      (c): me { fullname todos { edges { node { name creator } } } }
    POST   /todos           {"name": ..., "isCompleted": ...} → createTodo
    PATCH  /todos/{id}      {"name": ..., "isCompleted": ...} → updateTodo
    DELETE /todos/{id}      → deleteTodo
    GET    /healthz

Run: `python -m bench.baseline_app --port 8001` with the same environment as
graphql_app (DATABASE_URL, SECRET_KEY, ...).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graphql_app.cursors import encode_cursor
from graphql_app.errors import AppError, NotFound, Unauthenticated
from graphql_app.models import Position, Todo
from graphql_app.security.tokens import TokenError, TokenService
from graphql_app.services.todos import parse_page_args
from graphql_app.settings import Settings, load_settings
from graphql_app.storage import Storage, open_storage
from graphql_app.validation import Problems, clean_todo_name


def _datetime(moment: datetime) -> str:
    # The same text as graphql_app's DateTime scalar.
    return moment.astimezone(UTC).isoformat()


def _todo_json(todo: Todo) -> dict[str, Any]:
    return {
        "id": todo.id,
        "name": todo.name,
        "isCompleted": todo.is_completed,
        "createdAt": _datetime(todo.created_at),
        "updatedAt": _datetime(todo.updated_at),
    }


def _error(exc: AppError, status: int) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": exc.message, "extensions": exc.extensions}]}, status_code=status
    )


def _first(request: Request) -> int:
    raw = request.query_params.get("first", "20")
    try:
        return int(raw)
    except ValueError:
        return 0  # parse_page_args turns it into BAD_USER_INPUT on `first`


class Baseline:
    """The routes, over one storage and one token service, like create_app's."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.storage = storage or settings_storage(settings)
        self.tokens = TokenService(
            settings.secret_key,
            settings.jwt_issuer,
            settings.jwt_audience,
            settings.access_token_ttl,
            settings.refresh_token_ttl,
        )

    def _user_id(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated()
        try:
            return self.tokens.decode_access(token.strip(), datetime.now(UTC)).user_id
        except TokenError:
            raise Unauthenticated("Invalid or expired access token") from None

    async def _guarded(self, request: Request, work: Any) -> Response:
        try:
            user_id = self._user_id(request)
            return JSONResponse(await work(user_id))
        except Unauthenticated as exc:
            return _error(exc, 401)
        except NotFound as exc:
            return _error(exc, 404)
        except AppError as exc:
            return _error(exc, 400 if exc.code == "BAD_USER_INPUT" else 503)

    async def todos(self, request: Request) -> Response:
        async def work(user_id: str) -> dict[str, Any]:
            first = _first(request)
            position = parse_page_args(first, request.query_params.get("after")).cursor
            page = await self.storage.list_todos(user_id, first, position, None)
            edges = [
                {"cursor": encode_cursor(Position(t.created_at, t.id)), "node": _todo_json(t)}
                for t in page.todos
            ]
            return {"data": {"todos": {"totalCount": page.total_count, "edges": edges}}}

        return await self._guarded(request, work)

    async def me(self, request: Request) -> Response:
        async def work(user_id: str) -> dict[str, Any]:
            first = _first(request)
            parse_page_args(first, None)
            (user,) = await self.storage.get_users([user_id])
            if user is None:
                raise Unauthenticated("This account no longer exists")
            page = await self.storage.list_todos(user_id, first, None, None)
            # Every todo of the page is the caller's: the creator is the user already read.
            creator = {"email": user.email}
            edges = [{"node": {"name": t.name, "creator": creator}} for t in page.todos]
            return {"data": {"me": {"fullname": user.fullname, "todos": {"edges": edges}}}}

        return await self._guarded(request, work)

    async def create_todo(self, request: Request) -> Response:
        body = await request.json()

        async def work(user_id: str) -> dict[str, Any]:
            problems = Problems()
            name = clean_todo_name(problems, "input.name", str(body.get("name", "")))
            problems.check()
            todo = await self.storage.create_todo(
                user_id, name, bool(body.get("isCompleted")), datetime.now(UTC)
            )
            return {"data": {"createTodo": _todo_json(todo)}}

        return await self._guarded(request, work)

    async def update_todo(self, request: Request) -> Response:
        body = await request.json()
        todo_id = request.path_params["todo_id"]

        async def work(user_id: str) -> dict[str, Any]:
            name = body.get("name")
            if name is not None:
                problems = Problems()
                name = clean_todo_name(problems, "input.name", str(name))
                problems.check()
            done = body.get("isCompleted")
            todo = await self.storage.update_todo(
                user_id, todo_id, name, None if done is None else bool(done), datetime.now(UTC)
            )
            if todo is None:
                raise NotFound("Todo not found")
            return {"data": {"updateTodo": _todo_json(todo)}}

        return await self._guarded(request, work)

    async def delete_todo(self, request: Request) -> Response:
        todo_id = request.path_params["todo_id"]

        async def work(user_id: str) -> dict[str, Any]:
            if not await self.storage.delete_todo(user_id, todo_id):
                raise NotFound("Todo not found")
            return {"data": {"deleteTodo": {"id": todo_id, "message": "Todo deleted"}}}

        return await self._guarded(request, work)


def settings_storage(settings: Settings) -> Storage:
    """The storage of `settings`, opened as graphql_app's create_app opens it."""
    return open_storage(
        settings.storage_url,
        pool_size=settings.db_pool_size,
        query_timeout=settings.db_query_timeout,
    )


def app_with_health(storage: Storage, routes: list[Route]) -> Starlette:
    """`routes` and GET /healthz, closing `storage` at shutdown."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await storage.close()

    return Starlette(routes=[*routes, Route("/healthz", healthz)], lifespan=lifespan)


def create_app(settings: Settings | None = None, storage: Storage | None = None) -> Starlette:
    """The baseline ASGI app; `storage` may be given by tests."""
    baseline = Baseline(settings or load_settings(), storage)
    return app_with_health(
        baseline.storage,
        [
            Route("/todos", baseline.todos, methods=["GET"]),
            Route("/todos", baseline.create_todo, methods=["POST"]),
            Route("/todos/{todo_id}", baseline.update_todo, methods=["PATCH"]),
            Route("/todos/{todo_id}", baseline.delete_todo, methods=["DELETE"]),
            Route("/me", baseline.me, methods=["GET"]),
        ],
    )


def serve(factory: str, description: str | None, default_port: int) -> None:
    """Serve the app `factory` ("module:function") with uvicorn, as graphql_app's
    `serve` does: one worker, uvloop and httptools, no server header; uvicorn's
    access log stands for graphql_app's request log."""
    import logging

    import uvicorn

    module = factory.partition(":")[0]
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    load_settings()  # fail fast on bad configuration, like graphql_app
    uvicorn.run(
        factory,
        factory=True,
        host=args.host,
        port=args.port,
        workers=1,
        server_header=False,
        proxy_headers=False,
    )


def main() -> None:
    """Serve the baseline with uvicorn, with the options graphql_app's `serve` uses."""
    serve("bench.baseline_app:create_app", __doc__, 8001)


if __name__ == "__main__":
    main()
