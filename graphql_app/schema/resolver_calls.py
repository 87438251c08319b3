"""Strawberry resolvers called without Strawberry's per-call wrapper, where that is the same.

For a field with a resolver, Strawberry gives graphql-core a wrapper
(schema_converter's `_async_resolver`) that, on every call, builds an Info,
converts each argument by walking its type (convert_arguments), chains the
field's extensions, works out which of self, info, root and parent the
resolver takes, calls it and awaits what it returns. For the common kind of
resolver all of that but the Info depends on the field alone, so
`direct_call(field)` works it out once and returns a function that does the
rest: it converts the arguments as convert_arguments does for their types,
passes what the resolver takes, and returns the resolver's coroutine (the
plan awaits it, as the wrapper would).

The common kind, and nothing else (None: the plan calls Strawberry's wrapper):
an `async def` resolver of a Strawberry field that graphql-core resolves
with Strawberry's `_async_resolver`; no field extension or permission; no
exception handler in the schema; each argument of a scalar type (not a
GlobalID, not an enum), or of an input type built by its class whose fields
are all of such types; Optional wrappers allowed, Maybe and lists not.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import MISSING
from typing import Any

from graphql import GraphQLField
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.types.base import StrawberryMaybe, StrawberryOptional, has_object_definition
from strawberry.types.field import StrawberryField

from graphql_app.schema.execution import strawberry_definition

STRAWBERRY_ASYNC_RESOLVER = "_async_resolver"

Converter = Callable[[Any], Any] | None  # None: the value as it is


class NotDirect(Exception):
    """Something in the field that only Strawberry's wrapper handles."""


def direct_call(field_def: GraphQLField, schema: Any) -> Callable[..., Any] | None:
    """A function (source, info, **arguments) doing what Strawberry's wrapper of the
    field does; None when the field is not of the kind described above. `schema` is
    the Strawberry schema the field belongs to."""
    definition = strawberry_definition(field_def)
    if type(definition) is not StrawberryField:
        return None
    try:
        return _direct_call(field_def, definition, schema)
    except Exception:  # NotDirect, or Strawberry is not what this expects: its wrapper
        return None


def _direct_call(
    field_def: GraphQLField, definition: StrawberryField, schema: Any
) -> Callable[..., Any]:
    resolver = definition.base_resolver
    if (
        resolver is None
        or definition.extensions
        or definition.permission_classes
        or getattr(field_def.resolve, "__name__", None) != STRAWBERRY_ASYNC_RESOLVER
        or not inspect.iscoroutinefunction(resolver.wrapped_func)
    ):
        raise NotDirect
    config, registry = schema.config, schema.schema_converter.scalar_registry
    if schema.schema_converter.exception_handlers:
        raise NotDirect
    arguments = [
        (
            config.name_converter.from_argument(argument),
            argument.python_name,
            _converter(argument.type, registry, config),
        )
        for argument in definition.arguments
    ]
    function = resolver.wrapped_func
    takes_self = resolver.self_parameter is not None
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    source_names = [
        parameter.name
        for parameter in (resolver.parent_parameter, resolver.root_parameter)
        if parameter is not None
    ]
    info_class = config.info_class

    def call(source: Any, info: Any, **kwargs: Any) -> Any:
        converted: dict[str, Any] = {}
        for graphql_name, python_name, convert in arguments:
            if graphql_name in kwargs:
                value = kwargs[graphql_name]
                converted[python_name] = (
                    value if convert is None or value is None else convert(value)
                )
        for name in source_names:
            converted[name] = source
        if info_name is not None:
            converted[info_name] = info_class(_raw_info=info, _field=definition)
        return function(source, **converted) if takes_self else function(**converted)

    return call


def _leaf(type_: Any, registry: Any) -> bool:
    """A scalar (not a GlobalID), maybe Optional, which convert_argument leaves as is."""
    if isinstance(type_, StrawberryOptional) and not isinstance(type_, StrawberryMaybe):
        type_ = type_.of_type
    return type_ is not GlobalID and is_scalar(type_, registry)


def _converter(type_: Any, registry: Any, config: Any) -> Converter:
    """How convert_argument converts a value of `type_` (not None); NotDirect when it
    does more than this handles."""
    if isinstance(type_, StrawberryMaybe):
        raise NotDirect
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    if _leaf(type_, registry):
        return None
    if not (isinstance(type_, type) and has_object_definition(type_)):
        raise NotDirect
    input_definition = type_.__strawberry_definition__
    if not input_definition.is_input or input_definition.from_input is not None:
        raise NotDirect
    # As convert_argument: an implicit None for the fields without a default, then
    # each field the value has, as it is (all are scalars).
    defaults = {
        field.python_name: None
        for field in input_definition.fields
        if field.default_value is MISSING and field.default_factory is MISSING
    }
    fields = []
    for field in input_definition.fields:
        field_type = field.resolve_type(type_definition=input_definition)
        if not _leaf(field_type, registry):
            raise NotDirect
        fields.append((config.name_converter.from_field(field), field.python_name))
    build = type_

    def convert(value: Any) -> Any:
        kwargs = dict(defaults)
        for graphql_name, python_name in fields:
            if graphql_name in value:
                kwargs[python_name] = value[graphql_name]
        return build(**kwargs)

    return convert
