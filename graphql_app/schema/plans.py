"""Query plans: a prepared operation compiled once into Python that builds its response.

graphql-core completes every field of every object through the same generic
steps (a Path, a ResolveInfo, complete_value's type dispatch, awaitables
wrapped in coroutines, a task per list item that awaits). A query plan does
what those steps come to for one operation, decided once: for each selection
set, a function (generated source, compiled with `compile`) that reads the
plain attributes, coerces the leaves, builds the response dict in graphql-core's
key order, and calls the resolvers of the other fields exactly as graphql-core
does (the field's own `resolve`, the executor's ResolveInfo, the arguments
graphql-core's `get_argument_values` gives, with the executor's variables).
Awaitable results are awaited level by level, siblings together (as
graphql-core gathers them, so DataLoaders batch the same).

The plan answers only what it can answer exactly, and nothing with an error:
on anything else at run time (a resolver raising, a null in a non-null field,
a value of another class, a leaf its scalar refuses or that is not a plain
value) it gives up, and the caller executes the query again with graphql-core,
which answers it, errors and all. Running a query's resolvers twice is safe:
a query reads (the server already serves queries over GET, which any client or
proxy may repeat), and the request's DataLoaders answer the second run from
what the first loaded.

A mutation is never run twice, so a mutation plan (MutationPlan) covers less
and hands nothing over: one root field, nothing but plain attributes below it.
Its resolver is called once; the executor's own methods complete what the
compiled code cannot and handle any error, as graphql-core's execute_field and
execute_operation do.

Compiled only for operations of object types, of at most MAX_PLAN_FIELDS fields:
no directive anywhere in the document (no @skip/@include/@defer), no fragment
variables, no interface or union return type (`node`, `nodes`), no
introspection field, resolvers only where Strawberry put them. Anything else
has no plan and runs on graphql-core with the fast executor
(schema/execution.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import CoroutineType
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    Visitor,
    visit,
)
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path

from graphql_app.schema.execution import (
    UNCHANGED_LEAVES,
    exact_class,
    plain_attribute,
    strawberry_definition,
)
from graphql_app.schema.resolver_calls import direct_call

# Scalars and the Python type of their usual values, which need none of _leaf's checks.
PLAIN_LEAVES: dict[str, type] = {"Int": int, "Float": float, "DateTime": datetime}


class Abort(Exception):
    """The plan cannot answer this request as graphql-core would."""


def _leaf(coerce: Callable[[Any], Any], value: Any) -> Any:
    """A leaf as graphql-core completes it, or Abort where it would report an error."""
    if value is Undefined or isinstance(value, Exception) or _awaitable(value):
        raise Abort
    coerced = coerce(value)
    if coerced is None or coerced is Undefined:
        raise Abort
    return coerced


def _plain(value: Any) -> bool:
    """A value graphql-core completes as an object as it is (not an error, not awaited)."""
    return not isinstance(value, Exception) and not _awaitable(value)


def _awaitable(value: Any) -> bool:
    return hasattr(value, "__await__")


@dataclass(slots=True)
class _Pending:
    """A resolver's coroutine, started, and the future it waits on."""

    coroutine: Coroutine[Any, Any, Any]
    waiting: Any
    complete: Callable[..., Any]
    path: Path
    out: dict[str, Any]
    key: str
    done: bool = False


