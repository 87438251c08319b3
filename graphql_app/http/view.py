"""Strawberry's ASGI view with our context, WebSocket authentication and settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)

from graphql_app.http.http_view import HTTPGraphQLView
from graphql_app.http.persisted_queries import QueryCache
from graphql_app.http.websocket import TransportWSHandler
from graphql_app.http.websocket_adapter import TextWebSocketAdapter
from graphql_app.http.websocket_legacy import LegacyWSHandler
from graphql_app.schema import AppSchema
from graphql_app.schema.context import Context, client_address
from graphql_app.services import ServiceFactory
from graphql_app.settings import Settings


class GraphQLView(HTTPGraphQLView):
    """Strawberry's ASGI view with our context and WebSocket authentication.

    The HTTP side (GraphQL over HTTP, CSRF, APQ, batching, limits) is in
    http_view.py.
    """

    # Pings and token expiry on graphql-transport-ws (graphql_app/http/websocket.py).
    graphql_transport_ws_handler_class = TransportWSHandler
    # Every operation type, clear refusals (graphql_app/http/websocket_legacy.py).
    graphql_ws_handler_class = LegacyWSHandler
    # Text frames, bounded JSON-object messages (graphql_app/http/websocket_adapter.py).
    websocket_adapter_class = TextWebSocketAdapter

    def __init__(
        self,
        schema: AppSchema,
        services: ServiceFactory,
        settings: Settings,
        *,
        query_cache: QueryCache | None = None,
    ) -> None:
        super().__init__(
            schema,
            settings=settings,
            query_cache=query_cache,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            keep_alive=True,
            keep_alive_interval=settings.ws_keep_alive_interval,
            # WebSockets, and for clients that cannot use them, subscriptions over
            # HTTP: graphql-sse's distinct connections mode (Accept: text/event-stream)
            # and Apollo's multipart subscriptions (Accept: multipart/mixed).
            subscription_protocols=(
                GRAPHQL_TRANSPORT_WS_PROTOCOL,
                GRAPHQL_WS_PROTOCOL,
                GRAPHQL_SSE_PROTOCOL,
                MULTIPART_SUBSCRIPTION_PROTOCOL,
            ),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            # Browsers apply no CORS to WebSocket handshakes: the same list decides.
            # Same-origin pages and clients without an Origin header always connect.
            allowed_origins=settings.cors_origin_list,
        )
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = Context(
            services=self.services.for_request(),
            request=request,
            response=response,
            client=client_address(request),
        )
        if isinstance(request, Request):
            await context.authenticate(request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> None:
        refusal = await context.authenticate_connection()
        if refusal is not None:
            # graphql-ws (legacy) sends this payload as its connection_error;
            # graphql-transport-ws closes with 4403 and the reason (websocket.py).
            raise ConnectionRejectionError(refusal.formatted)
