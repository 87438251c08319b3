"""Two real uvicorn instances sharing one PostgreSQL database and one Redis, for a module.

The client suites run several scripts against the same pair (subscribe on A,
change through B): starting a pair per test would cost most of their time.
Rate limits are off here; tests/test_scale_out.py checks they are shared.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
import redis

from tests.backends import POSTGRES_URL, REDIS_URL
from tests.conftest import require_redis
from tests.live_server import LiveServer, live_server, sqlite_env


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@contextmanager
def two_instances(workdir: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Instances A and B on a new database and Redis key prefix, both dropped afterwards;
    skips when PostgreSQL or Redis is not reachable."""
    require_redis()
    name = f"t_{uuid.uuid4().hex}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc!r}")
    prefix = f"test-{uuid.uuid4().hex}"
    env = sqlite_env(
        workdir,
        "unused",
        DATABASE_URL=f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}",
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=prefix,
    )
    try:
        with live_server(workdir, env) as a, live_server(workdir, env, run_migrate=False) as b:
            yield a, b
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        client = redis.Redis.from_url(REDIS_URL)
        try:
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)
        finally:
            client.close()
