"""The Fauna backend for the suites: the real driver against the FQL v4 emulator.

One emulator serves the whole session (started on first use); each test gets
empty data (reset) and runs the real `migrate` bootstrap. A forked process (mutmut
forks one per mutant after a run of the suite) starts its own: the thread that
serves the parent's emulator does not survive a fork.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from graphql_app.storage import Storage
from graphql_app.storage.fauna import FaunaStorage
from tests.fauna_emulator import FaunaEmulator
from tests.support.live_server import free_port

SECRET = "emulator-secret"
_emulator: FaunaEmulator | None = None
_emulator_pid = 0


def shared_emulator() -> FaunaEmulator:
    global _emulator, _emulator_pid  # noqa: PLW0603 - one emulator per test session
    if _emulator is None or _emulator_pid != os.getpid():
        _emulator = FaunaEmulator(secret=SECRET)
        _emulator.start()
        _emulator_pid = os.getpid()
    return _emulator


def fauna_url(emulator: FaunaEmulator) -> str:
    return f"fauna://{SECRET}@127.0.0.1:{emulator.port}?scheme=http"


@asynccontextmanager
async def fauna_backend(tmp_path: Path) -> AsyncIterator[Storage]:
    emulator = shared_emulator()
    emulator.reset()
    emulator.delay = 0
    emulator.fail_with_status = None
    storage = FaunaStorage.from_url(fauna_url(emulator), query_timeout=10)
    await storage.migrate()
    try:
        yield storage
    finally:
        await storage.close()


@asynccontextmanager
async def unreachable_fauna(tmp_path: Path) -> AsyncIterator[Storage]:
    """A FaunaStorage pointed at a port nothing listens on."""
    url = f"fauna://{SECRET}@127.0.0.1:{free_port()}?scheme=http"
    storage = FaunaStorage.from_url(url, query_timeout=5)
    try:
        yield storage
    finally:
        await storage.close()
