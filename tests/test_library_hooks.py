"""The library internals the package leans on still exist, as it was written against.

Each test names one hook: a private (`_`-prefixed) or undocumented method the
package overrides or calls, or an attribute it reads, in Strawberry or
graphql-core (uvicorn's are in tests/test_slow_clients.py). pyproject.toml
allows only the versions the suite has run; when one moves, these say which
override to revisit. The expectations are written out here on purpose, not
read from the code under test.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
from datetime import timedelta
from typing import Any

import pytest
import strawberry
from graphql import GraphQLSchema, MiddlewareManager, parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, validate_document
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types.enum import has_enum_definition
from strawberry.types.field import StrawberryField

from graphql_app.http.websocket import TransportWSHandler
from graphql_app.schema.execution import FastExecutor


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


# -- graphql-core's executor: FastExecutor (schema/execution.py) ----------------------


@pytest.mark.parametrize(
    ("name", "expected", "overridden"),
    [
        (
            "execute_fields",
            [
                "self",
                "parent_type",
                "source_value",
                "path",
                "grouped_field_set",
                "position_context",
            ],
            True,
        ),
        (
            "execute_field",
            ["self", "parent_type", "source", "field_details_list", "path", "position_context"],
            True,
        ),
        ("collect_subfields", ["self", "return_type", "field_details_list"], False),
        (
            "collect_and_execute_subfields",
            ["self", "return_type", "field_details_list", "path", "result", "position_context"],
            False,
        ),
        (
            "handle_field_error",
            ["self", "raw_error", "return_type", "field_details_list", "path"],
            False,
        ),
        ("settle_in_background", ["self", "awaitables"], False),
    ],
)
def test_graphql_core_executor_method(name: str, expected: list[str], overridden: bool) -> None:
    base = getattr(StrawberryGraphQLCoreExecutionContext, name)
    assert parameters(base) == expected
    if overridden:
        assert parameters(getattr(FastExecutor, name)) == expected


def test_graphql_core_executor_keeps_middleware_manager_and_is_awaitable() -> None:
    """FastExecutor reads both as instance attributes, once Strawberry has built it."""
    seen: list[dict[str, Any]] = []

    class Recording(FastExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            seen.append(vars(self))

    schema = strawberry.Schema(query=_Query, execution_context_class=Recording)
    assert asyncio.run(schema.execute("{ __typename }")).errors is None
    (attributes,) = seen
    assert isinstance(attributes["middleware_manager"], MiddlewareManager)
    assert callable(attributes["is_awaitable"])


def test_graphql_core_middleware_manager_returns_an_unwrapped_resolver() -> None:
    """FastExecutor asks `get_field_resolver` whether any middleware wraps resolvers."""

    def resolver(source: Any, info: Any) -> Any:
        return source

    assert MiddlewareManager().get_field_resolver(resolver) is resolver

    class Wrapper:
        def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
            return next_(source, info, **kwargs)

    assert MiddlewareManager(Wrapper()).get_field_resolver(resolver) is not resolver


# -- graphql-core's execution: what prepared operations and query plans call ----------


def test_graphql_core_build_and_the_field_helpers_plans_call() -> None:
    """schema/prepared.py builds the executor as `execute` does, and schema/plans.py
    calls, as graphql-core's own execute_field does, build_resolve_info,
    get_argument_values and collect_fields; FieldDetails carry what they read."""
    from graphql.execution.collect_fields import FieldDetails, collect_fields
    from graphql.execution.values import get_argument_values

    assert parameters(StrawberryGraphQLCoreExecutionContext.build)[:13] == [
        "schema",
        "document",
        "root_value",
        "context_value",
        "raw_variable_values",
        "operation_name",
        "field_resolver",
        "type_resolver",
        "subscribe_field_resolver",
        "max_coercion_errors",
        "enable_early_execution",
        "middleware",
        "is_awaitable",
    ]
    assert parameters(StrawberryGraphQLCoreExecutionContext.build_resolve_info) == [
        "self",
        "field_def",
        "field_nodes",
        "parent_type",
        "path",
    ]
    assert parameters(get_argument_values) == [
        "type_def",
        "node",
        "variable_values",
        "fragment_variable_values",
        "hide_suggestions",
    ]
    assert parameters(collect_fields)[:6] == [
        "schema",
        "fragments",
        "variable_values",
        "runtime_type",
        "operation",
        "hide_suggestions",
    ]
    assert FieldDetails._fields == ("node", "defer_usage", "fragment_variable_values")


# -- Strawberry's schema: what FastExecutor and BoundedValidation read ------------------


@strawberry.type
class Plain:
    name: str


@strawberry.type
class _Query:
    plain: Plain


def test_strawberry_basic_resolver_and_field_backref() -> None:
    """A plain field's resolver is `_get_basic_result`, marked `_is_default`, and the
    GraphQL field points back to its StrawberryField under "strawberry-definition"."""
    schema = strawberry.Schema(query=_Query)
    field = schema._schema.type_map["Plain"].fields["name"]  # type: ignore[attr-defined]
    assert field.resolve.__name__ == "_get_basic_result"
    assert field.resolve._is_default is True
    definition = field.extensions["strawberry-definition"]
    assert type(definition) is StrawberryField
    assert definition.python_name == "name"
    assert definition.base_resolver is None
    assert definition.permission_classes == []
    assert definition.extensions == []
    assert definition.default_resolver is getattr


def test_strawberry_schema_holds_the_graphql_core_schema() -> None:
    """schema/limits.py validates against `Schema._schema`."""
    assert isinstance(strawberry.Schema(query=_Query)._schema, GraphQLSchema)


def test_strawberry_validation_adds_the_rules_bounded_validation_adds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BoundedValidation (schema/limits.py) validates in Strawberry's place, with
    graphql-core's `max_errors` and `hide_suggestions`, which Strawberry does not
    pass: it adds the rules Strawberry's validation adds to the operation's."""
    seen: list[tuple[Any, ...]] = []

    def recording_validate(schema: Any, document: Any, rules: Any, *args: Any) -> list[Any]:
        seen.append(tuple(rules))
        return []

    monkeypatch.setattr(strawberry.schema.schema, "validate", recording_validate)
    graphql_schema = strawberry.Schema(query=_Query)._schema
    validate_document(graphql_schema, parse("{ plain { name } }"), ())
    assert seen == [(MaybeNullValidationRule, OneOfInputValidationRule)]