class _Run:
    """One execution of a plan: the executor, the resolvers' coroutines not done yet,
    the arguments of each resolver field (the same for every object it is asked on).

    Resolver coroutines are driven here, as a task would drive them but without
    one per coroutine: each is started at once, as asyncio's eager tasks are, and
    resumed when the future it waits on is done. graphql-core would have made
    them (a coroutine per field, a task per list item) in the same order before
    any of them ran, so DataLoaders see the same loads in the same batches; a
    load the request has already made (the creator who is also `me`) completes
    at once, with no waiting at all.
    """

    __slots__ = ("args", "executor", "is_awaitable", "pending")

    def __init__(self, executor: Any, field_count: int) -> None:
        self.executor = executor
        self.is_awaitable = executor.is_awaitable
        self.pending: list[_Pending] = []
        self.args: list[Any] = [None] * field_count

    def call(
        self,
        index: int,
        resolver: _Resolver,
        source: Any,
        path: Path,
        out: dict[str, Any],
        key: str,
    ) -> Any:
        """Call a resolver as graphql-core's execute_field does; its completed value, or
        None while it waits (`out[key]` is set once it is done)."""
        executor = self.executor
        args = self.args[index]
        if args is None:
            args = self.args[index] = resolver.arguments(executor)
        info = executor.build_resolve_info(resolver.field, resolver.nodes, resolver.parent, path)
        result = resolver.resolve(source, info, **args)
        if not self.is_awaitable(result):
            return resolver.complete(self, result, path)
        coroutine = result if type(result) is CoroutineType else _awaited(result)
        item = _Pending(coroutine, None, resolver.complete, path, out, key)
        if self._step(item):
            return out[key]
        self.pending.append(item)
        return None

    def _step(self, item: _Pending) -> bool:
        """Resume a coroutine until it waits again (False) or is done (True, completed)."""
        try:
            waiting = item.coroutine.send(None)
        except StopIteration as done:
            item.out[item.key] = item.complete(self, done.value, item.path)
            return True
        if waiting is not None:
            if getattr(waiting, "_asyncio_future_blocking", None) is None:
                raise Abort  # not an asyncio future: only a task knows what to do
            waiting._asyncio_future_blocking = False
        item.waiting = waiting
        return False

    async def settle(self) -> None:
        """Drive the waiting coroutines until every one is done and completed."""
        while self.pending:
            ready = [item for item in self.pending if _ready(item.waiting)]
            if not ready:
                await _first_done([item.waiting for item in self.pending])
                continue
            if any(item.waiting is None for item in ready):
                await asyncio.sleep(0)  # a bare yield: the loop runs once first
            for item in ready:
                item.done = self._step(item)
            # (Kept until here, the ones not stepped yet are closed should one fail.)
            self.pending = [item for item in self.pending if not item.done]

    def close(self) -> None:
        """Stop the coroutines not done (the plan gave up, or the request was cancelled),
        as cancelling their tasks would: the futures they wait on are cancelled."""
        for item in self.pending:
            if item.waiting is not None and not item.waiting.done():
                item.waiting.cancel()
            with contextlib.suppress(RuntimeError):
                item.coroutine.close()
        self.pending = []


def _ready(waiting: Any) -> bool:
    return waiting is None or waiting.done()


async def _first_done(futures: list[Any]) -> None:
    """Wait until one of `futures` is done (its outcome is for the coroutine that waits)."""
    if len(futures) == 1 or all(f is futures[0] for f in futures):
        with contextlib.suppress(Exception):
            await futures[0]
        return
    await asyncio.wait(set(futures), return_when=asyncio.FIRST_COMPLETED)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


@dataclass(frozen=True)
class _Resolver:
    field: GraphQLField
    parent: GraphQLObjectType
    details: Any  # the first FieldDetails: its node and fragment variable values
    nodes: list[Any]
    resolve: Callable[..., Any]
    complete: Callable[..., Any]

    def arguments(self, executor: Any) -> dict[str, Any]:
        """The field's arguments as graphql-core's execute_field gets them."""
        node = self.details.node
        if not (self.field.args or node.arguments):
            return {}
        return get_argument_values(
            self.field,
            node,
            executor.variable_values,
            self.details.fragment_variable_values,
            executor.hide_suggestions,
        )


@dataclass
class QueryPlan:
    """A compiled query: `root(run, root_value)` builds the data, awaiting through `run`."""

    root: Callable[..., dict[str, Any]]
    resolver_count: int
    source: str  # the generated code, for reading

    async def run(self, executor: Any) -> dict[str, Any]:
        """The query's data as graphql-core would answer it; Abort (or any error) if not."""
        run = _Run(executor, self.resolver_count)
        try:
            data = self.root(run, executor.root_value, None)
            await run.settle()
        except BaseException:
            run.close()
            raise
        return data


