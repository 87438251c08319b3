"""Turns exceptions into GraphQL errors with `extensions.code`.

The project's own errors carry their code already (graphql-core copies an
original error's `extensions`). Parse and validation errors get Apollo's
codes. Anything else is masked: a generic message and the request id leave
the server; the detail goes to the log with the same request id.

In production, graphql-core's "Did you mean ...?" hints are cut from every
message: they would reveal the schema that disabled introspection hides.
Validation already runs with `hide_suggestions` (schema/limits.py); the
scrub also covers the errors raised later, such as variable coercion.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult, StreamExecutionResult

from graphql_app.errors import AppError, ErrorCode
from graphql_app.request_id import current_request_id

log = logging.getLogger("graphql_app.errors")

INTERNAL_MESSAGE = AppError.default_message

# graphql-core's suggestions: " Did you mean 'a', 'b', or 'c'?", " Did you mean
# the enum value 'X'?", " Did you mean 'todos { ... }'?". GraphQL names never
# hold a "?", so the hint ends at the first one.
SUGGESTION = re.compile(r"\s*Did you mean\b[^?]*\?")


def without_suggestions(message: str) -> str:
    """`message` with every "Did you mean ...?" hint removed."""
    return SUGGESTION.sub("", message)


def _graphql_code(error: GraphQLError) -> ErrorCode:
    if isinstance(error, GraphQLSyntaxError):
        return ErrorCode.GRAPHQL_PARSE_FAILED
    if error.original_error is not None:
        # graphql-core coercing the request's variables (Apollo's code for it).
        return ErrorCode.BAD_USER_INPUT
    return ErrorCode.GRAPHQL_VALIDATION_FAILED


def coded_error(error: GraphQLError, *, hide_suggestions: bool = False) -> GraphQLError:
    """The error as a client may see it."""
    original = error.original_error
    if isinstance(original, AppError):
        return error
    # No original error: graphql-core's own (parse, validation). A GraphQLError as the
    # original and no path: a variable that does not fit its type. Both are the client's.
    if original is None or (isinstance(original, GraphQLError) and not error.path):
        message = without_suggestions(error.message) if hide_suggestions else error.message
        if error.extensions and "code" in error.extensions and message == error.message:
            return error
        code = (error.extensions or {}).get("code") or _graphql_code(error)
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={**(error.extensions or {}), "code": code},
        )
    request_id = current_request_id()
    log.error(
        "unexpected error in %s (request %s)",
        ".".join(str(p) for p in error.path or ()) or "operation",
        request_id,
        exc_info=original,
    )
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR, "requestId": request_id},
    )


def code_errors(result: object, *, hide_suggestions: bool) -> None:
    """Replace a result's errors by their coded forms (coded_error), in place."""
    if isinstance(result, (GraphQLExecutionResult, ExecutionResult)) and result.errors:
        result.errors = [coded_error(e, hide_suggestions=hide_suggestions) for e in result.errors]


class ErrorCodes(SchemaExtension):
    """Codes every error of a result, masks the unexpected ones (streamed results too)."""

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        self.hide_suggestions = hide_suggestions
        self._streamed = False

    def _code(self, result: object) -> None:
        code_errors(result, hide_suggestions=self.hide_suggestions)

    def on_operation(self) -> Iterator[None]:
        yield
        if not self._streamed:  # streamed results were coded one by one
            self._code(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self._streamed = True
        self._code(result)
        yield


def error_codes(*, hide_suggestions: bool) -> Callable[[], ErrorCodes]:
    """A factory of the extension: Strawberry makes one per operation."""
    return lambda: ErrorCodes(hide_suggestions=hide_suggestions)
