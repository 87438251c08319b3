"""Fixtures: a fresh storage per test on each chosen backend, the app, clients, live servers.

Helpers that are not fixtures live in tests/support/.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from graphql_app.app import create_app
from graphql_app.events.memory import InProcessEventBus
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import ALL_BACKENDS, backend_factory, redis_key_prefix
from tests.support.clock import Clock
from tests.support.environment import TEST_SECRET, sqlite_env
from tests.support.graphql_client import GraphQLClient
from tests.support.live_server import LiveServer, live_server
from tests.support.postgres_backend import fresh_database
from tests.support.two_instances import two_instances

# The `proxy` and `schema` fixtures of the PostgreSQL tests.
pytest_plugins = ["tests.support.postgres_proxy"]


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
        # A test about what some backend cannot do runs on that backend whatever the choice.
        for marker in metafunc.definition.iter_markers("also_on_backends"):
            names += [name for name in marker.args if name not in names]
        marks = {"postgres": [pytest.mark.postgres], "fauna": [pytest.mark.fauna]}
        metafunc.parametrize("backend", [pytest.param(n, marks=marks.get(n, [])) for n in names])
    if "sql_backend" in metafunc.fixturenames:  # tests that write SQL of their own
        names = [n for n in selected_backends(metafunc.config) if n in ("sqlite", "postgres")]
        marks = {"postgres": [pytest.mark.postgres]}
        metafunc.parametrize(
            "sql_backend", [pytest.param(n, marks=marks.get(n, [])) for n in names]
        )


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


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards (never FLUSHALL)."""
    with redis_key_prefix() as prefix:
        yield prefix


@pytest.fixture
def fresh_database_url() -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server, dropped afterwards."""
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real `python -m graphql_app serve` on a SQLite file, one per test module;
    a module that needs other settings defines its own `server`."""
    workdir = tmp_path_factory.mktemp("server")
    with live_server(workdir, sqlite_env(workdir, "server")) as running:
        yield running


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two real instances sharing a new PostgreSQL database and Redis, one pair per module."""
    with two_instances(tmp_path_factory.mktemp("instances")) as pair:
        yield pair
