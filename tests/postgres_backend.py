"""The PostgreSQL backend for the suites: one fresh schema per test.

Every test gets its own schema (``t_<uuid hex>``) in the database named by
TEST_POSTGRES_URL, and a PostgresStorage whose search_path points at it, so
tests never see each other's rows and may run in parallel processes. The
schema is dropped afterwards. When PostgreSQL cannot be reached, the test
is skipped with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from graphql_app.storage import Storage
from graphql_app.storage.postgres import PostgresStorage
from tests.backends import POSTGRES_URL

CONNECT_TIMEOUT = 5.0


async def admin_connection() -> asyncpg.Connection[asyncpg.Record]:
    """A direct connection to the test database; skips the test when there is none."""
    try:
        return await asyncpg.connect(POSTGRES_URL, timeout=CONNECT_TIMEOUT)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc!r}")


async def create_database() -> str:
    """The URL of a new, empty database on the test server (drop it with drop_database)."""
    name = f"t_{uuid.uuid4().hex}"
    admin = await admin_connection()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"


async def drop_database(url: str) -> None:
    """Drop the database of create_database's `url`, whoever is still connected."""
    admin = await admin_connection()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


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
