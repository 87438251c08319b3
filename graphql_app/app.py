"""create_app(settings): routes, middleware and the process's shared parts."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from graphql_app.errors import ServiceUnavailable
from graphql_app.events import EventBus, InProcessEventBus
from graphql_app.request_log import RequestLogMiddleware
from graphql_app.schema import AppSchema, build_schema
from graphql_app.schema.context import Context, Services
from graphql_app.schema.dataloaders import Loaders
from graphql_app.security.passwords import PasswordHasher
from graphql_app.security.tokens import TokenService
from graphql_app.services import Clock, Deps, utc_now
from graphql_app.settings import Settings, load_settings
from graphql_app.storage import Storage, open_storage

log = logging.getLogger("graphql_app")


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context and WebSocket authentication."""

    def __init__(self, schema: AppSchema, services: Services, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            keep_alive=True,
            keep_alive_interval=15,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        )
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = Context(
            services=self.services,
            loaders=Loaders(self.services.deps.storage),
            request=request,
            response=response,
        )
        if isinstance(request, Request):
            context.authenticate(request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> None:
        params = context.connection_params or {}
        authorization = next(
            (v for k, v in params.items() if k.lower() == "authorization" and isinstance(v, str)),
            None,
        )
        context.authenticate(authorization)
        if context.user_id is None:
            raise ConnectionRejectionError({"message": context.auth_problem})


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
