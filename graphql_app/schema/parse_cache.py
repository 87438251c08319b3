"""Parsed documents, cached across requests.

Strawberry's ParserCache raises a syntax error from inside its hook, where the
error escapes our ErrorCodes extension (it lost its `extensions.code`). This
one only fills in the document when parsing succeeds; otherwise it leaves the
work, and the error, to Strawberry's own parse step.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension

# Only documents up to this size are kept: 1000 of them stay within a few MB,
# whatever unique texts a client sends. Real operations are far smaller.
MAX_CACHED_QUERY = 8192


@functools.lru_cache(maxsize=1000)
def _parse(query: str, options: tuple[tuple[str, Any], ...]) -> DocumentNode:
    return parse(query, **dict(options))


class ParseCache(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query and len(query) <= MAX_CACHED_QUERY and context.graphql_document is None:
            # On a syntax error Strawberry parses again and reports it the usual way.
            with contextlib.suppress(GraphQLError):
                context.graphql_document = _parse(
                    query, tuple(sorted(context.parse_options.items()))
                )
        yield