@dataclass
class MutationPlan:
    """A compiled mutation of one root field whose selection is all plain attributes.

    Its resolver is called once, as graphql-core's execute_field calls it; its
    result is completed by the compiled code when it can be, else by the
    executor's own complete_value; an error is handled by the executor's own
    handle_field_error and collected as its execute_operation collects it. A
    mutation is never run twice: nothing is handed over once its resolver ran.
    """

    key: str
    resolver: _Resolver
    details: Any  # the root field's FieldDetails list
    source: str  # the generated code, for reading

    async def run(self, executor: Any) -> Any:
        """graphql-core's ExecutionResult of the mutation."""
        resolver = self.resolver
        field_def = resolver.field
        path = Path(None, self.key, resolver.parent.name)
        info = executor.build_resolve_info(field_def, resolver.nodes, resolver.parent, path)
        try:
            try:
                args = resolver.arguments(executor)
                result = resolver.resolve(executor.root_value, info, **args)
                if executor.is_awaitable(result):
                    result = await result
                try:
                    completed = resolver.complete(None, result, path)
                except Exception:  # graphql-core completes it instead, errors and all
                    # (reading plain attributes again has no effect)
                    completed = executor.complete_value(
                        field_def.type, self.details, info, path, result, None
                    )
                    if executor.is_awaitable(completed):
                        completed = await completed
            except Exception as raw_error:
                executor.handle_field_error(raw_error, field_def.type, self.details, path)
                completed = None
        except GraphQLError as error:  # a non-null field's error: the data is null
            executor.collected_errors.add(error, None)
            return executor.build_response(None)
        return executor.build_response({self.key: completed})


def plannable(document: DocumentNode, operation: OperationDefinitionNode) -> bool:
    """Whether a document can have a plan at all: a query or a mutation, no directive,
    no fragment variables (then field collection does not depend on the variables)."""
    if operation.operation not in (OperationType.QUERY, OperationType.MUTATION):
        return False
    found = _Found()
    visit(document, found)
    return not found.any


class _Found(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.any = False

    def enter_directive(self, node: DirectiveNode, *_args: Any) -> Any:
        self.any = True
        return self.BREAK

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_args: Any) -> Any:
        if node.variable_definitions:
            self.any = True
            return self.BREAK
        return None


class Unplannable(Exception):
    """Something in the operation the plan does not cover."""


# Fields a plan compiles at most (each field of each selection set, fragments
# inlined; past it the query has no plan). A plan is compiled on the event loop
# for any client's query, anonymous ones too (before a resolver refuses), once
# per distinct text, and kept with the prepared operation: about 0.1 ms of CPU
# and 1 KB per field. Unbounded, a 1.2 KB query of 1,000 fields took 110 ms to
# compile and kept 1.1 MB, over a gigabyte across the 1,000 prepared
# operations. Real queries are far smaller (the suite's and the bench's: 16
# fields at most); at 50, a distinct query costs at most ~1.3 times
# Strawberry's path and keeps ~35 KB more.
MAX_PLAN_FIELDS = 50


def compile_plan(executor: Any) -> QueryPlan | MutationPlan | None:
    """The plan of the executor's operation (plannable); None if it has none.

    Fails closed: whatever the compiler does not expect (Python's own limits
    too: lists of lists nested 20 deep exceed its nested blocks) means no plan,
    and graphql-core executes the query.
    """
    try:
        return _Compiler(executor).plan()
    except Exception:
        return None


