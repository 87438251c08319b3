"""A faster executor for the most common fields: plain attributes of plain records.

graphql-core spends about 6 µs on every field, even one that only reads an
attribute: it builds a ResolveInfo, calls Strawberry's default resolver
wrapper, then completes the value through several generic steps. Most fields
of a todo page (id, name, cursor, edges, node, pageInfo …) are exactly that,
so this executor reads the attribute and completes it directly: a scalar or
enum is coerced, an object (or a list of non-null objects) goes straight to
its sub-selection.

Only fields where that is provably the same qualify: the field's Strawberry
definition has no resolver, no permission classes and no field extension,
reads its attribute with `getattr`, and Strawberry built its basic resolver
for it; no schema extension wraps resolvers (no middleware); the field takes
no arguments; and an object type has no `is_type_of` check other than
`InstanceTyped`'s (an object of exactly that class passes it). Anything unusual
on the way — a missing attribute, a null, a value a scalar refuses — takes
the standard path, and errors are handled by the executor's own methods, so
results stay identical (tests/test_execution.py runs the contract operations
through both executors and compares the responses byte for byte).

It fails closed. The executor overrides graphql-core's `execute_fields` and
`execute_field` and calls some of its methods; it is on only with the
graphql-core and Strawberry versions the suite has run (TESTED_VERSIONS) and
when every one of those hooks has the signature it was written against.
Anything else — a new version, a renamed hook, a field this module cannot
read — turns it off, never on; tests/test_library_hooks.py checks the hooks.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    MiddlewareManager,
    Undefined,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

log = logging.getLogger("graphql_app.execution")

# The versions the suite has run the fast path on: another one turns it off until
# the suite has passed on it and it is added here (and to pyproject.toml's ranges).
TESTED_VERSIONS: dict[str, frozenset[str]] = {
    "graphql-core": frozenset({"3.3.2"}),
    "strawberry-graphql": frozenset({"0.341.2"}),
}
# graphql-core's executor methods this module overrides or calls, with the
# parameters it passes them.
EXECUTOR_HOOKS: dict[str, tuple[str, ...]] = {
    "execute_fields": (
        "self",
        "parent_type",
        "source_value",
        "path",
        "grouped_field_set",
        "position_context",
    ),
    "execute_field": (
        "self",
        "parent_type",
        "source",
        "field_details_list",
        "path",
        "position_context",
    ),
    "collect_subfields": ("self", "return_type", "field_details_list"),
    "collect_and_execute_subfields": (
        "self",
        "return_type",
        "field_details_list",
        "path",
        "result",
        "position_context",
    ),
    "handle_field_error": ("self", "raw_error", "return_type", "field_details_list", "path"),
    "settle_in_background": ("self", "awaitables"),
}
# The name of the resolver Strawberry builds for a field that only reads an attribute.
STRAWBERRY_BASIC_RESOLVER = "_get_basic_result"

# Where Strawberry keeps, in a graphql-core type's or field's `extensions`, its own
# definition of it (schema_converter writes the key as this literal).
_BACKREF = "strawberry-definition"
_MISSING = object()
_PLAN_ATTR = "_graphql_app_fast_plan"
# graphql-core's serialize_string/id/boolean return a value of exactly this type as is.
UNCHANGED_LEAVES: dict[str, type] = {"String": str, "ID": str, "Boolean": bool}

LEAF, OBJECT, OBJECT_LIST, TYPENAME = 1, 2, 3, 4
_NOT_PLAIN = object()  # a value the whole-tree path cannot complete: take the usual one
# (kind, python attribute, leaf coercion or object type, item type of a list)
Plan = tuple[int, str, Any, Any] | None


class InstanceTyped:
    """For Strawberry types that implement an interface (Node): their objects are
    recognised by class, which the fast path can check itself.

    Strawberry gives such a type an `is_type_of` of its own; graphql-core calls it
    for every object. This one is a plain isinstance check, so an object of
    exactly this class takes the fast path and anything else the usual one.
    """

    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, cls)


_INSTANCE_CHECK = InstanceTyped.is_type_of.__func__  # type: ignore[attr-defined]


def exact_class(type_: GraphQLObjectType) -> type | None:
    """The class whose instances pass `type_`'s is_type_of as they are; None if unknown."""
    check = type_.is_type_of
    if getattr(check, "__func__", None) is _INSTANCE_CHECK:
        return check.__self__  # type: ignore[union-attr,no-any-return]
    return None


