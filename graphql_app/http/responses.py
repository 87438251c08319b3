"""Status codes and error bodies of GraphQL over HTTP.

With `application/json` a GraphQL result is always 200. With
`application/graphql-response+json` a request error (nothing executed: parse,
validation or variable errors; no `data` entry) is a 4xx, and a result with
`data`, even null after a field error, is 200. Requests refused before any
GraphQL work (bad JSON, CSRF, too big a batch...) get a 4xx with a GraphQL
error body in either media type, `extensions.code` BAD_REQUEST as in Apollo
Server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from graphql_app.errors import AppError, ErrorCode
from graphql_app.http.media_types import APPLICATION_JSON

# A miss must never be cached by a CDN in front of GET persisted queries.
NO_CACHE = "private, no-cache, must-revalidate"

_SERVER_CODES: dict[str, int] = {
    ErrorCode.INTERNAL_SERVER_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


def is_request_error(result: ExecutionResult) -> bool:
    """Whether execution never started: no data and no error with a field path."""
    return (
        result.data is None
        and bool(result.errors)
        and all(not error.path for error in result.errors or ())
    )


def error_codes(body: GraphQLHTTPResponse) -> list[str]:
    """The `extensions.code` of each error of a formatted result."""
    codes = []
    for error in body.get("errors") or ():
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if isinstance(extensions, dict) and isinstance(extensions.get("code"), str):
            codes.append(extensions["code"])
    return codes


def status_for(body: GraphQLHTTPResponse, media_type: str) -> int:
    """The status code of a single operation's formatted result."""
    if "data" in body:
        return 200
    codes = error_codes(body)
    if ErrorCode.PERSISTED_QUERY_NOT_FOUND in codes:
        return 200  # as Apollo Server: the client's cue to send the query, not a failure
    if ErrorCode.BAD_REQUEST in codes:
        return 400
    if media_type == APPLICATION_JSON:
        return 200
    return max((_SERVER_CODES.get(code, 400) for code in codes), default=400)


def encode(data: Any) -> bytes:
    """JSON as GraphQL clients read it (UTF-8, compact)."""
    return orjson.dumps(data)


def error_body(error: AppError) -> bytes:
    """A request-level refusal as a GraphQL response: one error, no `data`."""
    return encode({"errors": [error.formatted]})


def error_response(
    status: int,
    error: AppError,
    *,
    media_type: str = APPLICATION_JSON,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A request-level refusal as a GraphQL error body."""
    return Response(error_body(error), status_code=status, media_type=media_type, headers=headers)
