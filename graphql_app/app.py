"""create_app(settings): routes, middleware and the process's shared parts."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from graphql_app.errors import ServiceUnavailable
from graphql_app.events import EventBus, InProcessEventBus
from graphql_app.http.request_log import RequestLogMiddleware
from graphql_app.http.view import GraphQLView
from graphql_app.schema import build_schema
from graphql_app.schema.context import Services
from graphql_app.security.passwords import PasswordHasher
from graphql_app.security.tokens import TokenService
from graphql_app.services import Clock, Deps, utc_now
from graphql_app.settings import Settings, load_settings
from graphql_app.storage import Storage, open_storage

log = logging.getLogger("graphql_app")


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    storage: Storage | None = None,
    events: EventBus | None = None,
) -> Starlette:
    """The ASGI app. `storage`, `events` and `clock` may be given by tests."""
    settings = settings or load_settings()
    storage = storage or open_storage(
        settings.storage_url,
        pool_size=settings.db_pool_size,
        query_timeout=settings.db_query_timeout,
    )
    deps = Deps(
        storage=storage,
        events=events or InProcessEventBus(),
        passwords=PasswordHasher(settings.bcrypt_rounds, settings.password_hash_threads),
        tokens=TokenService(
            settings.secret_key,
            settings.jwt_issuer,
            settings.jwt_audience,
            settings.access_token_ttl,
            settings.refresh_token_ttl,
        ),
        clock=clock,
    )
    services = Services.build(deps)
    schema = build_schema(introspection=settings.introspection_enabled)
    view = GraphQLView(schema, services, settings)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await storage.ping()
        except ServiceUnavailable:
            return JSONResponse({"status": "unavailable", "storage": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "storage": "up"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await deps.events.close()
            await storage.close()
            deps.passwords.close()

    app = Starlette(
        routes=[
            Route("/graphql", view),
            WebSocketRoute("/graphql", view),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestLogMiddleware)
    app.state.deps = deps
    app.state.settings = settings
    return app


def create_app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and `python -m graphql_app serve`."""
    return create_app(load_settings())
