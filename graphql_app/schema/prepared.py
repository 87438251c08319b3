"""Operations prepared once and run without Strawberry's per-request plumbing.

For every request, Strawberry's `Schema.execute` builds an execution context,
one instance of each schema extension, a context manager per extension and
phase (operation, parsing, validation, execution) and a middleware manager,
then looks the document up in the parse and validation caches, before
graphql-core executes. For a document it has already seen valid, all of that
answers the same every time. `PreparedOperations` keeps, per query text and
operation name, the parsed document and the operation it selects, once
validation (the same cached check as BoundedValidation's, schema/limits.py)
found no error, and runs it with graphql-core directly: the same document,
executor, arguments and context Strawberry would pass, then what the app's
schema extensions do around it, by the same functions (error_formatting.py's
codes, observability.py's request-log entry and metrics).

A query that can have a plan (schema/plans.py) is compiled on its first run
into code that builds its response directly; the plan hands anything it
cannot answer exactly (any error) back, and graphql-core executes the query
from the start.

Only the plain case is prepared: a document of at most MAX_CACHED_QUERY
characters that parses and validates, whose operation is found by the
request's operationName (or is the document's only one), a query or a
mutation. Anything else — a syntax or validation error, several operations
and no name, an unknown name, a subscription — gets None, and the caller
takes Strawberry's path, which answers it as before.

It fails closed: build_schema makes one only for the schema it builds with
exactly its own extensions (no extra extension, no custom directive, no
incremental execution, the fast executor on, `process_errors` the app's
no-op), and only while the fast executor's library versions are the tested
ones (schema/execution.py). tests/test_differential.py and
tests/test_execution.py compare it, through the whole app, with Strawberry's
path byte for byte.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, cast

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    execute,
    get_operation_ast,
    specified_rules,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.execution import MiddlewareManager
from strawberry import Schema
from strawberry.execution import optimized_is_awaitable
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

import graphql_app.schema.execution as fast_execution
from graphql_app.metrics import Metrics
from graphql_app.schema.error_formatting import code_errors
from graphql_app.schema.limits import ValidationCheck, operation_count
from graphql_app.schema.observability import error_codes_of, record_operation
from graphql_app.schema.parsing import CACHED_DOCUMENTS, MAX_CACHED_QUERY, parse_cached
from graphql_app.schema.plans import MutationPlan, QueryPlan, compile_plan, plannable

# The rules Strawberry's ExecutionContext hands the validation extension.
_RULES = tuple(specified_rules)
_RUNNABLE = (OperationType.QUERY, OperationType.MUTATION)
PREPARED_OPERATIONS = CACHED_DOCUMENTS  # as many as the parse and validation caches keep


@dataclass(slots=True)
class PreparedOperation:
    """A valid document and the query or mutation of it that a request runs."""

    document: DocumentNode
    # What Strawberry's ExecutionContext.operation_name answers: the name the
    # request gave, else the operation's own (it passes that to graphql-core too).
    operation_name: str | None
    operation_type: OperationType
    # The query's plan (schema/plans.py): compiled on its first run; None: it has none.
    plan: QueryPlan | MutationPlan | None = None
    planned: bool = False


class PreparedOperations:
    """Prepares operations (cached) and runs them as Strawberry's Schema.execute would."""

    def __init__(
        self,
        schema: GraphQLSchema,
        executor: type[fast_execution.FastExecutor],
        *,
        max_tokens: int,
        check: ValidationCheck,
        metrics: Metrics | None,
        hide_suggestions: bool,
    ) -> None:
        self._schema = schema
        self._executor = executor
        self._max_tokens = max_tokens
        self._check = check
        self._metrics = metrics
        self._hide_suggestions = hide_suggestions
        # Strawberry's manager of the extensions that wrap resolvers: none of ours do.
        self._middleware = MiddlewareManager()
        self._prepared = functools.lru_cache(maxsize=PREPARED_OPERATIONS)(self._prepare)
        self.cache_info = self._prepared.cache_info

    def prepare(self, query: str, operation_name: str | None) -> PreparedOperation | None:
        """The operation a request for `query` runs; None: leave it to Strawberry.

        The cache keeps its keys, the request's texts: only a document the parse
        cache would keep is looked up, with a name no longer than it (a longer one
        cannot name one of its operations). Otherwise a client could make it hold
        a thousand bodies of MAX_BODY_BYTES (100 MB by default).
        """
        if not query or len(query) > MAX_CACHED_QUERY:
            return None
        if operation_name is not None and len(operation_name) > len(query):
            return None
        return self._prepared(query, operation_name)

    def _prepare(self, query: str, operation_name: str | None) -> PreparedOperation | None:
        try:
            document = parse_cached(query, self._max_tokens)
        except GraphQLError:
            return None
        if operation_name is None and operation_count(document) > 1:
            return None  # BoundedValidation refuses it
        operation = get_operation_ast(document, operation_name)
        if not isinstance(operation, OperationDefinitionNode):
            return None
        operation_type = OperationType(operation.operation.value)
        if operation_type not in _RUNNABLE or self._check(self._schema, document, _RULES):
            return None
        name = operation_name
        if name is None and operation.name is not None:
            name = operation.name.value
        # A document that cannot have a plan is not looked at again.
        planned = not plannable(document, operation)
        return PreparedOperation(document, name, operation_type, planned=planned)

    async def execute(
        self,
        operation: PreparedOperation,
        variables: dict[str, Any] | None,
        context: Any,
        extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        """What Strawberry's Schema.execute answers for `operation`, with the app's extensions."""
        started = time.perf_counter()
        result: Any = None
        try:
            try:
                if operation.plan is not None or not operation.planned:
                    result = await self._run_plan(operation, variables, context, extensions)
                if result is None:
                    result = execute(
                        self._schema,
                        operation.document,
                        root_value=None,
                        middleware=self._middleware,
                        variable_values=variables,
                        operation_name=operation.operation_name,
                        context_value=context,
                        is_awaitable=cast(Any, optimized_is_awaitable),
                        executor_class=self._executor,
                        operation_extensions=extensions,
                    )
                if isawaitable(result):
                    result = await result
            except Exception as exc:
                # The executor itself failed, outside any field: coded and masked as
                # AppSchema.execute does it on Strawberry's path.
                error = (
                    exc
                    if isinstance(exc, GraphQLError)
                    else GraphQLError(str(exc), original_error=exc)
                )
                failed = PreExecutionError(data=None, errors=[error], extensions={})
                code_errors(failed, hide_suggestions=self._hide_suggestions)
                result = failed  # its code counted by record_operation
                return failed
            code_errors(result, hide_suggestions=self._hide_suggestions)
            return ExecutionResult(data=result.data, errors=result.errors, extensions={})
        finally:
            record_operation(
                self._metrics,
                operation.operation_name,
                operation.operation_type.value,
                time.perf_counter() - started,
                error_codes_of(result),
                context,
            )

    async def _run_plan(
        self,
        operation: PreparedOperation,
        variables: dict[str, Any] | None,
        context: Any,
        extensions: dict[str, Any] | None,
    ) -> GraphQLExecutionResult | None:
        """The query answered by its plan (compiled on its first run); None when it has
        none or gave up: graphql-core then executes the query from the start."""
        executor = self._executor.build(
            self._schema,
            operation.document,
            None,
            context,
            variables,
            operation.operation_name,
            middleware=self._middleware,
            is_awaitable=cast(Any, optimized_is_awaitable),
            operation_extensions=extensions,
        )
        if isinstance(executor, list):  # the variables' errors: graphql-core reports them
            return None
        if not operation.planned:
            operation.plan = compile_plan(executor)
            operation.planned = True
        plan = operation.plan
        if plan is None:
            return None
        if isinstance(plan, MutationPlan):  # it answers errors too, and is never run twice
            PlanRuns.answered += 1
            return cast(GraphQLExecutionResult, await plan.run(executor))
        try:
            data = await plan.run(executor)
        except Exception:
            PlanRuns.handed_over += 1
            return None
        PlanRuns.answered += 1
        return GraphQLExecutionResult(data, None)


class PlanRuns:
    """How often plans answered, and how often graphql-core answered instead."""

    answered = 0
    handed_over = 0


def prepared_operations(
    schema: Schema,
    *,
    max_tokens: int,
    check: ValidationCheck,
    metrics: Metrics | None,
    hide_suggestions: bool,
) -> PreparedOperations | None:
    """Prepared operations for `schema`, built with exactly the app's schema extensions;
    None (Strawberry's path for everything) unless all the rest is what they expect."""
    if (
        fast_execution.FAST_PATH_PROBLEMS
        or schema.execution_context_class is not fast_execution.FastExecutor
        or schema.directives
        or schema.config.enable_experimental_incremental_execution
    ):
        return None
    return PreparedOperations(
        schema._schema,
        fast_execution.FastExecutor,
        max_tokens=max_tokens,
        check=check,
        metrics=metrics,
        hide_suggestions=hide_suggestions,
    )
