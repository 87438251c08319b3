"""GraphQL over HTTP as Apollo Client and the spec expect it, on Strawberry's ASGI view.

`HTTPGraphQLView` overrides the hooks of `strawberry.http.async_base_view`
for the HTTP side only (the WebSocket side stays in view.py):

- content negotiation and status codes (responses.py, media_types.py);
- CSRF prevention (csrf.py), before the body is read;
- parameters checked (types of query, variables, operationName,
  extensions; JSON objects only), batches bounded;
- automatic persisted queries (persisted_queries.py), over POST and GET;
- GET for queries only: a mutation over GET is 405 with `Allow: POST`;
- a time limit on each request;
- the GraphiQL page served with its own assets (graphiql.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, NamedTuple

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, GraphQLRequestProtocol
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType

from graphql_app.errors import (
    AppError,
    BadRequest,
    Conflict,
    NotFound,
    PersistedQueryNotFound,
    ServiceUnavailable,
)
from graphql_app.http import csrf
from graphql_app.http.graphiql import graphiql_page
from graphql_app.http.media_types import (
    APPLICATION_JSON,
    SSE,
    StreamProtocol,
    choose_stream,
    negotiate,
)
from graphql_app.http.persisted_queries import (
    LRUQueryCache,
    PersistedQuery,
    PersistedQueryProblem,
    QueryCache,
    check_hash,
    requested_persisted_query,
)
from graphql_app.http.responses import (
    NO_CACHE,
    encode,
    error_codes,
    error_response,
    is_request_error,
    status_for,
)
from graphql_app.http.sse_single import TOKEN_HEADER, TOKEN_PARAM, Reservation, Reservations
from graphql_app.http.streams import STREAM_TRANSPORTS, LFSSETransport, sse_event
from graphql_app.request_record import current_record
from graphql_app.schema.context import Context
from graphql_app.schema.parsing import is_subscription
from graphql_app.settings import Settings
from graphql_app.time_limit import limit_until_first_write, outlive_request_limit

# GET and POST for GraphQL; PUT and DELETE for graphql-sse's single connection mode.
ALLOW = "GET, POST, PUT, DELETE"
log = logging.getLogger("graphql_app.http")

BATCHING_OFF = "Batching is not enabled: send one operation per request"
SUBSCRIPTION_NEEDS_STREAM = (
    "A subscription needs a stream: subscribe over WebSocket (graphql-transport-ws or"
    " graphql-ws) at this URL, or over HTTP with an Accept header that allows"
    " text/event-stream (server-sent events, graphql-sse) or"
    ' multipart/mixed;subscriptionSpec="1.0" (Apollo\'s multipart subscriptions)'
)
NOT_ACCEPTABLE = (
    "The Accept header allows neither application/graphql-response+json nor application/json"
)


class MethodNotAllowed(HTTPException):
    def __init__(self, reason: str, allow: str) -> None:
        super().__init__(405, reason)
        self.allow = allow


# What a refusal's status says, for the refusals Strawberry and this view raise as HTTPException.
REFUSALS: dict[int, type[AppError]] = {404: NotFound, 409: Conflict}


def _refused(error: AppError) -> ExecutionResult:
    """An operation refused before it ran: a request error (graphql-core copies the code)."""
    return ExecutionResult(data=None, errors=[GraphQLError(error.message, original_error=error)])


# Content-Type values that Strawberry reads as JSON, as clients send them.
PLAIN_JSON = frozenset(
    {"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"}
)


def _persisted(extensions: dict[str, Any]) -> bool:
    """Whether `extensions` ask for a persisted query (or ask wrongly: refused elsewhere)."""
    try:
        return requested_persisted_query(extensions) is not None
    except PersistedQueryProblem:
        return True


class PlainParameters(NamedTuple):
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


def _plain_parameters(data: object) -> PlainParameters | None:
    """The parameters of a JSON body that is one operation, every parameter of the
    type the spec wants, and no persisted query; None otherwise."""
    if type(data) is not dict:
        return None
    query, variables = data.get("query"), data.get("variables")
    operation_name, extensions = data.get("operationName"), data.get("extensions")
    if (
        isinstance(query, str)
        and (variables is None or type(variables) is dict)
        and (operation_name is None or isinstance(operation_name, str))
        and (extensions is None or (type(extensions) is dict and not _persisted(extensions)))
    ):
        return PlainParameters(query, variables, operation_name, extensions)
    return None


def _check_parameters(data: GraphQLRequestData) -> None:
    """The spec's parameter types; Strawberry leaves some unchecked (operationName, batches)."""
    checks = (
        ("query", data.query, str),
        ("variables", data.variables, dict),
        ("operationName", data.operation_name, str),
        ("extensions", data.extensions, dict),
    )
    for name, value, kind in checks:
        if value is not None and not isinstance(value, kind):
            expected = "a string" if kind is str else "an object"
            raise HTTPException(400, f"The `{name}` parameter must be {expected} or null")


class HTTPGraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view, held to GraphQL over HTTP and Apollo's conventions."""

    stream_transport_classes_by_protocol = STREAM_TRANSPORTS

    def __init__(
        self,
        schema: Any,
        *,
        settings: Settings,
        query_cache: QueryCache | None = None,
        **options: Any,
    ) -> None:
        super().__init__(schema, **options)
        self.settings = settings
        self.query_cache = query_cache or LRUQueryCache(settings.apq_cache_size)
        self.reservations = Reservations()
        # The streams served, by their transports' names ("sse", not "graphql-sse").
        self.streams = {
            transport.protocol
            for name, transport in self.stream_transport_classes_by_protocol.items()
            if name in self.protocols
        }

    # -- the ASGI entry: time limit, refusals as GraphQL error bodies ------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        limit = asyncio.timeout(self.settings.request_timeout)
        try:
            async with limit:
                with limit_until_first_write(limit):
                    response = await self._dispatch(request)
        except HTTPException as exc:
            response = self._refusal(request, exc)
        except TimeoutError:
            if not limit.expired():
                raise
            log.warning("request cancelled after %ss", self.settings.request_timeout)
            response = self._error(
                request,
                503,
                ServiceUnavailable(
                    f"The request took longer than {self.settings.request_timeout:g} seconds"
                    " and was cancelled"
                ),
            )
        await response(scope, receive, send)

    def _error(
        self,
        request: Request,
        status: int,
        error: AppError,
        *,
        headers: dict[str, str] | None = None,
    ) -> Response:
        record = current_record()
        if record is not None:
            record.error_codes.append(error.code)  # counted in metrics by the request log
        media_type = negotiate(request.headers.get("accept")) or APPLICATION_JSON
        return error_response(status, error, media_type=media_type, headers=headers)

    def _refusal(self, request: Request, exc: HTTPException) -> Response:
        headers = None
        if isinstance(exc, MethodNotAllowed):
            headers = {"allow": exc.allow}
        elif exc.status_code == 405:
            headers = {"allow": ALLOW}
        error = REFUSALS.get(exc.status_code, BadRequest)(exc.reason)
        return self._error(request, exc.status_code, error, headers=headers)

    # -- prepared operations (schema/prepared.py) ------------------------------------

    async def _run(self, request: Request) -> Response:
        """self.run; or, for a POSTed query or mutation the schema has prepared, the
        same answer without Strawberry's per-request plumbing.

        Only the plain case takes the short path: whatever could make the full
        path refuse or reroute the request (CSRF, the Accept header, the content
        type, JSON that is not one object, a parameter of the wrong type,
        persisted queries, a document not prepared: unseen, invalid, a
        subscription) goes to self.run, which answers it as before (the body,
        once read, stays with the request). The context, the result's processing
        and the response are the full path's own methods.
        """
        prepared = getattr(self.schema, "prepared", None)
        if prepared is None or request.method != "POST" or not self._plain_post(request.headers):
            return await self.run(request)
        try:
            data = self.decode_json(await request.body())
        except ValueError:  # orjson's JSONDecodeError
            data = None
        parameters = _plain_parameters(data)
        operation = parameters and prepared.prepare(parameters.query, parameters.operation_name)
        if parameters is None or operation is None:
            return await self.run(request)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        result = await prepared.execute(
            operation, parameters.variables, context, parameters.extensions
        )
        response_data = await self.process_result(request, result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        return self.create_response(response_data, sub_response)

    def _plain_post(self, headers: Any) -> bool:
        """A POST's headers ask for a JSON answer to a JSON body that CSRF prevention passes."""
        if headers.get("content-type") not in PLAIN_JSON:
            return False
        if self.settings.csrf_prevention and not csrf.needs_preflight(headers):
            return False
        accept = choose_stream(headers.get("accept"))
        return accept.json and accept.preferred is None

    # -- graphql-sse's single connection mode (sse_single.py) ------------------------

    async def _dispatch(self, request: Request) -> Response:
        token = request.headers.get(TOKEN_HEADER) or None
        if token is None and request.scope.get("query_string"):  # most have none to parse
            token = request.query_params.get(TOKEN_PARAM)
        if token is None and request.method not in ("PUT", "DELETE"):
            return await self._run(request)
        if request.method == "PUT":
            reservation = self.reservations.reserve()
            if reservation is None:
                message = "Too many event streams are waiting to be opened; try again shortly"
                return self._error(request, 503, ServiceUnavailable(message))
            return PlainTextResponse(reservation.token, status_code=201)
        reserved = None if token is None else self.reservations.get(token)
        if reserved is None:
            raise HTTPException(404, "No event stream is reserved with this token")
        if request.method == "DELETE":
            operation_id = request.query_params.get("operationId")
            if not operation_id:
                raise HTTPException(400, "The operationId query parameter is missing")
            await reserved.stop(operation_id)
            return Response(status_code=200)
        if (
            request.method == "GET"
            and choose_stream(request.headers.get("accept")).preferred == SSE
        ):
            if reserved.connected:
                raise HTTPException(409, "The event stream of this reservation is already open")
            return self.reservations.event_stream(reserved, dict(LFSSETransport.headers))
        if request.method != "POST":
            raise MethodNotAllowed("Operations in single connection mode are POSTed", "POST")
        return await self._start_in_stream(request, reserved)

    async def _start_in_stream(self, request: Request, reservation: Reservation) -> Response:
        """Parse and check an operation as any POST, run it, its results to the stream."""
        adapter = self.request_adapter_class(request)
        data = await self.parse_http_body(adapter)
        if isinstance(data, list):
            raise HTTPException(400, "A batch cannot run in single connection mode")
        operation_id = (data.extensions or {}).get("operationId")
        if not isinstance(operation_id, str) or not operation_id:
            raise HTTPException(400, "The operation needs a string extensions.operationId")
        if operation_id in reservation.operations:
            raise HTTPException(409, f"Operation {operation_id!r} is already running")
        if data.query is None:
            raise HTTPException(400, "No GraphQL query found in the request")
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        results = await self.schema.stream(
            data.query,
            variable_values=data.variables,
            context_value=context,
            operation_name=data.operation_name,
            operation_extensions=data.extensions,
        )
        reservation.start(operation_id, self._relay(request, reservation, operation_id, results))
        return Response(status_code=202)

    async def _relay(
        self, request: Request, reservation: Reservation, operation_id: str, results: Any
    ) -> None:
        # This task outlives the POST that started it: the request's time limit is not
        # its own (storage's query timeouts still bound each call).
        outlive_request_limit()
        try:
            async with contextlib.aclosing(results):
                async for result in results:
                    payload = await self.process_result(request, result)
                    data = self.encode_json_string({"id": operation_id, "payload": payload})
                    await reservation.events.put(sse_event("next", data))
            complete = self.encode_json_string({"id": operation_id})
            await reservation.events.put(sse_event("complete", complete))
        except Exception:
            log.exception("operation %r of an event stream failed", operation_id)

    # -- GraphiQL ------------------------------------------------------------------

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A browser's navigation only: curl's `*/*` or an APQ GET gets GraphQL, not HTML.
        params = request.query_params
        return (
            request.method == "GET"
            and params.get("query") is None
            and params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page(request)

    # -- parsing -------------------------------------------------------------------

    def _subscription_stream(self, headers: Any) -> StreamProtocol | None:
        """The stream a subscription goes out on: the best one the client accepts.

        (Any other operation streams only when the client prefers a stream to JSON:
        Strawberry asks each transport whether it `accepts` the Accept header,
        streams.py.)
        """
        acceptable = choose_stream(headers.get("accept")).acceptable
        return acceptable if acceptable in self.streams else None

    def decode_json(self, data: str | bytes) -> object:
        # orjson: fast, strict UTF-8, and a nesting limit (raises JSONDecodeError, a 400).
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return encode(data)

    def parse_json(self, data: str | bytes) -> Any:
        value = super().parse_json(data)
        if not isinstance(value, (dict, list)):
            raise HTTPException(400, "Expected a JSON object (or, for a batch, an array of them)")
        return value

    # Private, pinned in tests/test_strawberry_hooks.py: no public hook runs between
    # parsing a JSON array and building its operations (which fails on a non-object).
    # The schema's batching_config (its public setting) is checked too, by super().
    def _validate_batch_request(
        self, request_data: list[Any], protocol: GraphQLRequestProtocol
    ) -> None:
        if not self.settings.batch_requests:
            raise HTTPException(400, BATCHING_OFF)
        limit = self.settings.max_batch_size
        if not request_data:
            raise HTTPException(400, "A batch must hold at least one operation")
        if len(request_data) > limit:
            raise HTTPException(
                400,
                f"A batch may hold at most {limit} operations; this one holds {len(request_data)}",
            )
        if not all(isinstance(item, dict) for item in request_data):
            raise HTTPException(400, "Each operation of a batch must be a JSON object")
        super()._validate_batch_request(request_data, protocol)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        headers = request.headers
        if self.settings.csrf_prevention and not csrf.needs_preflight(headers):
            raise HTTPException(400, csrf.REFUSAL)
        if (
            not choose_stream(headers.get("accept")).json
            and self._subscription_stream(headers) is None
        ):
            raise HTTPException(406, NOT_ACCEPTABLE)
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            _check_parameters(item)
        return data

    # -- execution -----------------------------------------------------------------

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        # A subscription streams whenever the client accepts a stream, even one it
        # ranks below JSON (urql lists JSON first on every request).
        if (
            isinstance(request_data, GraphQLRequestData)
            and request_data.protocol == "http"
            and self._is_subscription(request_data)
            and (stream := self._subscription_stream(request_adapter.headers)) is not None
        ):
            request_data.protocol = stream
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    def _is_subscription(self, request_data: GraphQLRequestData) -> bool:
        return is_subscription(
            request_data.query, request_data.operation_name, self.settings.max_tokens
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            persisted = requested_persisted_query(request_data.extensions)
            if persisted is not None:
                if request_data.query is None:
                    request_data.query = await self.query_cache.get(persisted.sha256)
                    if request_data.query is None:
                        return _refused(PersistedQueryNotFound())
                    persisted = None  # already stored
                else:
                    check_hash(persisted, request_data.query)
        except PersistedQueryProblem as exc:
            return _refused(BadRequest(str(exc)))
        if self._is_subscription(request_data):
            # Only a stream can carry a subscription; executed here, it would fail.
            return _refused(BadRequest(SUBSCRIPTION_NEEDS_STREAM))
        try:
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as exc:
            cause = exc.__cause__
            if (
                request_adapter.method == "GET"
                and isinstance(cause, InvalidOperationTypeError)
                and cause.operation_type is OperationType.MUTATION
            ):
                raise MethodNotAllowed(exc.reason, allow="POST") from exc
            raise
        if persisted is not None and not is_request_error(result):
            await self._remember(persisted, request_data.query)
        return result

    async def _remember(self, persisted: PersistedQuery, query: str | None) -> None:
        # Stored only once the document proved valid, as Apollo Server does.
        if query is not None:
            await self.query_cache.put(persisted.sha256, query)

    # -- responses -----------------------------------------------------------------

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = negotiate(request.headers.get("accept")) or APPLICATION_JSON
        return sub_response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        body = await super().process_result(request, result)
        if is_request_error(result):
            body.pop("data", None)  # the spec: a request error has no `data` entry
        return body

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media_type = sub_response.media_type or APPLICATION_JSON
        if isinstance(response_data, list):
            status = 200  # a batch: each operation reports its own errors
            codes = [code for body in response_data for code in error_codes(body)]
        else:
            status = status_for(response_data, media_type)
            codes = error_codes(response_data)
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or status,
            media_type=media_type,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if PersistedQueryNotFound.code in codes:
            response.headers["cache-control"] = NO_CACHE
        if sub_response.background:
            response.background = sub_response.background
        return response