class _Kind(enum.Enum):
    ONE = "ONE"


def test_strawberry_enum_values_are_described_on_the_definition() -> None:
    """schema/types.py describes the values of models.TodoEventKind, which has no
    `strawberry.enum_value`, on the definition `strawberry.enum` gives it."""
    strawberry.enum(_Kind)
    assert has_enum_definition(_Kind)
    [value] = _Kind.__strawberry_definition__.values
    assert (value.name, value.description) == ("ONE", None)
    value.description = "The first"

    @strawberry.type
    class Query:
        kind: _Kind

    assert '"""The first"""\n  ONE' in str(strawberry.Schema(query=Query))


# -- Strawberry's graphql-transport-ws handler: TransportWSHandler (http/websocket.py) ---


def test_strawberry_transport_ws_handler_hooks() -> None:
    for name in ("handle_connection_init", "send_message"):
        assert parameters(getattr(BaseGraphQLTransportWSHandler, name)) == ["self", "message"]
    assert parameters(BaseGraphQLTransportWSHandler.shutdown) == ["self"]
    assert parameters(TransportWSHandler.handle_connection_init) == ["self", "message"]
    assert parameters(TransportWSHandler.shutdown) == ["self"]
    handler: Any = BaseGraphQLTransportWSHandler(
        view=None,  # type: ignore[arg-type]
        websocket=None,  # type: ignore[arg-type]
        context=None,
        root_value=None,
        schema=None,  # type: ignore[arg-type]
        connection_init_wait_timeout=timedelta(seconds=1),
    )
    for attribute in ("view", "websocket", "context"):
        assert hasattr(handler, attribute)
    assert handler.connection_init_received is False
    assert handler.connection_acknowledged is False
    assert handler.connection_init_timeout_task is None
