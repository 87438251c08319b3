"""The bench's own data: a fresh SQLite file and PostgreSQL database each run.

Both are migrated with `python -m graphql_app migrate` and seeded through the
project's storage layer: a reader with 200 todos (the read scenarios and
logIn) and a writer with none (the write mix creates and deletes its own, so
the reader's list never changes). Access tokens are minted with the project's
TokenService, for a lifetime longer than any run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt

from graphql_app.models import NewSession
from graphql_app.security.tokens import (
    TokenService,
    hash_refresh_token,
    new_family_id,
    new_refresh_token,
)
from graphql_app.settings import Settings
from graphql_app.storage import open_storage

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_DATABASE = "bench_graphql_app"
READER_EMAIL = "reader@example.com"
READER_PASSWORD = "bench-reader-password"  # noqa: S105 - a bench-only account
WRITER_EMAIL = "writer@example.com"
TODO_COUNT = 200
# Scenario (f): a user with BIG_COUNT todos pages beside the reader's 200, and
# the bulk mutations run over BULK_COUNT todos (all open) of a third user.
BIG_EMAIL = "big@example.com"
BIG_COUNT = 1_000_000
BULK_EMAIL = "bulk@example.com"
BULK_COUNT = 200_000
TOKEN_LIFETIME = timedelta(hours=12)
# The role PostGraphile switches to for each request; see postgraphile/rls.sql.
POSTGRAPHILE_ROLE = "bench_todo_reader"


@dataclass(frozen=True)
class Dataset:
    """One seeded backend: where it is, who is in it, and their tokens."""

    backend: str
    url: str
    reader_id: str
    reader_token: str
    writer_id: str
    writer_token: str
    password_hash: str
    big_id: str = ""
    big_token: str = ""
    bulk_id: str = ""
    bulk_token: str = ""


def postgres_url(database: str = POSTGRES_DATABASE) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used (None when it answers)."""
    import asyncpg

    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable ({type(exc).__name__}: {exc})"
    await conn.close()
    return None


async def recreate_postgres_database() -> None:
    """Drop and create the bench-only database (never any other)."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{POSTGRES_DATABASE}"')
    finally:
        await conn.close()


async def enable_row_level_security() -> None:
    """The role and policy PostGraphile runs its queries under (postgraphile/rls.sql)."""
    import asyncpg

    sql = (ROOT / "bench" / "postgraphile" / "rls.sql").read_text()
    conn = await asyncpg.connect(postgres_url(), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def migrate(url: str, env: dict[str, str]) -> None:
    """`python -m graphql_app migrate` on `url`, as an operator would run it."""
    result = subprocess.run(
        [sys.executable, "-m", "graphql_app", "migrate"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed on {url}:\n{result.stdout}{result.stderr}")


def password_hash(rounds: int) -> str:
    """The reader's bcrypt hash at the production cost, so logIn costs what it does."""
    return bcrypt.hashpw(READER_PASSWORD.encode(), bcrypt.gensalt(rounds)).decode()


async def seed(url: str, password_hash: str) -> tuple[str, str]:
    """Store the reader (with TODO_COUNT todos) and the writer; their ids."""
    storage = open_storage(url, pool_size=2)
    # Creation times an hour back, one second apart: a stable newest-first order.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def session() -> NewSession:
        return NewSession(
            new_family_id(), hash_refresh_token(new_refresh_token()), start + timedelta(days=30)
        )

    try:
        reader = await storage.create_user(
            READER_EMAIL, "Bench Reader", password_hash, session(), start
        )
        for i in range(TODO_COUNT):
            await storage.create_todo(
                reader.id, f"Todo number {i + 1}", i % 3 == 0, start + timedelta(seconds=i + 1)
            )
        writer = await storage.create_user(
            WRITER_EMAIL, "Bench Writer", password_hash, session(), start
        )
        return reader.id, writer.id
    finally:
        await storage.close()


async def _new_user(url: str, email: str, password_hash: str) -> str:
    storage = open_storage(url, pool_size=1)
    now = datetime.now(UTC)
    try:
        session = NewSession(
            new_family_id(), hash_refresh_token(new_refresh_token()), now + timedelta(days=30)
        )
        return (await storage.create_user(email, email, password_hash, session, now)).id
    finally:
        await storage.close()