def _strip_non_null(type_: GraphQLOutputType) -> GraphQLOutputType:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _plain_object(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType) and (
        type_.is_type_of is None or exact_class(type_) is not None
    )


def _of_type(object_type: GraphQLObjectType, value: Any) -> bool:
    """True when graphql-core's is_type_of check would pass `value` as it is."""
    return object_type.is_type_of is None or type(value) is exact_class(object_type)


def fast_path_problems(versions: Mapping[str, str | None] | None = None) -> list[str]:
    """Why the fast path cannot run here; empty when it can.

    `versions` (distribution name to version) defaults to what is installed.
    """
    problems = []
    for name, tested in TESTED_VERSIONS.items():
        installed = versions.get(name) if versions is not None else _installed(name)
        if installed not in tested:
            problems.append(f"{name} {installed} is not a tested version ({', '.join(tested)})")
    for name, parameters in EXECUTOR_HOOKS.items():
        method = getattr(StrawberryGraphQLCoreExecutionContext, name, None)
        if not callable(method):
            problems.append(f"graphql-core's executor has no {name}()")
        elif tuple(inspect.signature(method).parameters) != parameters:
            problems.append(f"graphql-core's {name}() takes other parameters")
    return problems


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


FAST_PATH_PROBLEMS = fast_path_problems()


def strawberry_definition(element: GraphQLField | GraphQLObjectType) -> Any:
    """Strawberry's definition of a graphql-core field or object type; None if none."""
    return (element.extensions or {}).get(_BACKREF)


def plain_attribute(field_def: GraphQLField) -> str | None:
    """The attribute a field only reads, as Strawberry would; None when it does more
    (a resolver, a permission, an extension) or when this cannot tell."""
    definition = strawberry_definition(field_def)
    if (
        type(definition) is not StrawberryField
        or definition.base_resolver is not None
        or definition.permission_classes
        or definition.extensions
        or definition.default_resolver is not getattr
        or getattr(field_def.resolve, "_is_default", None) is not True
        or getattr(field_def.resolve, "__name__", None) != STRAWBERRY_BASIC_RESOLVER
    ):
        return None
    python_name = definition.python_name
    return python_name if isinstance(python_name, str) and python_name else None


def _plan_for(field_def: GraphQLField) -> Plan:
    if field_def.args:
        return None
    python_name = plain_attribute(field_def)
    if python_name is None:
        return None
    inner = _strip_non_null(field_def.type)
    if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
        # The 4th slot: a Python type whose values the scalar returns unchanged.
        return LEAF, python_name, inner.coerce_output_value, UNCHANGED_LEAVES.get(inner.name)
    if _plain_object(inner):
        return OBJECT, python_name, inner, None
    if isinstance(inner, GraphQLList):
        item_type = inner.of_type
        if isinstance(item_type, GraphQLNonNull) and _plain_object(item_type.of_type):
            return OBJECT_LIST, python_name, item_type.of_type, item_type
    return None


def plan_of(field_def: GraphQLField) -> Plan:
    """The fast plan of a field, computed once and kept on the field itself."""
    try:
        return getattr(field_def, _PLAN_ATTR)  # type: ignore[no-any-return]
    except AttributeError:
        plan = _plan_for(field_def)
        setattr(field_def, _PLAN_ATTR, plan)
        return plan


