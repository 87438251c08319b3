"""Query plans drive resolvers as graphql-core's tasks would, whatever they await.

A small schema whose resolvers wait in every way a coroutine can (a bare
yield, an event another resolver sets, a future of their own, a plain
awaitable, nothing at all), fail after waiting, or return values of the wrong
kind: each query runs through prepared operations (its plan) and through
Strawberry's Schema.execute with graphql-core's executor, and both answer the
same. The app's own queries are compared in tests/test_prepared.py and
tests/test_differential.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest
import strawberry

from graphql_app.errors import NotFound
from graphql_app.schema import AppSchema
from graphql_app.schema.error_formatting import error_codes
from graphql_app.schema.execution import FastExecutor
from graphql_app.schema.plans import MutationPlan
from graphql_app.schema.prepared import PlanRuns
from tests.support.prepared import prepared_for


class Later:
    """An awaitable that is not an asyncio future nor a coroutine."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        yield from asyncio.sleep(0).__await__()
        return self.value


@strawberry.type
class Item:
    n: int

    @strawberry.field
    async def doubled(self) -> int:
        await asyncio.sleep(0)
        return self.n * 2

    @strawberry.field
    async def fails(self) -> int:
        await asyncio.sleep(0)
        if self.n == 2:
            raise NotFound("no such item")
        return self.n


@strawberry.type
class Query:
    @strawberry.field
    async def at_once(self) -> str:
        return "done"

    @strawberry.field
    async def sleepy(self) -> str:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return "slept"

    @strawberry.field
    async def waits(self, info: strawberry.Info) -> str:
        try:
            await info.context["event"].wait()  # set by `sets`, after it
        finally:
            info.context["left"] = True
        return "waited"

    @strawberry.field
    async def sets(self, info: strawberry.Info) -> str:
        await asyncio.sleep(0)
        info.context["event"].set()
        return "set"

    @strawberry.field
    async def future(self) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(future.set_result, 7)
        return await future

    @strawberry.field
    def awaitable(self) -> str:
        return Later("later")  # type: ignore[return-value]  # graphql-core awaits it

    @strawberry.field
    async def items(self) -> list[Item]:
        await asyncio.sleep(0)
        return [Item(n=n) for n in range(4)]

    @strawberry.field
    async def wrong_kind(self) -> Item:
        return "not an item"  # type: ignore[return-value]

    @strawberry.field
    async def nothing(self) -> Item | None:
        return None


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def add(self, n: int) -> Item:
        await asyncio.sleep(0)
        return Item(n=n + 1)

    @strawberry.mutation
    async def refused(self) -> Item:
        raise NotFound("nothing to change")

    @strawberry.mutation
    async def refused_or_null(self) -> Item | None:
        raise NotFound("nothing to change")

    @strawberry.mutation
    async def broken(self) -> Item:
        return Item(n=None)  # type: ignore[arg-type]  # a null in a non-null field

    @strawberry.mutation
    def wrong_kind(self) -> Item:
        return "not an item"  # type: ignore[return-value]


QUERIES = [
    ("{ atOnce sleepy }", True),
    ("{ waits sets }", True),
    ("{ future awaitable atOnce }", True),
    ("{ items { n doubled } }", True),
    ("{ nothing { n } items { doubled } }", True),
    ("{ items { n fails } }", False),
    ("{ sleepy wrongKind { n } }", False),
    # A mutation plan answers its errors itself: a mutation never runs twice.
    ("mutation { add(n: 1) { n } }", True),
    ("mutation { refused { n } }", True),
    ("mutation { refusedOrNull { n } }", True),
    ("mutation { broken { n } }", True),
    ("mutation { wrongKind { n } }", True),
]


def schema(executor: type[FastExecutor] | None) -> AppSchema:
    return AppSchema(
        query=Query,
        mutation=Mutation,
        extensions=[error_codes(hide_suggestions=False)],
        execution_context_class=executor,
    )


@pytest.mark.parametrize(("query", "answered"), QUERIES)
async def test_plans_answer_as_graphql_core_whatever_resolvers_await(
    query: str, answered: bool
) -> None:
    prepared = prepared_for(schema(FastExecutor))
    operation = prepared.prepare(query, None)
    assert operation is not None
    before = (PlanRuns.answered, PlanRuns.handed_over)
    got = await prepared.execute(operation, None, {"event": asyncio.Event()}, None)
    assert (PlanRuns.answered, PlanRuns.handed_over) == (
        before[0] + answered,
        before[1] + (not answered),
    )
    assert operation.plan is not None
    assert isinstance(operation.plan, MutationPlan) == query.startswith("mutation")
    want = await schema(None).execute(query, context_value={"event": asyncio.Event()})
    assert got.data == want.data
    assert [e.formatted for e in got.errors or []] == [e.formatted for e in want.errors or []]


async def test_a_cancelled_plan_leaves_no_coroutine_running() -> None:
    """A request cancelled (its time limit) while resolvers wait: their coroutines are
    closed and the futures they waited on cancelled, as cancelling tasks would."""
    prepared = prepared_for(schema(FastExecutor))
    operation = prepared.prepare("{ waits }", None)
    assert operation is not None
    context: dict[str, Any] = {"event": asyncio.Event()}
    running = asyncio.ensure_future(prepared.execute(operation, None, context, None))
    await asyncio.sleep(0.01)
    assert "left" not in context
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert context["left"] is True  # the resolver left its wait, at once
