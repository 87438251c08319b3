"""The GraphQL schema: types, queries, mutations, subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graphql_app.schema.errors import ErrorCodes
from graphql_app.schema.mutations import Mutation
from graphql_app.schema.queries import Query
from graphql_app.schema.scalars import DateTime
from graphql_app.schema.subscriptions import Subscription


class AppSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors are answers, not incidents; ErrorCodes logs the unexpected ones.
        return None


def build_schema(
    *, introspection: bool = True, extra_extensions: list[Any] | None = None
) -> AppSchema:
    """The served schema; `introspection=False` refuses __schema/__type queries."""
    extensions: list[Any] = [ErrorCodes]
    if not introspection:
        from graphql.validation import NoSchemaIntrospectionCustomRule

        extensions.append(AddValidationRules([NoSchemaIntrospectionCustomRule]))
    extensions.extend(extra_extensions or [])
    return AppSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(),
        scalar_overrides={datetime: DateTime},
    )


def schema_sdl() -> str:
    """The SDL that schema.graphql must hold."""
    return str(build_schema()).strip() + "\n"
