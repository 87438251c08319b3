"""The PostgreSQL backend for the suites: one fresh schema per test.

Every test gets its own schema (``t_<uuid hex>``) in the database named by
TEST_POSTGRES_URL, and a PostgresStorage whose search_path points at it, so
tests never see each other's rows and may run in parallel processes. The
schema is dropped afterwards. When PostgreSQL cannot be reached, the test
is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import pytest

from graphql_app.storage import Storage
from graphql_app.storage.postgres import PostgresStorage
from tests.support.backends import POSTGRES_URL
from tests.support.live_server import free_port

CONNECT_TIMEOUT = 5.0


async def admin_connection() -> asyncpg.Connection[asyncpg.Record]:
    """A direct connection to the test database; skips the test when there is none."""
    try:
        return await asyncpg.connect(POSTGRES_URL, timeout=CONNECT_TIMEOUT)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc!r}")


async def _admin(statement: str) -> None:
    admin = await admin_connection()
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def _admin_blocking(statement: str) -> None:
    """_admin from synchronous code, in or out of a running event loop (its own thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _admin(statement)).result()


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards (for
    server processes, which migrate it themselves); skips when PostgreSQL is not reachable."""
    name = f"t_{uuid.uuid4().hex}"
    _admin_blocking(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        _admin_blocking(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """The name of a new, empty schema, dropped with everything in it afterwards."""
    schema = f"t_{uuid.uuid4().hex}"
    admin = await admin_connection()
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
    finally:
        await admin.close()
    try:
        yield schema
    finally:
        admin = await admin_connection()
        try:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            await admin.close()


@asynccontextmanager
async def postgres_backend(tmp_path: Path) -> AsyncIterator[Storage]:
    """A migrated PostgresStorage alone in its own schema."""
    async with fresh_schema() as schema:
        storage = PostgresStorage(
            POSTGRES_URL, pool_size=10, query_timeout=10.0, search_path=schema
        )
        try:
            await storage.migrate()
            yield storage
        finally:
            await storage.close()


@asynccontextmanager
async def unreachable_postgres(tmp_path: Path) -> AsyncIterator[Storage]:
    """A PostgresStorage pointed at a port nothing listens on."""
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    storage = PostgresStorage(url, pool_size=1, query_timeout=5.0)
    try:
        yield storage
    finally:
        await storage.close()
