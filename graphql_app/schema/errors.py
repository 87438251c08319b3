"""Turns exceptions into GraphQL errors with `extensions.code`.

The project's own errors carry their code already (graphql-core copies an
original error's `extensions`). Parse and validation errors get Apollo's
codes. Anything else is masked: a generic message and the request id leave
the server; the detail goes to the log with the same request id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from graphql_app.errors import AppError
from graphql_app.request_id import current_request_id

log = logging.getLogger("graphql_app.errors")

INTERNAL_MESSAGE = "Internal server error"


def coded_error(error: GraphQLError) -> GraphQLError:
    """The error as a client may see it."""
    original = error.original_error
    if isinstance(original, AppError):
        return error
    if original is None:
        if error.extensions and "code" in error.extensions:
            return error
        code = (
            "GRAPHQL_PARSE_FAILED"
            if isinstance(error, GraphQLSyntaxError)
            else "GRAPHQL_VALIDATION_FAILED"
        )
        return GraphQLError(
            error.message,
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
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if isinstance(result, (GraphQLExecutionResult, ExecutionResult)) and result.errors:
            result.errors = [coded_error(e) for e in result.errors]
