"""`migrate` fills the todo counters of data written before they existed, and
`recount_todos` puts wrong ones right (issue 17)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from graphql_app.models import TodoCounts
from graphql_app.storage.migrations import load_migrations, split_statements
from graphql_app.storage.sqlite import SQLiteStorage

# Two users with todos, one without, as the first schema stored them.
USERS = {"u1": (5, 2), "u2": (3, 3), "u3": (0, 0)}


def rows() -> list[tuple[str, str, bool]]:
    found = []
    for user_id, (total, completed) in USERS.items():
        found += [(f"{user_id}-t{i}", user_id, i < completed) for i in range(total)]
    return found


async def test_sqlite_migrate_counts_what_the_first_schema_stored(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(
            "CREATE TABLE schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        first = load_migrations("sqlite")[0]
        for statement in split_statements(first.sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (first.version, first.name))
        for user_id in USERS:
            conn.execute(
                "INSERT INTO users VALUES (?, ?, 'U', 'hash', 0)", (user_id, f"{user_id}@e.com")
            )
        conn.executemany(
            "INSERT INTO todos VALUES (?, ?, 'todo', ?, 0, 0)",
            [(i, u, int(done)) for i, u, done in rows()],
        )
    finally:
        conn.close()
    storage = SQLiteStorage(path)
    try:
        await storage.migrate()
        counted = await storage.count_todos(list(USERS))
    finally:
        await storage.close()
    assert counted == [TodoCounts(*c) for c in USERS.values()]


@pytest.mark.postgres
async def test_postgres_migrate_counts_what_the_first_schema_stored(tmp_path: Path) -> None:
    from graphql_app.storage.postgres import PostgresStorage
    from tests.support.backends import POSTGRES_URL
    from tests.support.postgres_backend import admin_connection, fresh_schema

    async with fresh_schema() as schema:
        admin = await admin_connection()
        try:
            await admin.execute(f"SET search_path = {schema}")
            await admin.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
                "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            first = load_migrations("postgres")[0]
            for statement in split_statements(first.sql):
                await admin.execute(statement)
            await admin.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                first.version,
                first.name,
            )
            await admin.executemany(
                "INSERT INTO users VALUES ($1, $2, 'U', 'hash', now())",
                [(u, f"{u}@e.com") for u in USERS],
            )
            await admin.executemany(
                "INSERT INTO todos VALUES ($1, $2, 'todo', $3, now(), now())", rows()
            )
        finally:
            await admin.close()
        storage = PostgresStorage(POSTGRES_URL, search_path=schema)
        try:
            await storage.migrate()
            counted = await storage.count_todos(list(USERS))
        finally:
            await storage.close()
    assert counted == [TodoCounts(*c) for c in USERS.values()]


async def test_sqlite_recount_puts_wrong_counters_right(tmp_path: Path) -> None:
    storage = SQLiteStorage(str(tmp_path / "drift.db"))
    try:
        await storage.migrate()
        conn = sqlite3.connect(storage.path, isolation_level=None)
        try:
            for user_id in USERS:
                conn.execute(
                    "INSERT INTO users VALUES (?, ?, 'U', 'hash', 0, 99, 42)",
                    (user_id, f"{user_id}@e.com"),
                )
            conn.executemany(
                "INSERT INTO todos VALUES (?, ?, 'todo', ?, 0, 0)",
                [(i, u, int(done)) for i, u, done in rows()],
            )
        finally:
            conn.close()
        assert await storage.recount_todos() == len(USERS)
        counted = await storage.count_todos(list(USERS))
    finally:
        await storage.close()
    assert counted == [TodoCounts(*c) for c in USERS.values()]


@pytest.mark.postgres
async def test_postgres_recount_puts_wrong_counters_right(tmp_path: Path) -> None:
    from tests.support.postgres_backend import admin_connection, postgres_backend

    async with postgres_backend(tmp_path) as storage:
        admin = await admin_connection()
        try:
            await admin.execute(f"SET search_path = {storage.search_path}")  # type: ignore[attr-defined]
            await admin.executemany(
                "INSERT INTO users VALUES ($1, $2, 'U', 'hash', now(), 99, 42)",
                [(u, f"{u}@e.com") for u in USERS],
            )
            await admin.executemany(
                "INSERT INTO todos VALUES ($1, $2, 'todo', $3, now(), now())", rows()
            )
        finally:
            await admin.close()
        assert await storage.recount_todos() == len(USERS)
        counted = await storage.count_todos(list(USERS))
    assert counted == [TodoCounts(*c) for c in USERS.values()]
