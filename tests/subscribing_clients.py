"""What the tests of the subscribing client scripts (tests/js) share.

The servers a script runs against, as a (subscribe on, mutate through) pair.
"one server": one real uvicorn process on SQLite, both roles. "two
instances": two real uvicorn processes on one fresh PostgreSQL database and
one Redis (as behind a load balancer), so every event a script receives on
the first was published by the second. The database is dropped and the
Redis keys deleted afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.backends import POSTGRES_URL
from tests.conftest import TEST_SECRET, require_redis
from tests.live_server import LiveServer, live_server, sqlite_env

ONE_SERVER = "one server"
TWO_INSTANCES = "two instances"
# For a module fixture's `params`: the pair needs PostgreSQL and Redis.
SETUPS = [
    pytest.param(ONE_SERVER, id="one-server"),
    pytest.param(
        TWO_INSTANCES, id="two-instances", marks=[pytest.mark.postgres, pytest.mark.redis]
    ),
]


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database's URL; the database is dropped afterwards."""
    name = f"t_{uuid.uuid4().hex}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc!r}")
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def redis_prefix() -> Iterator[tuple[str, str]]:
    """Redis's URL and a key prefix of its own, whose keys are deleted afterwards."""
    import redis

    url = require_redis()
    prefix = f"test-{uuid.uuid4().hex}"
    try:
        yield url, prefix
    finally:
        client = redis.Redis.from_url(url)
        try:
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)
        finally:
            client.close()


@contextmanager
def server_pair(setup: str, workdir: Path, **extra: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """(subscribe on, mutate through) for `setup`; `extra` adds environment variables."""
    if setup == ONE_SERVER:
        with live_server(workdir, sqlite_env(workdir, "clients", **extra)) as server:
            yield server, server
        return
    with redis_prefix() as (redis_url, prefix), postgres_database() as database_url:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": prefix,
            "SECRET_KEY": TEST_SECRET,
            "BCRYPT_ROUNDS": "4",
            "AUTH_RATE_LIMIT": "",
            "LOGIN_ACCOUNT_RATE_LIMIT": "",
            **extra,
        }
        with (
            live_server(workdir, env) as a,
            live_server(workdir, env, run_migrate=False) as b,
        ):
            yield a, b


def lifecycle(seen: dict[str, Any]) -> list[dict[str, Any]]:
    """The events a script received for its todo, without `__typename`s."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k != "__typename"}
        return value

    return [plain(event) for event in seen["events"]]


def created_updated_deleted(todo_id: str, name: str) -> list[dict[str, Any]]:
    """The events of a todo created, then marked completed, then deleted."""
    return [
        {
            "kind": "CREATED",
            "todoId": todo_id,
            "todo": {"id": todo_id, "name": name, "isCompleted": False},
        },
        {
            "kind": "UPDATED",
            "todoId": todo_id,
            "todo": {"id": todo_id, "name": name, "isCompleted": True},
        },
        {"kind": "DELETED", "todoId": todo_id, "todo": None},
    ]
