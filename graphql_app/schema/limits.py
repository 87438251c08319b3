"""Validation with abuse limits: error cap, hidden suggestions, size, depth, aliases.

Strawberry validates with graphql-core's defaults (up to 100 errors, with
"Did you mean" suggestions). This extension runs the validation itself, in
three steps, each bounded by the one before:

0. no field selected more than `max_field_repeats` times in one selection
   set (graphql-core's overlap check compares each pair of them);
1. the specification's rules (plus Strawberry's own and, in production, the
   introspection ban), stopping after `max_errors` errors;
2. the number of fields once every fragment spread is inlined, counted in
   linear time (each fragment once);
3. Strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter` rules.

Step 2 guards step 3: Strawberry's limiters walk every fragment spread again
each time it is used, so a chain of fragments that each spread the next
twice costs them 2^n steps (measured: 18 fragments hold the loop for a
second). They also assume the document is valid (an unknown fragment
raises), hence step 1 first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    validate,
)
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from graphql_app.errors import BadRequest
from graphql_app.schema.parsing import CACHED_DOCUMENTS, MAX_CACHED_QUERY


@dataclass(frozen=True)
class QueryLimits:
    """What one GraphQL document may ask for."""

    max_depth: int = 10
    max_aliases: int = 30
    max_fields: int = 2000
    max_errors: int = 5
    max_field_repeats: int = 10
    hide_suggestions: bool = False
    introspection: bool = True


class TooComplex(GraphQLError):
    """The document expands to more fields than allowed."""


def count_fields(document: DocumentNode) -> int:
    """Fields selected once fragments are inlined; each fragment is counted once (memoized)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}
    in_progress: set[str] = set()

    def selection_set_size(selection_set: SelectionSetNode) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1
                if selection.selection_set:
                    total += selection_set_size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += selection_set_size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_size(selection.name.value)
        return total

    def fragment_size(name: str) -> int:
        if name in sizes:
            return sizes[name]
        fragment = fragments.get(name)
        if fragment is None or name in in_progress:  # unknown or cyclic: step 1 reports it
            return 0
        in_progress.add(name)
        sizes[name] = selection_set_size(fragment.selection_set)
        in_progress.discard(name)
        return sizes[name]

    return sum(
        selection_set_size(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


MAX_MESSAGE = 200
OPERATION_NAME_REQUIRED = "Must provide operation name if query contains multiple operations."


def _provided_operation_name(context: ExecutionContext) -> str | None:
    """The request's operationName. Strawberry's public `operation_name` falls back to
    the first operation's name, so read what it was given (tests/test_hostile_requests.py
    pins the attribute; were it renamed, a document of several operations would be
    refused, never guessed)."""
    name = getattr(context, "_provided_operation_name", None)
    return name if isinstance(name, str) else None


def operation_count(document: DocumentNode) -> int:
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def _without_original(error: GraphQLError) -> GraphQLError:
    """A validation error that carries a Python exception (a literal the scalar could not
    read: a 5,000-digit Int, a bad DateTime) is still the client's: drop the exception,
    and its text, which speaks of the server's internals."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error
    message = error.message.replace(f", but encountered error '{original}'; found", ", found")
    if len(message) > MAX_MESSAGE:  # it quotes the literal, which may be megabytes long
        message = message[: MAX_MESSAGE - 1] + "…"
    return GraphQLError(message, nodes=error.nodes, extensions=error.extensions)


def most_repeated_field(document: DocumentNode) -> tuple[str, int]:
    """The response key selected most often in one selection set, and how often.

    graphql-core merges repeated fields, but its overlap check compares every
    pair of them first: 2,000 `__typename` in one selection set hold the loop
    for a second. Counted in linear time, before validation.
    """
    worst = ("", 0)
    stack: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, (OperationDefinitionNode, FragmentDefinitionNode))
    ]
    while stack:
        counts: dict[str, int] = {}
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                counts[key] = counts.get(key, 0) + 1
                if counts[key] > worst[1]:
                    worst = (key, counts[key])
            selection_set = getattr(selection, "selection_set", None)
            if selection_set is not None:
                stack.append(selection_set)
    return worst


class BoundedValidation(SchemaExtension):
    """Validates the document; Strawberry skips its own validation when this has run."""

    def __init__(self, check: Callable[..., list[GraphQLError]]) -> None:
        self.check = check

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            if _provided_operation_name(context) is None and operation_count(document) > 1:
                # Strawberry and the fast executor would run the first one; the spec
                # makes it a request error.
                refusal = BadRequest(OPERATION_NAME_REQUIRED)
                context.pre_execution_errors = [
                    GraphQLError(refusal.message, original_error=refusal)
                ]
                yield
                return
            rules = tuple(context.validation_rules)
            # Large documents are validated afresh, so the cache stays small.
            cached = len(context.query or "") <= MAX_CACHED_QUERY
            check = self.check if cached else self.check.__wrapped__  # type: ignore[attr-defined]
            # No public accessor for the graphql-core schema (pinned in test_library_hooks.py).
            context.pre_execution_errors = check(context.schema._schema, document, rules)
        yield


ValidationCheck = Callable[
    [GraphQLSchema, DocumentNode, tuple[type[ASTValidationRule], ...]], list[GraphQLError]
]


def bounded_validation(
    limits: QueryLimits, check: ValidationCheck | None = None
) -> Callable[[], BoundedValidation]:
    """A factory of the extension (one instance per operation), its rules built once.

    `check` is `validation_check(limits)` when the caller shares it (build_schema
    does, with schema/prepared.py).
    """
    check = check or validation_check(limits)
    return lambda: BoundedValidation(check)


def validation_check(limits: QueryLimits) -> ValidationCheck:
    """The validation of BoundedValidation: a document's errors under `limits`.

    A document's verdict depends only on the schema, the document and the
    rules, so it is cached: a client repeating an operation is not validated
    again (the errors are never mutated afterwards; ErrorCodes makes new ones).
    """
    limit_rules = (
        *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
    )

    @functools.lru_cache(maxsize=CACHED_DOCUMENTS)
    def check(
        schema: GraphQLSchema,
        document: DocumentNode,
        extension_rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        """The errors of `document`, at most `max_errors` (+1 saying validation stopped)."""
        key, repeats = most_repeated_field(document)
        if repeats > limits.max_field_repeats:
            return [
                TooComplex(
                    f"The field `{key}` is selected {repeats} times in one selection set."
                    f" Allowed: {limits.max_field_repeats}"
                )
            ]
        # The rules Strawberry's own validation adds to the operation's (it cannot be
        # given max_errors or hide_suggestions); tests/test_library_hooks.py pins the list.
        rules: tuple[type[ASTValidationRule], ...] = (
            *extension_rules,
            MaybeNullValidationRule,
            OneOfInputValidationRule,
        )
        if not limits.introspection:
            rules = (*rules, NoSchemaIntrospectionCustomRule)
        errors = validate(
            schema,
            document,
            rules,
            max_errors=limits.max_errors,
            hide_suggestions=limits.hide_suggestions,
        )
        if errors:
            return [_without_original(error) for error in errors]
        try:
            fields = count_fields(document)
        except RecursionError:
            fields = limits.max_fields + 1
        if fields > limits.max_fields:
            return [
                TooComplex(
                    f"The operation selects {fields} fields once fragments are expanded."
                    f" Allowed: {limits.max_fields}"
                )
            ]
        return validate(schema, document, limit_rules, max_errors=limits.max_errors)

    return check