@dataclass
class _Compiler:
    executor: Any
    lines: list[str] = field(default_factory=list)
    names: dict[str, Any] = field(default_factory=dict)
    resolvers: list[_Resolver] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    # Completion functions of resolver fields, filled once their functions are compiled.
    completions: list[tuple[str, int]] = field(default_factory=list)
    fields: int = 0  # compiled so far, at most MAX_PLAN_FIELDS

    @property
    def strawberry_schema(self) -> Any:
        """The Strawberry schema (Strawberry keeps it on graphql-core's)."""
        return getattr(self.executor.schema, "_strawberry_schema", None)

    def plan(self) -> QueryPlan | MutationPlan:
        executor = self.executor
        schema = executor.schema
        mutation = executor.operation.operation is OperationType.MUTATION
        root_type = schema.mutation_type if mutation else schema.query_type
        collected = collect_fields(
            schema,
            executor.fragments,
            executor.variable_values,
            root_type,
            executor.operation,
            executor.hide_suggestions,
        )
        if collected.new_defer_usages:
            raise Unplannable
        grouped = collected.grouped_field_set
        if mutation:
            # One root field, a resolver, and nothing below it but plain attributes.
            if len(grouped) != 1:
                raise Unplannable
            ((key, details),) = grouped.items()
            self.field_lines(root_type, key, details)
            if len(self.resolvers) != 1:
                raise Unplannable
            root = ""
        else:
            root, _ = self.selection(root_type, grouped)
        self.names.update(Abort=Abort, Path=Path, Undefined=Undefined, _leaf=_leaf, _plain=_plain)
        source = "\n".join(self.lines)
        code = compile(source, "<query plan>", "exec")
        namespace = dict(self.names)
        exec(code, namespace)  # noqa: S102 - our own generated source, from the schema
        for name, index in self.completions:
            self.resolvers[index] = replace(self.resolvers[index], complete=namespace[name])
        # Resolvers are looked up by index at run time, after the rebinding above.
        namespace["R"] = self.resolvers
        if mutation:
            return MutationPlan(key, self.resolvers[0], details, source)
        return QueryPlan(namespace[root], len(self.resolvers), source)

    def name(self, prefix: str, value: Any = None) -> str:
        name = f"{prefix}{next(self.counter)}"
        if value is not None:
            self.names[name] = value
        return name

    # -- selections -----------------------------------------------------------------

    def selection(self, type_: GraphQLObjectType, grouped: Any) -> tuple[str, bool]:
        """A function (run, value, path) -> the completed object; its name, and whether
        it reads `path` (a resolver below needs it; otherwise callers pass None)."""
        if type_.is_type_of is not None and exact_class(type_) is None:
            raise Unplannable
        body: list[str] = []
        uses_path = False
        for key, details in grouped.items():
            first = details[0]
            if first.defer_usage is not None or first.fragment_variable_values is not None:
                raise Unplannable
            lines, used = self.field_lines(type_, key, details)
            body.extend(lines)
            uses_path = uses_path or used
        function = self.name("sel")
        self.lines.append(f"def {function}(run, v, path):")
        self.lines.extend(self.check_lines(type_, "v"))
        self.lines.append("    o = {}")
        self.lines.extend(body)
        self.lines.extend(["    return o", ""])
        return function, uses_path

    def check_lines(self, type_: GraphQLObjectType, var: str, pad: str = "    ") -> list[str]:
        """Lines that Abort unless `var` completes as an object of `type_` as it is."""
        exact = exact_class(type_)
        if exact is not None:
            return [f"{pad}if type({var}) is not {self.name('K', exact)}: raise Abort"]
        origin = getattr(strawberry_definition(type_), "origin", None)
        if isinstance(origin, type):
            known = self.name("K", origin)
            return [f"{pad}if type({var}) is not {known} and not _plain({var}): raise Abort"]
        return [f"{pad}if not _plain({var}): raise Abort"]

    def field_lines(
        self, parent: GraphQLObjectType, key: str, details: Any
    ) -> tuple[list[str], bool]:
        self.fields += 1
        if self.fields > MAX_PLAN_FIELDS:
            raise Unplannable
        name = details[0].node.name.value
        k = repr(key)
        if name == "__typename":
            return [f"    o[{k}] = {parent.name!r}"], False
        field_def = parent.fields.get(name)
        if field_def is None:
            raise Unplannable  # introspection (__schema, __type)
        path = f"Path(path, {k}, {parent.name!r})"
        attribute = None if field_def.args else plain_attribute(field_def)
        if attribute is not None:
            if not attribute.isidentifier():
                raise Unplannable
            lines, used = self.value_lines(field_def.type, details, "x", path, f"o[{k}]", 1)
            return [f"    x = v.{attribute}", *lines], used
        if field_def.resolve is None:
            raise Unplannable
        index = len(self.resolvers)
        nodes = [d.node for d in details]
        resolve = direct_call(field_def, self.strawberry_schema) or field_def.resolve
        resolver = _Resolver(field_def, parent, details[0], nodes, resolve, _unbound)
        self.resolvers.append(resolver)
        self.completions.append((self.completion(field_def.type, details), index))
        return [f"    o[{k}] = run.call({index}, R[{index}], v, {path}, o, {k})"], True

    # -- values -----------------------------------------------------------------------

    def completion(self, type_: GraphQLOutputType, details: Any) -> str:
        """A function (run, value, path) -> a resolver's result completed; its name."""
        lines, _ = self.value_lines(type_, details, "x", "path", "r", 1)
        function = self.name("done")
        self.lines.append(f"def {function}(run, x, path):")
        self.lines.extend(lines)
        self.lines.extend(["    return r", ""])
        return function

    def value_lines(
        self, type_: GraphQLOutputType, details: Any, var: str, path: str, target: str, depth: int
    ) -> tuple[list[str], bool]:
        """Lines that set `target` to `var` completed as `type_` (or Abort), as
        graphql-core's complete_value would; and whether they use `path`, the
        expression of the value's Path."""
        pad = "    " * depth
        lines = []
        if isinstance(type_, GraphQLNonNull):
            inner = type_.of_type
            lines.append(f"{pad}if {var} is None: raise Abort")
        else:
            inner = type_
            lines.extend([f"{pad}if {var} is None: {target} = None", f"{pad}else:"])
            pad += "    "
            depth += 1
        if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
            coerce = self.name("C", inner.coerce_output_value)
            value = f"_leaf({coerce}, {var})"
            if (unchanged := UNCHANGED_LEAVES.get(inner.name)) is not None:
                value = f"{var} if type({var}) is {self.name('T', unchanged)} else {value}"
            elif (plain := PLAIN_LEAVES.get(inner.name)) is not None:
                # A value of this type is neither an error nor awaitable: coerced at once.
                value = f"{coerce}({var}) if type({var}) is {self.name('T', plain)} else {value}"
                lines.append(f"{pad}z = {value}")
                lines.append(f"{pad}if z is None or z is Undefined: raise Abort")
                lines.append(f"{pad}{target} = z")
                return lines, False
            lines.append(f"{pad}{target} = {value}")
            return lines, False
        if isinstance(inner, GraphQLObjectType):
            collected = self.executor.collect_subfields(inner, details)
            if collected.new_defer_usages:
                raise Unplannable
            function, used = self.selection(inner, collected.grouped_field_set)
            lines.append(f"{pad}{target} = {function}(run, {var}, {path if used else None})")
            return lines, used
        if isinstance(inner, GraphQLList):
            item, items, index, value, list_path = (
                self.name(prefix) for prefix in ("i", "l", "n", "y", "p")
            )
            item_lines, used = self.value_lines(
                inner.of_type, details, item, f"Path({list_path}, {index}, None)", value, depth + 1
            )
            lines.append(f"{pad}if type({var}) is not list: raise Abort")
            if used:
                lines.append(f"{pad}{list_path} = {path}")
            lines.extend([f"{pad}{items} = []", f"{pad}for {index}, {item} in enumerate({var}):"])
            lines.extend(item_lines)
            lines.extend([f"{pad}    {items}.append({value})", f"{pad}{target} = {items}"])
            return lines, used
        raise Unplannable  # an interface or a union


def _unbound(*_args: Any) -> Any:
    raise AssertionError("a resolver's completion is bound once the plan is compiled")
