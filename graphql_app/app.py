"""create_app(settings): routes, middleware and the process's shared parts."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from graphql_app.draining import Drain
from graphql_app.errors import ServiceUnavailable
from graphql_app.events import EventBus, open_event_bus
from graphql_app.http.body_limit import BodyLimitMiddleware
from graphql_app.http.graphiql import ASSETS_PATH, graphiql_assets
from graphql_app.http.persisted_queries import open_query_cache
from graphql_app.http.request_log import RequestLogMiddleware
from graphql_app.http.view import GraphQLView
from graphql_app.log_config import configure_logging
from graphql_app.metrics import Metrics, start_metrics_listener
from graphql_app.rate_limits import AuthRateLimits
from graphql_app.schema import build_schema, query_limits
from graphql_app.security.passwords import PasswordHasher
from graphql_app.security.tokens import TokenService
from graphql_app.services import ServiceFactory
from graphql_app.services.deps import Clock, Deps, utc_now
from graphql_app.settings import Settings, load_settings
from graphql_app.storage import Storage, open_storage

log = logging.getLogger("graphql_app")


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    storage: Storage | None = None,
    events: EventBus | None = None,
    fast_execution: bool = True,
) -> Starlette:
    """The ASGI app. `storage`, `events` and `clock` may be given by tests, and
    `fast_execution=False` serves through graphql-core's standard executor."""
    settings = settings or load_settings()
    storage = storage or open_storage(
        settings.storage_url,
        pool_size=settings.db_pool_size,
        query_timeout=settings.db_query_timeout,
    )
    deps = Deps(
        storage=storage,
        # Redis when REDIS_URL is set, so that every instance's subscribers see every change.
        events=events or open_event_bus(settings.redis_url, key_prefix=settings.redis_key_prefix),
        passwords=PasswordHasher(settings.bcrypt_rounds, settings.password_hash_threads),
        tokens=TokenService(
            settings.secret_key,
            settings.jwt_issuer,
            settings.jwt_audience,
            settings.access_token_ttl,
            settings.refresh_token_ttl,
        ),
        clock=clock,
        rate_limits=AuthRateLimits(
            settings.auth_rate_limit,
            settings.login_account_rate_limit,
            per_account_ceiling=settings.login_account_ceiling,
            redis_url=settings.redis_url,
            key_prefix=settings.redis_key_prefix,
        ),
    )
    services = ServiceFactory(deps)
    metrics = Metrics()
    schema = build_schema(
        limits=query_limits(settings),
        max_tokens=settings.max_tokens,
        max_batch_size=settings.max_batch_size if settings.batch_requests else None,
        metrics=metrics,
        fast_execution=fast_execution,
    )
    query_cache = open_query_cache(
        settings.redis_url, settings.apq_cache_size, settings.apq_ttl, settings.redis_key_prefix
    )
    view = GraphQLView(schema, services, settings, query_cache=query_cache)

    drain = Drain(settings.drain_seconds)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if drain.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        try:
            await storage.ping()
        except ServiceUnavailable:
            return JSONResponse({"status": "unavailable", "storage": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "storage": "up"})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=metrics.content_type)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Everything built so far (schema, caches, modules) lives as long as the
        # process: move it out of the collector's sight, so a full collection,
        # which a request can land on, walks only what requests made (the bench
        # saw 20-30 ms pauses before).
        gc.collect()
        gc.freeze()
        drain.install()
        listener = start_metrics_listener(metrics, settings.metrics_listener)
        await deps.revocations.warm_up()
        try:
            yield
        finally:
            if listener is not None:
                listener.close()
            await query_cache.close()
            await deps.close()

    routes: list[BaseRoute] = [
        Route("/graphql", view),
        WebSocketRoute("/graphql", view),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if settings.metrics_on_api_port:
        routes.append(Route("/metrics", metrics_endpoint))
    if settings.graphiql_enabled:
        routes.append(Mount(ASSETS_PATH, graphiql_assets()))
    app = Starlette(routes=routes, lifespan=lifespan)
    # Last added runs first: request id and log, then CORS, then the body limit.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            # PUT and DELETE: graphql-sse's single connection mode (http/sse_single.py).
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=[
                "authorization",
                "content-type",
                "apollo-require-preflight",
                "x-apollo-operation-name",
                "apollographql-client-name",
                "apollographql-client-version",
                "x-request-id",
                "x-graphql-event-stream-token",
            ],
            expose_headers=["x-request-id"],
            max_age=600,
        )
    app.add_middleware(RequestLogMiddleware, metrics=metrics)
    if settings.forwarded_allow_list:
        # uvicorn's own middleware, so that any ASGI server gets the same rule: the
        # client is the right-most X-Forwarded-For entry that is not a trusted proxy.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_list)
    app.state.deps = deps
    app.state.query_cache = query_cache
    app.state.metrics = metrics
    app.state.schema = schema
    app.state.settings = settings
    return app


def create_app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and `python -m graphql_app serve`."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
