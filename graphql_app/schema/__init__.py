"""The GraphQL schema: types, queries, mutations, subscriptions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from graphql_app.metrics import Metrics
from graphql_app.schema.error_formatting import code_errors, error_codes
from graphql_app.schema.execution import FAST_PATH_PROBLEMS, FastExecutor
from graphql_app.schema.execution import log as execution_log
from graphql_app.schema.limits import QueryLimits, bounded_validation, validation_check
from graphql_app.schema.mutations import Mutation
from graphql_app.schema.observability import observe
from graphql_app.schema.parsing import parsing
from graphql_app.schema.prepared import PreparedOperations, prepared_operations
from graphql_app.schema.queries import Query
from graphql_app.schema.scalars import DateTime
from graphql_app.schema.subscriptions import Subscription
from graphql_app.settings import Settings


class AppSchema(strawberry.Schema):
    # Operations the HTTP view may run without Strawberry's per-request plumbing
    # (schema/prepared.py); None: every operation takes Strawberry's path.
    prepared: PreparedOperations | None = None

    # Whether graphql-core's "Did you mean ...?" hints are cut (schema/error_formatting.py).
    hide_suggestions: bool = False

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors are answers, not incidents; ErrorCodes logs the unexpected ones.
        return None

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        result = await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )
        # An exception raised by the executor itself, outside any field, leaves
        # Strawberry as it is, past the extensions (ErrorCodes never sees it): coded
        # and masked here. The errors ErrorCodes coded come through unchanged.
        code_errors(result, hide_suggestions=self.hide_suggestions)
        return result


class CachedNames(NameConverter):
    """Strawberry's naming (camelCase), each name worked out once.

    Strawberry converts the Python name of every argument of a field each time
    its resolver is called (convert_arguments); the names are the schema's own,
    so the cache holds as many as the schema has.
    """

    def __init__(self) -> None:
        super().__init__(auto_camel_case=True)
        self._names: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        converted = self._names.get(name)
        if converted is None:
            converted = self._names[name] = super().apply_naming_config(name)
        return converted


def query_limits(settings: Settings) -> QueryLimits:
    """The document limits that `settings` configure."""
    return QueryLimits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_fields=settings.max_fields,
        max_errors=settings.max_validation_errors,
        max_field_repeats=settings.max_field_repeats,
        # Suggestions would give away the schema that disabled introspection hides.
        hide_suggestions=settings.is_production or not settings.introspection_enabled,
        introspection=settings.introspection_enabled,
    )


def build_schema(
    *,
    limits: QueryLimits | None = None,
    max_tokens: int = 2000,
    max_batch_size: int | None = None,
    metrics: Metrics | None = None,
    extra_extensions: list[Any] | None = None,
    fast_execution: bool = True,
) -> AppSchema:
    """The served schema, with its abuse limits, error codes and metrics.

    Extensions run in this order: `observe` leaves an operation last, after
    `error_codes` has coded its errors. Parsed documents are cached (the
    cache lives at module level; the factory only makes per-request hooks),
    and so is each document's validation (schema/limits.py).
    `max_batch_size` turns batching on (None: a JSON array is refused).
    `fast_execution=False` keeps graphql-core's standard executor and
    Strawberry's path for every operation (no prepared operations), which
    tests/test_execution.py and tests/test_differential.py compare the fast
    ones against.
    """
    limits = limits or QueryLimits()
    if fast_execution and FAST_PATH_PROBLEMS:
        execution_log.warning(
            "fast execution is off (every field takes graphql-core's path): %s",
            "; ".join(FAST_PATH_PROBLEMS),
        )
    check = validation_check(limits)
    extensions: list[Any] = [
        observe(metrics),
        error_codes(hide_suggestions=limits.hide_suggestions),
        parsing(max_tokens),
        bounded_validation(limits, check),
    ]
    extensions.extend(extra_extensions or [])
    schema = AppSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(
            name_converter=CachedNames(),
            disable_field_suggestions=limits.hide_suggestions,
            batching_config=(
                None if max_batch_size is None else {"max_operations": max_batch_size}
            ),
        ),
        scalar_overrides={datetime: DateTime},
        execution_context_class=FastExecutor if fast_execution else None,
    )
    schema.hide_suggestions = limits.hide_suggestions
    # Prepared operations stand in for exactly these extensions, nothing more.
    if not extra_extensions:
        schema.prepared = prepared_operations(
            schema,
            max_tokens=max_tokens,
            check=check,
            metrics=metrics,
            hide_suggestions=limits.hide_suggestions,
        )
    return schema


def schema_sdl() -> str:
    """The SDL that schema.graphql must hold."""
    return str(build_schema()).strip() + "\n"