# One statement per dialect: `count` todos for one user, the oldest first, one
# µs apart, ids unique to the user; completed when i % completed_every == 0
# (never when completed_every is 0). The counters are set to match, as
# `migrate` would have filled them.
_SQLITE_BULK = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
    "INSERT INTO todos (id, user_id, name, is_completed, created_at, updated_at) "
    "SELECT substr(:user, 1, 16) || printf('%016x', i), :user, 'Todo number ' || i, "
    "CASE WHEN :every > 0 AND i % :every = 0 THEN 1 ELSE 0 END, :start + i, :start + i FROM n"
)
_POSTGRES_BULK = (
    "INSERT INTO todos (id, user_id, name, is_completed, created_at, updated_at) "
    "SELECT left($1, 16) || lpad(to_hex(i), 16, '0'), $1, 'Todo number ' || i, "
    "$3 > 0 AND i % $3 = 0, $4::timestamptz + i * interval '1 microsecond', "
    "$4::timestamptz + i * interval '1 microsecond' FROM generate_series(1, $2) AS i"
)
_COUNTERS = (
    "UPDATE users SET todo_count = (SELECT count(*) FROM todos WHERE user_id = users.id), "
    "completed_count = (SELECT count(*) FROM todos WHERE user_id = users.id AND {done}) "
    "WHERE id = {user}"
)


async def bulk_insert(url: str, user_id: str, count: int, completed_every: int) -> None:
    """Insert `count` todos for `user_id` in one SQL statement (seeding 10^6 through
    the storage layer would take many minutes), then set its counters."""
    start = datetime.now(UTC) - timedelta(days=1)
    if url.startswith("sqlite"):
        import sqlite3

        from graphql_app.cursors import to_micros

        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            params = {"count": count, "user": user_id, "every": completed_every}
            conn.execute(_SQLITE_BULK, {**params, "start": to_micros(start)})
            conn.execute(_COUNTERS.format(done="is_completed = 1", user=":user"), params)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    import asyncpg

    pg = await asyncpg.connect(url, timeout=10)
    try:
        async with pg.transaction():
            await pg.execute(_POSTGRES_BULK, user_id, count, completed_every, start)
            await pg.execute(_COUNTERS.format(done="is_completed", user="$1"), user_id)
        await pg.execute("ANALYZE todos")
    finally:
        await pg.close()


async def seed_crowd(url: str, password_hash: str, big: int, bulk: int) -> tuple[str, str]:
    """Scenario (f)'s users: one with `big` todos (a third completed), one with `bulk` open."""
    big_id = await _new_user(url, BIG_EMAIL, password_hash)
    await bulk_insert(url, big_id, big, 3)
    bulk_id = await _new_user(url, BULK_EMAIL, password_hash)
    await bulk_insert(url, bulk_id, bulk, 0)
    return big_id, bulk_id


def access_token(settings: Settings, user_id: str) -> str:
    """A token graphql_app accepts for `user_id`, valid longer than any run."""
    tokens = TokenService(
        settings.secret_key,
        settings.jwt_issuer,
        settings.jwt_audience,
        int(TOKEN_LIFETIME.total_seconds()),
        settings.refresh_token_ttl,
    )
    return tokens.issue_access(user_id, datetime.now(UTC))[0]


def prepare(
    backend: str,
    url: str,
    settings: Settings,
    env: dict[str, str],
    hashed: str,
    crowd: tuple[int, int] | None = None,
) -> Dataset:
    """Migrate and seed a fresh database at `url`; tokens for its users.

    With `crowd` = (big, bulk), also scenario (f)'s two users and their todos.
    """
    migrate(url, env)
    reader_id, writer_id = asyncio.run(seed(url, hashed))
    big_id = bulk_id = ""
    if crowd is not None:
        big_id, bulk_id = asyncio.run(seed_crowd(url, hashed, *crowd))
    return Dataset(
        backend=backend,
        url=url,
        reader_id=reader_id,
        reader_token=access_token(settings, reader_id),
        writer_id=writer_id,
        writer_token=access_token(settings, writer_id),
        password_hash=hashed,
        big_id=big_id,
        big_token=access_token(settings, big_id) if big_id else "",
        bulk_id=bulk_id,
        bulk_token=access_token(settings, bulk_id) if bulk_id else "",
    )


async def _clear_writer(url: str, writer_id: str) -> int:
    storage = open_storage(url, pool_size=1)
    removed = 0
    try:
        while True:
            page = await storage.list_todos(writer_id, 100, None, None)
            if not page.todos:
                return removed
            for todo in page.todos:
                removed += await storage.delete_todo(writer_id, todo.id)
    finally:
        await storage.close()


def clear_writer(dataset: Dataset) -> int:
    """Delete what the write mix left over (one todo per connection at most)."""
    return asyncio.run(_clear_writer(dataset.url, dataset.writer_id))