def _plain_leaf(coerce: Callable[[Any], Any], value: Any) -> Any:
    """The coerced leaf, or _NOT_PLAIN where the usual path has an error to report."""
    try:
        coerced = coerce(value)
    except Exception:
        return _NOT_PLAIN
    return _NOT_PLAIN if coerced is None or coerced is Undefined else coerced


def _unwrapped(source: Any, info: Any) -> Any:
    """A resolver to ask the middleware manager about; never called."""
    raise NotImplementedError


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor with the plain-attribute fast path in `execute_field`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry always passes a manager; it wraps resolvers only when some
        # extension implements `resolve`, and then every field must go through it.
        # Asked through the manager's public method: a resolver it returns unwrapped.
        manager = getattr(self, "middleware_manager", _MISSING)
        self._fast = not FAST_PATH_PROBLEMS and (
            manager is None
            or (
                isinstance(manager, MiddlewareManager)
                and manager.get_field_resolver(_unwrapped) is _unwrapped
            )
        )
        # Keeps each grouped field set alive with its plans, so its id stays unique.
        self._plans_by_selection: dict[int, tuple[Any, Any]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_fields, with plain leaf fields answered inline.

        A leaf that qualifies needs no Path, no execute_field call and no
        awaitable check; every other field goes through execute_field as usual.
        """
        if not self._fast:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, plan in self._selection(
                parent_type, grouped_field_set
            )[0]:
                if plan is not None and plan[0] == LEAF:
                    value = getattr(source_value, plan[1], None)
                    if value is not None and type(value) is not plan[3]:
                        value = _plain_leaf(plan[2], value)
                    if value is not None and value is not _NOT_PLAIN:
                        results[response_name] = value
                        continue
                    # A null or a refused value: execute_field reports it properly.
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                settled = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, settled, strict=True))
            return results

        return get_results()

    def _selection(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> Any:
        """Each field of a selection with its plan (None: the usual path), and
        whether every field has one (the whole selection is plain).

        graphql-core memoizes a selection's grouped field set per request, so the
        20 nodes of a page share one entry here.
        """
        key = id(grouped_field_set)
        cached = self._plans_by_selection.get(key)
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        fields = parent_type.fields
        plans = []
        for response_name, field_details_list in grouped_field_set.items():
            name = field_details_list[0].node.name.value
            field_def = fields.get(name)
            if field_def is not None:
                plan = plan_of(field_def)
            elif name == "__typename":
                plan = (TYPENAME, "", None, None)
            else:
                plan = None
            plans.append((response_name, field_details_list, plan))
        selection = (plans, all(plan is not None for _, _, plan in plans))
        self._plans_by_selection[key] = (grouped_field_set, selection)
        return selection

    def _plain_object(
        self, object_type: GraphQLObjectType, field_details_list: Any, value: Any
    ) -> Any:
        """The completed value of an object whose whole selection is plain, or _NOT_PLAIN.

        Every field of the tree below reads an attribute (or is __typename), so
        it is completed here in one pass: no Path, no execute_field, no
        awaitables. Anything else anywhere below (a resolver, a null, a value
        a scalar refuses, a deferred fragment) answers _NOT_PLAIN, and the
        caller completes the field the usual way instead; reading attributes of
        plain records twice has no effect.
        """
        if not _of_type(object_type, value):
            return _NOT_PLAIN
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        plans, plain = self._selection(object_type, grouped_field_set)
        if new_defer_usages or not plain:
            return _NOT_PLAIN
        completed: dict[str, Any] = {}
        for response_name, sub_details, plan in plans:
            kind = plan[0]
            if kind == TYPENAME:
                completed[response_name] = object_type.name
                continue
            field_value = getattr(value, plan[1], None)
            if field_value is None:
                return _NOT_PLAIN
            if kind == LEAF:
                if type(field_value) is not plan[3]:
                    field_value = _plain_leaf(plan[2], field_value)
            elif kind == OBJECT:
                field_value = self._plain_object(plan[2], sub_details, field_value)
            else:
                field_value = self._plain_objects(plan[2], sub_details, field_value)
            if field_value is _NOT_PLAIN:
                return _NOT_PLAIN
            completed[response_name] = field_value
        return completed

    def _plain_objects(
        self, object_type: GraphQLObjectType, field_details_list: Any, values: Any
    ) -> Any:
        """_plain_object over a list of non-null objects, or _NOT_PLAIN."""
        if type(values) is not list:
            return _NOT_PLAIN
        completed = []
        for value in values:
            item = (
                _NOT_PLAIN
                if value is None
                else self._plain_object(object_type, field_details_list, value)
            )
            if item is _NOT_PLAIN:
                return _NOT_PLAIN
            completed.append(item)
        return completed

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        if self._fast:
            field_def = parent_type.fields.get(field_details_list[0].node.name.value)
            plan = plan_of(field_def) if field_def is not None else None
            if plan is not None:
                value = getattr(source, plan[1], _MISSING)
                if value is not None and value is not _MISSING:
                    # Leaves were tried inline by execute_fields; here only objects.
                    kind = plan[0]
                    if kind == OBJECT and _of_type(plan[2], value):
                        done = self._plain_object(plan[2], field_details_list, value)
                        if done is not _NOT_PLAIN:
                            return done
                        return self._complete_object(
                            field_def, plan[2], field_details_list, path, value, position_context
                        )
                    if (
                        kind == OBJECT_LIST
                        and isinstance(value, list)
                        and None not in value
                        and (
                            plan[2].is_type_of is None
                            or all(_of_type(plan[2], item) for item in value)
                        )
                    ):
                        done = self._plain_objects(plan[2], field_details_list, value)
                        if done is not _NOT_PLAIN:
                            return done
                        return self._complete_objects(
                            field_def, plan, field_details_list, path, value, position_context
                        )
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _guard(self, completed: Any, return_type: Any, field_details_list: Any, path: Any) -> Any:
        """Route a late (awaited) failure through the executor's error handling."""
        if not self.is_awaitable(completed):
            return completed

        async def settle() -> Any:
            try:
                return await completed
            except Exception as raw_error:  # handled as graphql-core does
                self.handle_field_error(raw_error, return_type, field_details_list, path)
                return None

        return settle()

    def _complete_object(
        self,
        field_def: GraphQLField,
        object_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        value: Any,
        position_context: Any,
    ) -> Any:
        try:
            completed = self.collect_and_execute_subfields(
                object_type, field_details_list, path, value, position_context
            )
        except Exception as raw_error:  # handled as graphql-core does
            self.handle_field_error(raw_error, field_def.type, field_details_list, path)
            return None
        return self._guard(completed, field_def.type, field_details_list, path)

    def _complete_objects(
        self,
        field_def: GraphQLField,
        plan: Any,
        field_details_list: Any,
        path: Any,
        values: list[Any],
        position_context: Any,
    ) -> Any:
        object_type, item_type = plan[2], plan[3]
        results: list[Any] = []
        pending: list[int] = []
        try:
            for index, item in enumerate(values):
                item_path = path.add_key(index, None)
                try:
                    completed = self.collect_and_execute_subfields(
                        object_type, field_details_list, item_path, item, position_context
                    )
                except Exception as raw_error:  # handled as graphql-core does
                    # Items are non-null: this raises the located error to the list.
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    completed = None
                if self.is_awaitable(completed):
                    completed = self._guard(completed, item_type, field_details_list, item_path)
                    pending.append(index)
                results.append(completed)
        except Exception as raw_error:  # handled as graphql-core does
            if pending:
                self.settle_in_background([results[i] for i in pending])
            self.handle_field_error(raw_error, field_def.type, field_details_list, path)
            return None
        if not pending:
            return results

        async def gather() -> list[Any]:
            settled = await gather_with_cancel(*(results[i] for i in pending))
            for index, value in zip(pending, settled, strict=True):
                results[index] = value
            return results

        return self._guard(gather(), field_def.type, field_details_list, path)
