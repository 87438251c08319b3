"""Parsing: the token limit, and parsed documents cached across requests.

One extension does both because each extension costs a context manager per
phase per request. Strawberry's ParserCache raises a syntax error from inside
its hook, where the error escaped our ErrorCodes extension (it lost its
`extensions.code`); this one only fills in the document when parsing
succeeds, and otherwise leaves the work, and the error, to Strawberry's own
parse step, which runs with the same token limit (set here, before it).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

from graphql import DocumentNode, GraphQLError, OperationType, get_operation_ast, parse
from strawberry.extensions import SchemaExtension

# What the parse, validation and prepared-operation caches keep, whatever unique
# texts a client sends. A parsed document costs 70-140 bytes per character of its
# text (nodes, locations, tokens: 25 KB for a typical 355-character operation,
# 280 KB for a 2 KB one of 100 aliased fields), so 500 documents of at most 2 KB
# hold at most about 140 MB (at 8 KB and 1000 it was about 1 GB). A larger or
# rarer document is parsed and validated afresh: same answer, more CPU.
MAX_CACHED_QUERY = 2048
CACHED_DOCUMENTS = 500


@functools.lru_cache(maxsize=CACHED_DOCUMENTS)
def parse_cached(query: str, max_tokens: int) -> DocumentNode:
    """The parsed document of `query` (cached); raises GraphQLError on a syntax error."""
    return parse(query, max_tokens=max_tokens)


class Parsing(SchemaExtension):
    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        # The parser stops reading at this many tokens: a 2 MB token flood costs
        # milliseconds, not seconds (Strawberry's MaxTokensLimiter does the same).
        context.parse_options["max_tokens"] = self.max_tokens
        query = context.query
        if query and len(query) <= MAX_CACHED_QUERY and context.graphql_document is None:
            # On a syntax error Strawberry parses again and reports it the usual way.
            with contextlib.suppress(GraphQLError):
                context.graphql_document = parse_cached(query, self.max_tokens)
        yield


def parsing(max_tokens: int) -> Callable[[], Parsing]:
    """A factory of the extension: Strawberry makes one per operation."""
    return lambda: Parsing(max_tokens)


def is_subscription(query: object, operation_name: object, max_tokens: int) -> bool:
    """Whether `query` selects a subscription operation (False when it does not parse:
    execution then reports why, the usual way). Shares the documents cache."""
    # A subscription is always spelled out: a document without the word holds none.
    if not isinstance(query, str) or "subscription" not in query:
        return False
    try:
        document = (
            parse_cached(query, max_tokens)
            if len(query) <= MAX_CACHED_QUERY
            else parse(query, max_tokens=max_tokens)
        )
    except GraphQLError:
        return False
    name = operation_name if isinstance(operation_name, str) else None
    operation = get_operation_ast(document, name)
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION
