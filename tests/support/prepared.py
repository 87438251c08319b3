"""Prepared operations over a test's own schema, with the app's default limits."""

from __future__ import annotations

from graphql_app.schema import AppSchema
from graphql_app.schema.execution import FastExecutor
from graphql_app.schema.limits import QueryLimits, validation_check
from graphql_app.schema.prepared import PreparedOperations


def prepared_for(schema: AppSchema) -> PreparedOperations:
    """The PreparedOperations the HTTP view would run `schema`'s queries through."""
    return PreparedOperations(
        schema._schema,
        FastExecutor,
        max_tokens=1000,
        check=validation_check(QueryLimits()),
        metrics=None,
        hide_suggestions=False,
    )
