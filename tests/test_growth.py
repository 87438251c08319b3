"""A user with 200,000 todos costs what a user with 200 does (issue 17).

Through HTTP to the app on SQLite and on PostgreSQL: a page (with or without
totalCount, first page or later, filtered or not) costs the same storage
round trips and reads the same bounded number of rows for both users; the
bulk mutations cost the same round trips and publish one event each. The
200,000 todos are inserted with one SQL statement, as a test's setup; the
counters are set to match, as `migrate` would.

Rows read are counted, never timed: on PostgreSQL, EXPLAIN ANALYZE's actual
rows of the very statements the app sent (read off the wire by the test
proxy); on SQLite, the virtual machine steps the reader connection ran.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphql_app.app import create_app
from graphql_app.cursors import to_micros
from graphql_app.events import EventStream
from graphql_app.events.memory import InProcessEventBus
from graphql_app.models import TodoEvent, TodoEventKind
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from graphql_app.storage.sqlite import SQLiteStorage
from tests.support.clock import Clock
from tests.support.graphql_client import Account, GraphQLClient, sign_up

BIG = 200_000
SMALL = 200

PAGE = """
query P($first: Int, $after: String, $filter: TodoFilter) {
  todos(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id isCompleted } }
  }
}
"""
PAGE_WITHOUT_COUNT = """
query P($first: Int, $after: String, $filter: TodoFilter) {
  todos(first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage endCursor }
    edges { node { id isCompleted } }
  }
}
"""
COUNT_ONLY = "query C($filter: TodoFilter) { todos(filter: $filter) { totalCount } }"
pytestmark = pytest.mark.slow

SET_ALL = "mutation S($c: Boolean!) { setAllTodosCompleted(isCompleted: $c) }"
CLEAR = "mutation { clearCompletedTodos }"


@dataclass
class World:
    storage: Storage
    gql: GraphQLClient
    events: InProcessEventBus
    rows_read: Callable[[Awaitable[Any]], Awaitable[int]]
    """Runs a request; the rows (PostgreSQL) or VM steps (SQLite) its reads cost."""
    bulk_insert: Callable[[str, int], Awaitable[None]]
    """Inserts that many todos for a user, half of them completed, and sets its counters."""


async def sqlite_world(stack: AsyncExitStack, tmp_path: Path) -> tuple[Storage, Any, Any]:
    storage = SQLiteStorage(str(tmp_path / "growth.db"))
    await storage.migrate()
    stack.push_async_callback(storage.close)
    reader = storage._read_conn()  # the connection every read of the backend runs on

    async def rows_read(request: Awaitable[Any]) -> int:
        steps = 0

        def count() -> int:
            nonlocal steps
            steps += 1
            return 0  # go on

        reader.set_progress_handler(count, 1)
        try:
            await request
        finally:
            reader.set_progress_handler(None, 1)
        return steps

    async def bulk_insert(user_id: str, count: int) -> None:
        conn = sqlite3.connect(storage.path, isolation_level=None)
        try:
            start = to_micros(Clock().now) - 10 * count
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) "
                "INSERT INTO todos (id, user_id, name, is_completed, created_at, updated_at) "
                "SELECT substr(?2, 1, 16) || printf('%016x', i), ?2, 'todo ' || i, i % 2, "
                "?3 + i, ?3 + i FROM n",
                (count, user_id, start),
            )
            conn.execute(
                "UPDATE users SET todo_count = todo_count + ?, "
                "completed_count = completed_count + ? WHERE id = ?",
                (count, (count + 1) // 2, user_id),
            )
            conn.execute("COMMIT")
        finally:
            conn.close()

    return storage, rows_read, bulk_insert


async def postgres_world(stack: AsyncExitStack) -> tuple[Storage, Any, Any]:
    from graphql_app.storage.postgres import PostgresStorage
    from tests.support.postgres_backend import admin_connection, fresh_schema
    from tests.support.postgres_proxy import Proxy

    schema = await stack.enter_async_context(fresh_schema())
    proxy = Proxy()
    await proxy.start()
    stack.push_async_callback(proxy.stop)
    storage = PostgresStorage(proxy.url(), pool_size=4, query_timeout=60.0, search_path=schema)
    stack.push_async_callback(storage.close)
    await storage.migrate()
    admin = await admin_connection()
    stack.push_async_callback(admin.close)
    await admin.execute(f"SET search_path = {schema}")

    async def rows_read(request: Awaitable[Any]) -> int:
        """Actual rows of every plan node of every page statement the request sent."""
        sent = len(proxy.statements)
        result = await request
        statements = proxy.statements[sent:]
        assert statements, "the request sent no statement"
        variables = result.get("variables", {})
        rows = 0
        for sql in statements:
            args = page_args(variables, result["user_id"], sql)
            plan = await admin.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
            rows += actual_rows(json.loads(plan)[0]["Plan"])
        return rows

    async def bulk_insert(user_id: str, count: int) -> None:
        start = Clock().now
        await admin.execute(
            "INSERT INTO todos (id, user_id, name, is_completed, created_at, updated_at) "
            "SELECT left($1, 16) || lpad(to_hex(i), 16, '0'), $1, 'todo ' || i, i % 2 = 1, "
            "$2::timestamptz - ($3 - i) * interval '10 microseconds', "
            "$2::timestamptz - ($3 - i) * interval '10 microseconds' "
            "FROM generate_series(1, $3) AS i",
            user_id,
            start,
            count,
        )
        await admin.execute(
            "UPDATE users SET todo_count = todo_count + $2, "
            "completed_count = completed_count + $3 WHERE id = $1",
            user_id,
            count,
            (count + 1) // 2,
        )
        await admin.execute("ANALYZE todos")

    return storage, rows_read, bulk_insert


def actual_rows(node: dict[str, Any]) -> int:
    own = int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))
    return own + sum(actual_rows(child) for child in node.get("Plans", []))


def page_args(variables: dict[str, Any], user_id: str, sql: str) -> list[Any]:
    """The arguments the backend binds to a page or count statement ($1 owner, $2 limit …)."""
    from graphql_app.cursors import decode_cursor

    if "= ANY(" in sql:  # the counters of totalCount alone
        return [[user_id]]
    args: list[Any] = [user_id, variables.get("first", 20) + 1]
    flt = variables.get("filter")
    if flt is not None:
        args.append(flt["isCompleted"])
    if variables.get("after"):
        position = decode_cursor(variables["after"])
        args += [position.created_at, position.id]
    return args


@pytest.fixture
async def world(
    sql_backend: str, tmp_path: Path, settings: Settings, clock: Clock
) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        if sql_backend == "sqlite":
            storage, rows_read, bulk_insert = await sqlite_world(stack, tmp_path)
        else:
            storage, rows_read, bulk_insert = await postgres_world(stack)
        events = InProcessEventBus()
        app = create_app(settings, clock=clock, storage=storage, events=events)
        # What the server's lifespan does at start-up (httpx runs no lifespan): read the
        # token revocations once, so no measured request pays that one-off read.
        await app.state.deps.revocations.warm_up()
        transport = httpx.ASGITransport(app=app)
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://testserver")
        )
        yield World(storage, GraphQLClient(http), events, rows_read, bulk_insert)


async def two_users(world: World) -> tuple[Account, Account]:
    small = await sign_up(world.gql, "small@example.com")
    await world.bulk_insert(small.id, SMALL)
    big = await sign_up(world.gql, "big@example.com")
    await world.bulk_insert(big.id, BIG)
    return small, big


async def events_until_marker(
    stream: EventStream, bus: InProcessEventBus, user_id: str
) -> list[TodoEvent]:
    """Every event published so far, read up to a marker published now: counted, not timed."""
    await bus.publish(TodoEvent(TodoEventKind.DELETED, user_id, "marker", None))
    received: list[TodoEvent] = []
    async with asyncio.timeout(10):
        async for event in stream:
            if event.todo_id == "marker":
                return received
            received.append(event)
    raise AssertionError("the stream ended before the marker")


async def ask(world: World, account: Account, query: str, variables: dict[str, Any]) -> Any:
    data = (await world.gql(query, variables, token=account.token)).ok()
    return {"variables": variables, "user_id": account.id, "data": data}


async def test_a_page_costs_the_same_for_200000_todos_as_for_200(world: World) -> None:
    small, big = await two_users(world)
    costs: dict[str, dict[str, tuple[int, int]]] = {}
    for account in (small, big):
        # The second page of the completed todos, with and without the count, and the count alone.
        first = (
            await world.gql(
                PAGE, {"first": 5, "filter": {"isCompleted": True}}, token=account.token
            )
        ).ok()["todos"]
        after = first["pageInfo"]["endCursor"]
        cases = {
            "page": (PAGE, {"first": 20}),
            "page without count": (PAGE_WITHOUT_COUNT, {"first": 20}),
            "later filtered page": (
                PAGE,
                {"first": 20, "after": after, "filter": {"isCompleted": True}},
            ),
            "count alone": (COUNT_ONLY, {"filter": {"isCompleted": False}}),
        }
        costs[account.email] = {}
        for name, (query, variables) in cases.items():
            trips = world.storage.round_trips
            read = await world.rows_read(ask(world, account, query, variables))
            costs[account.email][name] = (world.storage.round_trips - trips, read)

        totals = (
            await world.gql(PAGE, {"first": 1}, token=account.token),
            await world.gql(COUNT_ONLY, {"filter": {"isCompleted": True}}, token=account.token),
        )
        size = SMALL if account is small else BIG
        assert [t.ok()["todos"]["totalCount"] for t in totals] == [size, size // 2]

    small_costs, big_costs = costs[small.email], costs[big.email]
    for name, (trips, read) in big_costs.items():
        small_trips, small_read = small_costs[name]
        assert trips == small_trips == 1, (name, costs)
        # The same rows, give or take what a deeper index costs: never a count of todos.
        assert read <= small_read + 100, (name, costs)


async def test_bulk_changes_of_200000_todos_publish_one_event_each(world: World) -> None:
    small, big = await two_users(world)
    costs: dict[str, list[int]] = {}
    for account, size in ((small, SMALL), (big, BIG)):
        stream = await world.events.subscribe(account.id)
        trips = []
        for query, variables, expected in ((SET_ALL, {"c": True}, size // 2), (CLEAR, None, size)):
            before = world.storage.round_trips
            data = (await world.gql(query, variables, token=account.token)).ok()
            trips.append(world.storage.round_trips - before)
            assert list(data.values()) == [expected], (query, variables)
        costs[account.email] = trips
        received = await events_until_marker(stream, world.events, account.id)
        await stream.aclose()
        assert [(e.kind, e.matched, e.count) for e in received] == [
            (TodoEventKind.BULK_UPDATED, False, size // 2),
            (TodoEventKind.CLEARED, True, size),
        ]
        left = (await world.gql(PAGE, {"first": 1}, token=account.token)).ok()["todos"]
        assert (left["totalCount"], left["edges"]) == (0, [])
    assert costs[small.email] == costs[big.email], costs
