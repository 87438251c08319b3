"""Strawberry's ASGI view with our context, WebSocket authentication and settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from graphql_app.schema import AppSchema
from graphql_app.schema.context import Context, Services
from graphql_app.schema.dataloaders import Loaders
from graphql_app.settings import Settings


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
