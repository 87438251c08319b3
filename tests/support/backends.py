"""The storage backends the suites run on, each as a fresh, migrated, private Storage.

Choose with `--backends sqlite,postgres,fauna` or TEST_BACKENDS (default:
sqlite). A backend whose server is missing skips with the reason; in CI
(CI=true) .ci/run treats such a skip as a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from graphql_app.storage import Storage
from graphql_app.storage.sqlite import SQLiteStorage

ALL_BACKENDS = ("sqlite", "postgres", "fauna")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@asynccontextmanager
async def sqlite_backend(tmp_path: Path) -> AsyncIterator[Storage]:
    storage = SQLiteStorage(str(tmp_path / "todo.db"))
    await storage.migrate()
    try:
        yield storage
    finally:
        await storage.close()


BackendFactory = Callable[[Path], AbstractAsyncContextManager[Storage]]

FACTORIES: dict[str, BackendFactory] = {"sqlite": sqlite_backend}


def backend_factory(name: str) -> BackendFactory:
    """The factory of backend `name`, imported lazily so a missing driver only skips its own."""
    if name not in FACTORIES:
        if name == "postgres":
            from tests.support.postgres_backend import postgres_backend

            FACTORIES[name] = postgres_backend
        elif name == "fauna":
            from tests.support.fauna_backend import fauna_backend

            FACTORIES[name] = fauna_backend
        else:
            raise ValueError(f"unknown backend {name!r}; choose from {ALL_BACKENDS}")
    return FACTORIES[name]


def require_redis() -> str:
    """REDIS_URL (db 15) once the server answers; skips the test, saying why, when not."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc!r}")
    finally:
        client.close()
    return REDIS_URL


@contextmanager
def redis_key_prefix() -> Iterator[str]:
    """A Redis key prefix of its own, whose keys are deleted afterwards (never FLUSHALL);
    skips when Redis is not reachable."""
    import redis

    url = require_redis()
    prefix = f"test-{uuid.uuid4().hex}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        try:
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)
        finally:
            client.close()
