"""The storage backends the suites run on, each as a fresh, migrated, private Storage.

Choose with `--backends sqlite,postgres,fauna` or TEST_BACKENDS (default:
sqlite). A backend whose server is missing skips with the reason; in CI
(CI=true) .ci/run treats such a skip as a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

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
            from tests.postgres_backend import postgres_backend

            FACTORIES[name] = postgres_backend
        elif name == "fauna":
            from tests.fauna_backend import fauna_backend

            FACTORIES[name] = fauna_backend
        else:
            raise ValueError(f"unknown backend {name!r}; choose from {ALL_BACKENDS}")
    return FACTORIES[name]
