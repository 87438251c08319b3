"""Fixtures: a fresh storage per test on each chosen backend, the app, clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from graphql_app.app import create_app
from graphql_app.events.memory import InProcessEventBus
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.backends import ALL_BACKENDS, REDIS_URL, backend_factory
from tests.graphql_client import GraphQLClient

# The `proxy` and `schema` fixtures of the PostgreSQL tests.
pytest_plugins = ["tests.postgres_proxy"]

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        default=os.environ.get("TEST_BACKENDS", "sqlite"),
        help=f"comma-separated storage backends to run the suites on ({', '.join(ALL_BACKENDS)})",
    )


def selected_backends(config: pytest.Config) -> list[str]:
    names = [n.strip() for n in str(config.getoption("--backends")).split(",") if n.strip()]
    if names == ["all"]:
        return list(ALL_BACKENDS)
    for name in names:
        if name not in ALL_BACKENDS:
            raise pytest.UsageError(f"unknown backend {name!r}; choose from {ALL_BACKENDS}")
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        names = selected_backends(metafunc.config)
        marks = {"postgres": [pytest.mark.postgres], "fauna": [pytest.mark.fauna]}
        metafunc.parametrize("backend", [pytest.param(n, marks=marks.get(n, [])) for n in names])
    if "sql_backend" in metafunc.fixturenames:  # tests that write SQL of their own
        names = [n for n in selected_backends(metafunc.config) if n in ("sqlite", "postgres")]
        marks = {"postgres": [pytest.mark.postgres]}
        metafunc.parametrize(
            "sql_backend", [pytest.param(n, marks=marks.get(n, [])) for n in names]
        )


class Clock:
    """A clock the tests move by hand: time travel instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        # Each reading advances 1 µs, like a real clock: creation times stay distinct.
        self.now += timedelta(microseconds=1)
        return self.now

    def travel(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings() -> Settings:
    return Settings(
        secret_key=TEST_SECRET,
        bcrypt_rounds=4,  # fast tests; bcrypt's own tests use the real cost
        auth_rate_limit="",
        login_account_rate_limit="",
        login_account_ceiling="",
    )


@pytest.fixture
async def storage(backend: str, tmp_path: Path) -> AsyncIterator[Storage]:
    async with backend_factory(backend)(tmp_path) as store:
        yield store


@pytest.fixture
def events() -> InProcessEventBus:
    return InProcessEventBus()


@pytest.fixture
def app(settings: Settings, storage: Storage, clock: Clock, events: InProcessEventBus) -> Starlette:
    return create_app(settings, clock=clock, storage=storage, events=events)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


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


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards (never FLUSHALL)."""
    import redis

    url = require_redis()
    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
async def fresh_database_url() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on the test server, dropped afterwards."""
    from tests.postgres_backend import create_database, drop_database

    url = await create_database()
    try:
        yield url
    finally:
        await drop_database(url)
