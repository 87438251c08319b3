"""The storage backends the suites run on, each as a fresh, migrated, private Storage.

Choose with `--backends sqlite,postgres,fauna` or TEST_BACKENDS (default:
sqlite). A backend whose server is missing skips with the reason; in CI
(CI=true) .ci/run treats such a skip as a failure.
"""

from __future__ import annotations

import importlib
import os
import sys
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


@asynccontextmanager
async def unreachable_sqlite(tmp_path: Path) -> AsyncIterator[Storage]:
    """A SQLiteStorage whose file cannot be opened: a directory stands where it should be."""
    path = tmp_path / "unreachable.db"
    path.mkdir()
    storage = SQLiteStorage(str(path))
    try:
        yield storage
    finally:
        await storage.close()


BackendFactory = Callable[[Path], AbstractAsyncContextManager[Storage]]


def _factory(name: str, attribute: str) -> BackendFactory:
    """`attribute` of backend `name`'s module, imported lazily so that a missing driver
    only skips the tests of its own backend."""
    if name == "sqlite":
        module = sys.modules[__name__]
    elif name in ALL_BACKENDS:
        module = importlib.import_module(f"tests.support.{name}_backend")
    else:
        raise ValueError(f"unknown backend {name!r}; choose from {ALL_BACKENDS}")
    factory: BackendFactory = getattr(module, attribute)
    return factory


def backend_factory(name: str) -> BackendFactory:
    """Backend `name` as a fresh, migrated, private Storage."""
    return _factory(name, f"{name}_backend")


def unreachable_factory(name: str) -> BackendFactory:
    """Backend `name` as a Storage whose database is not there (nothing listens, or the
    file cannot be opened): what it does when storage is down."""
    return _factory(name, f"unreachable_{name}")


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
