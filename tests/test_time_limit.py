"""The request time limit ends where the first write begins (issue 17).

On PostgreSQL, where a test can hold a lock and see who waits for it: a read
stuck past the limit is cancelled (SERVICE_UNAVAILABLE, nothing changed); a
write stuck past it is not, and its answer is what it committed. Waits are
bounded; nothing here asserts a duration.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from graphql_app.app import create_app
from graphql_app.settings import Settings
from graphql_app.storage.postgres import PostgresStorage
from tests.support.clock import Clock
from tests.support.environment import TEST_SECRET
from tests.support.graphql_client import GraphQLClient, create_todo, sign_up
from tests.support.postgres_backend import admin_connection, postgres_backend

pytestmark = pytest.mark.postgres

LIMIT = 0.5
PAGE = "{ todos(first: 5) { totalCount edges { node { id } } } }"
SET_ALL = "mutation { setAllTodosCompleted(isCompleted: true) }"


@pytest.fixture
async def pg(tmp_path: Path) -> AsyncIterator[PostgresStorage]:
    async with postgres_backend(tmp_path) as storage:
        assert isinstance(storage, PostgresStorage)
        yield storage


@pytest.fixture
async def gql(pg: PostgresStorage, clock: Clock) -> AsyncIterator[GraphQLClient]:
    settings = Settings(
        secret_key=TEST_SECRET,
        bcrypt_rounds=4,
        auth_rate_limit="",
        login_account_rate_limit="",
        request_timeout=LIMIT,
    )
    app = create_app(settings, clock=clock, storage=pg)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


async def until_waiting(admin: asyncpg.Connection[asyncpg.Record], count: int) -> None:
    """Return once `count` sessions wait for a lock this connection holds (bounded)."""
    async with asyncio.timeout(10):
        while True:
            waiting = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            if waiting >= count:
                return
            await asyncio.sleep(0.02)


async def test_a_write_that_outlasts_the_limit_answers_what_it_committed(
    pg: PostgresStorage, gql: GraphQLClient
) -> None:
    ada = await sign_up(gql, "ada@example.com")
    for i in range(3):
        await create_todo(gql, ada.token, f"t{i}")
    admin = await admin_connection()
    try:
        await admin.execute(f"SET search_path = {pg.search_path}")
        locked = admin.transaction()
        await locked.start()
        # Reads and writes of todos now wait for this transaction.
        await admin.execute("LOCK TABLE todos IN ACCESS EXCLUSIVE MODE")
        write = asyncio.create_task(gql(SET_ALL, token=ada.token))
        await until_waiting(admin, 1)
        # A read has written nothing: at its limit it is cancelled.
        async with asyncio.timeout(10):
            refused = await gql(PAGE, token=ada.token)
        assert refused.codes == ["SERVICE_UNAVAILABLE"]
        await asyncio.sleep(LIMIT)  # the write, waiting all along, is now well past its limit
        assert not write.done()
        await locked.rollback()
    finally:
        await admin.close()
    async with asyncio.timeout(10):
        answered = await write
    # The change was committed, and the answer says so.
    assert answered.ok() == {"setAllTodosCompleted": 3}
    page = (
        await gql("{ todos(filter: {isCompleted: true}) { totalCount } }", token=ada.token)
    ).ok()
    assert page["todos"]["totalCount"] == 3
