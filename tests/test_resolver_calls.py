"""Resolvers called directly (schema/resolver_calls.py) get what Strawberry's wrapper gives.

Resolvers that echo every argument they receive (scalars, IDs, optional
ones left out or null, input objects with and without defaults), the info,
root and self, are run through a query plan, which calls them directly, and
through Strawberry's Schema.execute, which calls its wrapper: same answers.
Fields whose calls only the wrapper handles (lists, enums, Maybe, permission
classes, field extensions, sync resolvers, exception handlers) are not
called directly.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import pytest
import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission
from strawberry.types import Info

from graphql_app.schema import AppSchema
from graphql_app.schema.execution import FastExecutor
from graphql_app.schema.prepared import PlanRuns
from graphql_app.schema.resolver_calls import direct_call
from tests.support.prepared import prepared_for


@strawberry.input
class Filter:
    done: bool | None = None
    name: str = "default name"
    label: str | None
    since: datetime | None = None


class Colour(enum.Enum):
    RED = "red"


class Allow(BasePermission):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return True


class Upper(FieldExtension):
    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        return str(await next_(source, info, **kwargs)).upper()


@strawberry.type
class Failed:
    reason: str


class Handler(strawberry.ExceptionHandler[ValueError, Failed]):
    def handle(self, exception: ValueError, *, field: Any, info: Info) -> Failed:
        return Failed(reason=str(exception))


DEFAULT_ID = strawberry.ID("z")


@strawberry.type
class Holder:
    name: str = "holder"

    @strawberry.field
    async def echo(
        self,
        info: Info,
        a: int,
        b: str | None = None,
        c: strawberry.ID = DEFAULT_ID,
        f: Filter | None = None,
        when: datetime | None = None,
    ) -> str:
        return repr((self.name, info.field_name, info.path.key, a, b, c, vars(f) if f else f, when))

    @strawberry.field
    async def rooted(self, root: Any) -> str:
        return repr(root.name)

    @strawberry.field
    async def many(self, xs: list[int]) -> str:
        return repr(xs)

    @strawberry.field
    async def colour(self, c: Colour) -> str:
        return repr(c)

    @strawberry.field(permission_classes=[Allow])  # type: ignore[untyped-decorator]
    async def allowed(self) -> str:
        return "allowed"

    @strawberry.field(extensions=[Upper()])  # type: ignore[untyped-decorator]
    async def shouted(self) -> str:
        return "shouted"

    @strawberry.field
    def sync(self, a: int) -> str:
        return repr(a)


@strawberry.type
class Query:
    @strawberry.field
    def holder(self) -> Holder:
        return Holder()

    @strawberry.field
    async def failing(self) -> Failed | Holder:
        raise ValueError("handled")


DIRECT = {"echo": True, "rooted": True, "many": False, "colour": False}
DIRECT |= {"allowed": False, "shouted": False, "sync": False}

QUERIES = [
    "{ holder { echo(a: 1) } }",
    '{ holder { echo(a: 1, b: null, c: 7, when: "2026-01-02T03:04:05+00:00") } }',
    '{ holder { echo(a: 2, b: "x", f: {label: "l"}) } }',
    "{ holder { echo(a: 3, f: {done: false}) } }",  # label left out: an implicit null
    '{ holder { echo(a: 3, f: {done: true, name: "n", label: null, since: "2026-01-02T03:04:05Z"})'
    " } }",
    "{ holder { echo(a: 4, f: null) x: echo(a: 5) } }",
    "{ holder { rooted many(xs: [1, 2]) colour(c: RED) allowed shouted sync(a: 6) } }",
]


def schema(executor: type[FastExecutor] | None) -> AppSchema:
    return AppSchema(query=Query, execution_context_class=executor)


def test_only_the_common_kind_of_resolver_is_called_directly() -> None:
    app_schema = schema(FastExecutor)
    fields = app_schema._schema.type_map["Holder"].fields  # type: ignore[attr-defined]
    assert {name: direct_call(fields[name], app_schema) is not None for name in DIRECT} == DIRECT
    with_handlers = AppSchema(query=Query, exception_handlers=[Handler()])
    echo = with_handlers._schema.type_map["Holder"].fields["echo"]  # type: ignore[attr-defined]
    assert direct_call(echo, with_handlers) is None


@pytest.mark.parametrize("query", QUERIES)
async def test_direct_calls_answer_as_strawberrys_wrapper(query: str) -> None:
    prepared = prepared_for(schema(FastExecutor))
    operation = prepared.prepare(query, None)
    assert operation is not None
    answered = PlanRuns.answered
    got = await prepared.execute(operation, None, None, None)
    assert PlanRuns.answered == answered + 1 and operation.plan is not None
    want = await schema(None).execute(query)
    assert got.errors is None and want.errors is None, (got.errors, want.errors)
    assert got.data == want.data
