"""The Fauna backend end to end: the real driver, over HTTP, against the FQL v4 emulator."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from graphql_app.app import create_app
from graphql_app.models import TodoCounts
from graphql_app.settings import Settings
from graphql_app.storage.fauna import INDEXES, FaunaStorage
from tests.fauna_emulator import FaunaEmulator
from tests.support.clock import Clock
from tests.support.fauna_backend import SECRET, fauna_url, shared_emulator
from tests.support.graphql_client import TODOS_PAGE, GraphQLClient, create_todo, sign_up

pytestmark = pytest.mark.fauna
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def emulator() -> FaunaEmulator:
    emu = shared_emulator()
    emu.reset()
    emu.delay = 0
    emu.fail_with_status = None
    return emu


@pytest.fixture
async def fauna_gql(
    emulator: FaunaEmulator, settings: Settings, clock: Clock
) -> AsyncIterator[GraphQLClient]:
    storage = FaunaStorage.from_url(fauna_url(emulator))
    await storage.migrate()
    app: Starlette = create_app(settings, clock=clock, storage=storage)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)
    await storage.close()


async def test_migrate_is_idempotent_and_creates_the_seed_indexes(emulator: FaunaEmulator) -> None:
    storage = FaunaStorage.from_url(fauna_url(emulator))
    try:
        await storage.migrate()
        exist = await storage._query([_exists(n) for n in INDEXES])
        assert exist == [True] * len(INDEXES)
        seed = ["user_by_id", "user_by_email", "todo_by_id", "todo_by_user_id"]
        terms = await storage._query([_terms(n) for n in seed])
        assert terms == [[{"field": ["data", f]}] for f in ("id", "email", "id", "user_id")]
        emulator.reset_requests()
        await storage.migrate()  # again: nothing to create, nothing fails
        # collections, index definitions, index states, one page of users to give counters to
        assert emulator.requests == 4
        unique = await storage._query([_unique(n) for n in ("user_by_email", "todo_by_id")])
        assert unique == [True, True]
    finally:
        await storage.close()


async def test_migrate_gives_counters_to_users_stored_without_them(
    emulator: FaunaEmulator,
) -> None:
    from faunadb import query as q  # after graphql_app.storage.fauna quietened its import

    storage = FaunaStorage.from_url(fauna_url(emulator))
    try:
        await storage.migrate()
        # Two users as a version without counters stored them: documents without
        # todo_count, with todos of their own.
        old = {"old-1": (4, 1), "old-2": (2, 2)}
        for user_id, (total, completed) in old.items():
            await storage._query(
                q.do(
                    q.create(
                        q.collection("users"),
                        {
                            "data": {
                                "id": user_id,
                                "email": f"{user_id}@e.com",
                                "fullname": "O",
                                "password_hash": "h",
                                "created_at": 0,
                            }
                        },
                    ),
                    *[
                        q.create(
                            q.collection("todos"),
                            {
                                "data": {
                                    "id": f"{user_id}-{i}",
                                    "user_id": user_id,
                                    "name": "t",
                                    "is_completed": i < completed,
                                    "created_at": i,
                                    "updated_at": i,
                                }
                            },
                        )
                        for i in range(total)
                    ],
                )
            )
        expected = [TodoCounts(*counts) for counts in old.values()]
        # Counted from the indexes meanwhile: right, if not O(1).
        assert await storage.count_todos(list(old)) == expected
        page = await storage.list_todos("old-1", 2, None, False)
        assert (page.total_count, len(page.todos)) == (3, 2)
        await storage.migrate()
        stored = await storage._query(
            [q.select("data", q.get(q.match(q.index("user_by_id"), i))) for i in old]
        )
        assert [TodoCounts(d["todo_count"], d["completed_count"]) for d in stored] == expected
        await storage.create_todo("old-2", "new", False, datetime.now(UTC))
        assert await storage.count_todos(["old-2"]) == [TodoCounts(3, 2)]
        # Wrong counters (an instance that predates them kept writing): recounted.
        await storage._query(
            q.update(
                q.select("ref", q.get(q.match(q.index("user_by_id"), "old-1"))),
                {"data": {"todo_count": 99, "completed_count": 42}},
            )
        )
        assert await storage.recount_todos() == 2
        assert await storage.count_todos(list(old)) == [TodoCounts(4, 1), TodoCounts(3, 2)]
    finally:
        await storage.close()


def _exists(name: str) -> object:
    from faunadb import query as q

    return q.exists(q.index(name))


def _terms(name: str) -> object:
    from faunadb import query as q

    return q.select("terms", q.get(q.index(name)))


def _unique(name: str) -> object:
    from faunadb import query as q

    return q.select("unique", q.get(q.index(name)))


async def test_each_operation_costs_a_fixed_number_of_queries(
    fauna_gql: GraphQLClient, emulator: FaunaEmulator
) -> None:
    ada = await sign_up(fauna_gql, "count@example.com")
    for i in range(60):
        await create_todo(fauna_gql, ada.token, f"t{i}")
    nested = (
        "query N($first: Int) { todos(first: $first) { totalCount edges { node { id name "
        "creator { email todos(first: 3) { totalCount } } } } } }"
    )
    costs = {}
    for first in (5, 50):
        emulator.reset_requests()
        (await fauna_gql(nested, {"first": first}, token=ada.token)).ok()
        costs[first] = emulator.requests
    assert costs[5] == costs[50] <= 3
    emulator.reset_requests()
    created = await fauna_gql('mutation { createTodo(input: {name: "x"}) { id } }', token=ada.token)
    assert created.ok() and emulator.requests == 1
    emulator.reset_requests()
    await create_todo(fauna_gql, ada.token, "with its creator")  # + one batched user load
    assert emulator.requests == 2


async def test_a_slow_fauna_does_not_block_the_event_loop(
    fauna_gql: GraphQLClient, emulator: FaunaEmulator
) -> None:
    ada = await sign_up(fauna_gql, "slow@example.com")
    emulator.delay = 1.0
    slow = asyncio.create_task(create_todo(fauna_gql, ada.token, "slowly"))
    await asyncio.sleep(0.05)  # let the slow query reach the emulator
    for _ in range(20):
        assert (await fauna_gql("{ __typename }")).ok() == {"__typename": "Query"}
    assert not slow.done(), "cheap requests finished while Fauna was still answering"
    emulator.delay = 0
    assert (await slow)["name"] == "slowly"


async def test_outage_is_service_unavailable_and_recovers(
    fauna_gql: GraphQLClient, emulator: FaunaEmulator
) -> None:
    ada = await sign_up(fauna_gql, "outage@example.com")
    for status in (503, 500):
        emulator.fail_with_status = status
        result = await fauna_gql(TODOS_PAGE, {"first": 5}, token=ada.token)
        assert result.codes == ["SERVICE_UNAVAILABLE"]
        assert "Traceback" not in str(result.body)
        ready = await fauna_gql.http.get("/readyz")
        assert ready.status_code == 503
    emulator.fail_with_status = None
    assert (await fauna_gql(TODOS_PAGE, {"first": 5}, token=ada.token)).ok()
    assert (await fauna_gql.http.get("/readyz")).status_code == 200


async def test_unreachable_fauna_is_service_unavailable(settings: Settings, clock: Clock) -> None:
    with FaunaEmulator(secret=SECRET) as emu:
        port = emu.port
    storage = FaunaStorage.from_url(f"fauna://{SECRET}@127.0.0.1:{port}?scheme=http")
    app = create_app(settings, clock=clock, storage=storage)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        result = await GraphQLClient(http)(
            'mutation { logIn(input: {email: "a@example.com", password: "whatever123"}) { token } }'
        )
        assert result.codes == ["SERVICE_UNAVAILABLE"]
        assert (await http.get("/readyz")).status_code == 503
    await storage.close()


def test_a_refused_secret_stops_start_up_with_one_line(emulator: FaunaEmulator) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"fauna://wrong-secret@127.0.0.1:{emulator.port}?scheme=http",
        "SECRET_KEY": "k" * 32,
    }
    for command in (["migrate"], ["serve", "--port", "0"]):
        result = subprocess.run(
            [sys.executable, "-m", "graphql_app", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[-1] == (
            "configuration error: DATABASE_URL: the Fauna server refused the secret "
            "(401 Unauthorized)"
        )
        assert not any("Traceback" in line for line in lines)
        assert "wrong-secret" not in result.stderr


def test_fauna_secret_selects_the_backend_like_the_seed(
    emulator: FaunaEmulator, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FAUNA_SECRET": SECRET,
        "FAUNA_DOMAIN": "127.0.0.1",
        "FAUNA_SCHEME": "http",
        "FAUNA_PORT": str(emulator.port),
        "SECRET_KEY": "k" * 32,
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "graphql_app", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "migrated fauna storage" in result.stdout
    assert not (tmp_path / "todo.db").exists()
