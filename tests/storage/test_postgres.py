"""What only the PostgreSQL backend shows: outages, its wire traffic, races at scale.

Outages are made with a TCP proxy started here (cut and restored at will) and
with pg_terminate_backend from a separate connection. The proxy also reads
the statements clients send (the 'Q' and 'E' messages of the protocol), so
tests can count them without touching the backend's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from graphql_app.errors import EmailTaken, ServiceUnavailable
from graphql_app.models import NewSession, Position, RotateOutcome, User
from graphql_app.storage.migrations import load_migrations
from graphql_app.storage.postgres import PostgresStorage
from tests.support.backends import POSTGRES_URL
from tests.support.postgres_backend import admin_connection, postgres_backend
from tests.support.postgres_proxy import Proxy, bounded

pytestmark = pytest.mark.postgres

DAY = timedelta(days=1)
START = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def new_session(now: datetime) -> NewSession:
    return NewSession(uuid.uuid4().hex, secrets.token_hex(32), now + DAY)


@contextlib.asynccontextmanager
async def storage_at(url: str, schema: str, **options: float) -> AsyncIterator[PostgresStorage]:
    storage = PostgresStorage(
        url,
        pool_size=int(options.get("pool_size", 4)),
        query_timeout=options.get("query_timeout", 2.0),
        search_path=schema,
    )
    try:
        yield storage
    finally:
        await bounded(storage.close())


async def sign_up(storage: PostgresStorage, email: str = "ada@example.com") -> User:
    return await storage.create_user(email, "Ada", "hash", new_session(START), START)


# -- races ----------------------------------------------------------------------


async def test_fifty_concurrent_sign_ups_with_one_email_one_wins(tmp_path: Path) -> None:
    async with postgres_backend(tmp_path) as storage:
        results = await bounded(
            asyncio.gather(
                *(
                    storage.create_user(
                        "race@example.com", f"Racer {i}", "hash", new_session(START), START
                    )
                    for i in range(50)
                ),
                return_exceptions=True,
            )
        )
        winners = [r for r in results if isinstance(r, User)]
        assert len(winners) == 1
        assert sum(isinstance(r, EmailTaken) for r in results) == 49
        assert await storage.get_user_by_email("race@example.com") == winners[0]


async def test_emails_are_unique_whatever_their_case(tmp_path: Path) -> None:
    # The services lower-case emails; the database holds the line regardless,
    # like SQLite's COLLATE NOCASE.
    async with postgres_backend(tmp_path) as storage:
        user = await storage.create_user(
            "Ada@Example.com", "Ada", "hash", new_session(START), START
        )
        with pytest.raises(EmailTaken):
            await storage.create_user("ada@example.COM", "Ada", "hash", new_session(START), START)
        assert await storage.get_user_by_email("ada@example.com") == user


async def test_concurrent_migrations_take_turns(schema: str) -> None:
    storages = [PostgresStorage(POSTGRES_URL, pool_size=1, search_path=schema) for _ in range(4)]
    try:
        await bounded(asyncio.gather(*(s.migrate() for s in storages)))
    finally:
        for storage in storages:
            await storage.close()
    admin = await admin_connection()
    try:
        versions = await admin.fetch(f"SELECT version FROM {schema}.schema_migrations")
    finally:
        await admin.close()
    assert sorted(r[0] for r in versions) == [m.version for m in load_migrations("postgres")]


# -- outages ----------------------------------------------------------------------


async def test_constructing_does_not_connect(proxy: Proxy, schema: str) -> None:
    async with storage_at(proxy.url(), schema) as storage:
        await asyncio.sleep(0.05)
        assert proxy.accepted == 0
        await bounded(storage.ping())
        assert proxy.accepted == 1


async def test_unreachable_at_first_use_then_reachable(proxy: Proxy, schema: str) -> None:
    await proxy.stop()
    async with storage_at(proxy.url(), schema) as storage:
        with pytest.raises(ServiceUnavailable):
            await bounded(storage.ping())
        with pytest.raises(ServiceUnavailable):
            await bounded(storage.migrate())
        await proxy.start()
        await bounded(storage.migrate())
        await bounded(storage.ping())


async def test_outage_then_recovery_on_the_same_storage(proxy: Proxy, schema: str) -> None:
    async with storage_at(proxy.url(), schema) as storage:
        await bounded(storage.migrate())
        user = await bounded(sign_up(storage))
        todo = await bounded(storage.create_todo(user.id, "before", False, START))

        await proxy.stop()
        calls: list[Callable[[], Awaitable[object]]] = [
            storage.ping,
            lambda: storage.get_users([user.id]),
            lambda: storage.list_todos(user.id, 10, None, None),
            lambda: storage.create_todo(user.id, "during", False, START),
            lambda: storage.rotate_session("x", new_session(START), START),  # a transaction
        ]
        for call in calls:
            with pytest.raises(ServiceUnavailable):
                await bounded(call())  # fails, rather than hanging until WAIT

        await proxy.start()
        await bounded(storage.ping())
        later = await bounded(storage.create_todo(user.id, "after", False, START + DAY))
        page = await bounded(storage.list_todos(user.id, 10, None, None))
        assert page.todos == [later, todo]


async def test_connection_lost_mid_statement(proxy: Proxy, schema: str) -> None:
    async with storage_at(proxy.url(), schema, query_timeout=5.0) as storage:
        await bounded(storage.migrate())
        user = await bounded(sign_up(storage))
        admin = await admin_connection()
        try:
            # Hold the table so the next read waits on the server, then cut it.
            transaction = admin.transaction()
            await transaction.start()
            await admin.execute(f"LOCK TABLE {schema}.todos IN ACCESS EXCLUSIVE MODE")
            read = asyncio.ensure_future(storage.list_todos(user.id, 10, None, None))
            await asyncio.sleep(0.2)
            assert not read.done()
            await proxy.stop()
            with pytest.raises(ServiceUnavailable):
                await bounded(read)
            await transaction.rollback()
        finally:
            await admin.close()
        await proxy.start()
        page = await bounded(storage.list_todos(user.id, 10, None, None))
        assert page.total_count == 0


async def test_a_slow_statement_times_out_as_unavailable(schema: str) -> None:
    async with storage_at(POSTGRES_URL, schema, query_timeout=0.5) as storage:
        await bounded(storage.migrate())
        user = await bounded(sign_up(storage))
        admin = await admin_connection()
        try:
            transaction = admin.transaction()
            await transaction.start()
            await admin.execute(f"LOCK TABLE {schema}.todos IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(ServiceUnavailable):  # the 0.5 s query timeout, not WAIT
                await bounded(storage.list_todos(user.id, 10, None, None))
            await transaction.rollback()
        finally:
            await admin.close()
        # The cancelled statement left the connection usable.
        page = await bounded(storage.list_todos(user.id, 10, None, None))
        assert page.total_count == 0


async def test_terminated_connections_are_replaced(schema: str) -> None:
    name = f"graphql_app_test_{uuid.uuid4().hex[:12]}"
    # Any query parameter of the URL is a server setting (asyncpg passes it on).
    async with storage_at(f"{POSTGRES_URL}?application_name={name}", schema) as storage:
        await bounded(storage.migrate())
        user = await bounded(sign_up(storage))
        await bounded(
            asyncio.gather(*(storage.get_users([user.id]) for _ in range(4)))
        )  # several pooled connections
        admin = await admin_connection()
        try:
            killed = await admin.fetch(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE application_name = $1",
                name,
            )
        finally:
            await admin.close()
        assert killed
        assert all(row[0] for row in killed)

        # The pool notices the closed connections and opens new ones; a call
        # that raced the termination may fail, but only as ServiceUnavailable.
        failures = 0
        for _ in range(3):
            try:
                assert await bounded(storage.get_users([user.id])) == [user]
                break
            except ServiceUnavailable:
                failures += 1
        assert failures < 3
        await bounded(storage.ping())
        assert await bounded(storage.create_todo(user.id, "still here", False, START))


async def test_ping_on_a_dead_server_is_quick(proxy: Proxy, schema: str) -> None:
    async with storage_at(proxy.url(), schema, query_timeout=30.0) as storage:
        await bounded(storage.ping())
        await proxy.stop()
        with pytest.raises(ServiceUnavailable):  # not after the 30 s query timeout
            await bounded(storage.ping())


# -- statements on the wire -------------------------------------------------------


async def test_reads_are_one_statement_without_begin(proxy: Proxy, schema: str) -> None:
    async with storage_at(proxy.url(), schema) as storage:
        await bounded(storage.migrate())
        user = await bounded(sign_up(storage))
        todos = [
            await storage.create_todo(user.id, f"t{i}", i % 2 == 0, START + timedelta(seconds=i))
            for i in range(5)
        ]
        after = Position(todos[3].created_at, todos[3].id)
        reads: list[Callable[[], Awaitable[object]]] = [
            lambda: storage.list_todos(user.id, 2, None, None),
            lambda: storage.list_todos(user.id, 2, after, True),
            lambda: storage.get_todos(user.id, [t.id for t in todos]),
            lambda: storage.get_users([user.id]),
            lambda: storage.get_user_by_email(user.email),
            storage.ping,
        ]
        for read in reads:
            for _ in range(2):  # the first time prepares the statement, the second reuses it
                proxy.statements.clear()
                before = storage.round_trips
                await bounded(read())
                assert len(proxy.statements) == 1, proxy.statements
                assert not proxy.statements[0].lstrip().upper().startswith("BEGIN")
                assert storage.round_trips - before == 1


async def test_writes_are_one_statement_or_one_transaction(proxy: Proxy, schema: str) -> None:
    async with storage_at(proxy.url(), schema) as storage:
        await bounded(storage.migrate())
        user = await bounded(sign_up(storage, "warm@example.com"))
        session = new_session(START)
        await storage.create_session(user.id, session, START)
        todo = await storage.create_todo(user.id, "t", False, START)
        now = START + timedelta(seconds=1)

        single: list[Callable[[], Awaitable[object]]] = [
            lambda: sign_up(storage),
            lambda: storage.create_session(user.id, new_session(now), now),
            lambda: storage.create_todo(user.id, "u", True, now),
            lambda: storage.update_todo(user.id, todo.id, "v", None, now),
            lambda: storage.set_all_completed(user.id, True, now),
            lambda: storage.clear_completed(user.id),
            lambda: storage.revoke_session(secrets.token_hex(8), now),
            lambda: storage.set_password(user.id, "new-hash", now),
            lambda: storage.delete_todo(user.id, todo.id),
        ]
        for write in single:
            proxy.statements.clear()
            await bounded(write())
            assert len(proxy.statements) == 1, proxy.statements

        live = new_session(now)
        await storage.create_session(user.id, live, now)
        proxy.statements.clear()
        before = storage.round_trips
        result = await bounded(storage.rotate_session(live.token_hash, new_session(now), now))
        assert result.outcome is RotateOutcome.ROTATED
        assert [s.split()[0].rstrip(";").upper() for s in proxy.statements] == [
            "BEGIN",
            "SELECT",
            "WITH",
            "COMMIT",
        ]
        assert storage.round_trips - before == len(proxy.statements)


async def test_round_trips_count_every_statement_sent(proxy: Proxy, schema: str) -> None:
    async with storage_at(proxy.url(), schema) as storage:
        await bounded(storage.migrate())
        user = await bounded(sign_up(storage))
        other = await bounded(sign_up(storage, "bob@example.com"))
        with pytest.raises(EmailTaken):  # a failed statement was still sent
            await bounded(sign_up(storage, "bob@example.com"))
        todo = await storage.create_todo(user.id, "t", False, START)
        await storage.update_todo(user.id, todo.id, None, True, START)
        await storage.list_todos(user.id, 10, Position(START, ""), None)
        first = new_session(START)
        await storage.create_session(user.id, first, START)
        now = START + timedelta(seconds=1)
        await storage.rotate_session(first.token_hash, new_session(now), now)
        await storage.rotate_session(first.token_hash, new_session(now), now)  # reused
        await storage.rotate_session("unknown", new_session(now), now)
        await storage.clear_completed(user.id)
        await storage.delete_user(other.id)
        await storage.migrate()  # nothing left to apply
        await storage.ping()
        assert storage.round_trips == len(proxy.statements)
