"""The Fauna backend against the core's operational behaviour (issue 12), through the real
driver over HTTP to the emulator: background index builds, existing indexes defined
differently, 409 contention, keys without permission, cascades past one page, scoped secrets."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphql_app.app import create_app
from graphql_app.errors import StorageRefused
from graphql_app.settings import Settings
from graphql_app.storage.fauna import FaunaStorage, _OfflineFaunaClient
from graphql_app.storage.fauna_indexes import building_line
from tests.fauna_emulator import FaunaEmulator
from tests.support.clock import Clock
from tests.support.fauna_backend import SECRET, fauna_url, shared_emulator
from tests.support.graphql_client import (
    LOG_IN,
    PASSWORD,
    TODOS_PAGE,
    GraphQLClient,
    create_todo,
    sign_up,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from faunadb import query as q
    from faunadb.errors import PermissionDenied

pytestmark = pytest.mark.fauna
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def emulator() -> Iterator[FaunaEmulator]:
    emu = shared_emulator()
    emu.reset()
    emu.delay = 0
    emu.fail_with_status = None
    yield emu
    emu.contend_next(0)


def _root(emulator: FaunaEmulator, secret: str = SECRET) -> Any:
    return _OfflineFaunaClient(secret=secret, domain="127.0.0.1", scheme="http", port=emulator.port)


def _cli(
    emulator: FaunaEmulator, url: str, *command: str, **popen: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graphql_app", *command],
        env=_env(url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **popen,
    )


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "SECRET_KEY": "k" * 32,
        "LOG_LEVEL": "INFO",
    }


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert not any("Traceback" in line for line in lines), stderr
    return lines[-1]


@pytest.fixture
async def app_on(settings: Settings, clock: Clock) -> AsyncIterator[Any]:
    """Build a GraphQL client on a given FaunaStorage (closed at the end)."""
    opened: list[tuple[FaunaStorage, httpx.AsyncClient]] = []

    async def build(storage: FaunaStorage) -> GraphQLClient:
        app = create_app(settings, clock=clock, storage=storage)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        opened.append((storage, http))
        return GraphQLClient(http)

    yield build
    for storage, http in opened:
        await http.aclose()
        await storage.close()


# ---- background index builds -----------------------------------------------------------


def test_migrate_waits_for_a_background_build_then_serves(
    emulator: FaunaEmulator, settings: Settings, clock: Clock
) -> None:
    url = fauna_url(emulator)
    assert _cli(emulator, url, "migrate").returncode == 0
    root = _root(emulator)
    # A database from before the ordering indexes: 500 todos, then the index goes away.
    root.query(q.do(q.delete(q.index("todos_by_user_newest")), None))
    todo = {"user_id": "u1", "name": "n", "is_completed": False, "created_at": 1, "updated_at": 1}
    user = {"id": "u1", "email": "u1@example.com", "fullname": "U", "password_hash": "h"}
    root.query(q.create(q.collection("users"), {"data": {**user, "created_at": 1}}))
    root.query(
        q.foreach(
            q.lambda_("i", q.create(q.collection("todos"), {"data": {**todo, "id": q.var("i")}})),
            [f"t{i:03}" for i in range(500)],
        )
    )

    # A short wait ends with one line naming the index; serve refuses with the same line.
    failed = _cli(emulator, f"{url}&build_timeout=0.3", "migrate")
    assert failed.returncode == 2
    line = f"configuration error: DATABASE_URL: {building_line('todos_by_user_newest')}"
    assert _last_line(failed.stderr) == line
    assert "waiting for Fauna to build index todos_by_user_newest" in failed.stderr
    refused = _cli(emulator, url, "serve", "--port", "0")
    assert refused.returncode == 2 and _last_line(refused.stderr) == line
    assert emulator.building_indexes() == ["todos_by_user_newest"]

    # migrate waits, reporting progress, until the build ends.
    waiting = subprocess.Popen(
        [sys.executable, "-m", "graphql_app", "migrate"],
        env=_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert waiting.stderr is not None
        progress = waiting.stderr.readline()
        assert "waiting for Fauna to build index todos_by_user_newest" in progress
        assert waiting.poll() is None, "migrate returned while the index was building"
        assert emulator.finish_index_builds() == ["todos_by_user_newest"]
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, err
    assert "migrated fauna storage" in out

    async def serves() -> None:
        storage = FaunaStorage.from_url(url)
        try:
            await storage.ping()
            page = await storage.list_todos("u1", 5, None, None)
            assert page.total_count == 500 and len(page.todos) == 5
        finally:
            await storage.close()

    asyncio.run(serves())


async def test_a_request_during_a_build_is_service_unavailable(
    emulator: FaunaEmulator, app_on: Any
) -> None:
    storage = FaunaStorage.from_url(fauna_url(emulator))
    await storage.migrate()
    gql = await app_on(storage)
    ada = await sign_up(gql, "build@example.com")
    todo = {"user_id": ada.id, "name": "n", "is_completed": False, "created_at": 1, "updated_at": 1}
    await storage._query(
        q.foreach(
            q.lambda_("i", q.create(q.collection("todos"), {"data": {**todo, "id": q.var("i")}})),
            [f"t{i:03}" for i in range(130)],
        )
    )
    await storage._query(q.delete(q.index("todos_by_user_newest")))
    await storage._query(q.create_index(_params("todos_by_user_newest")))
    result = await gql(TODOS_PAGE, {"first": 5}, token=ada.token)
    assert result.codes == ["SERVICE_UNAVAILABLE"]
    assert (await gql.http.get("/readyz")).status_code == 503
    emulator.finish_index_builds()
    page = (await gql(TODOS_PAGE, {"first": 5}, token=ada.token)).ok()["todos"]
    assert len(page["edges"]) == 5 and page["pageInfo"]["hasNextPage"]


def _params(name: str) -> dict[str, Any]:
    from graphql_app.storage.fauna import INDEXES
    from graphql_app.storage.fauna_indexes import index_params

    return index_params(name, INDEXES[name])


# ---- existing indexes defined differently ---------------------------------------------


def test_migrate_refuses_a_seed_index_defined_differently(emulator: FaunaEmulator) -> None:
    root = _root(emulator)
    root.query(q.create_collection({"name": "users"}))
    seed = {
        "name": "user_by_email",
        "source": q.collection("users"),
        "terms": [{"field": ["data", "email"]}],
    }
    root.query(q.create_index(seed))  # not unique, as a hand-made seed might be
    url = fauna_url(emulator)
    refused = _cli(emulator, url, "migrate")
    assert refused.returncode == 2
    assert _last_line(refused.stderr) == (
        "configuration error: DATABASE_URL: Fauna index user_by_email differs from what "
        "graphql_app needs: unique is false, needs true; delete or rename it "
        '(Delete(Index("user_by_email"))) and run migrate again, which creates it as needed'
    )
    assert not root.query(q.exists(q.index("user_by_id"))), "refused before creating anything"
    # The documented way forward.
    root.query(q.delete(q.index("user_by_email")))
    assert _cli(emulator, url, "migrate").returncode == 0
    assert root.query(q.select("unique", q.get(q.index("user_by_email"))))


async def test_every_part_of_an_index_definition_is_compared(emulator: FaunaEmulator) -> None:
    root = _root(emulator)
    for name in ("users", "todos", "sessions"):
        root.query(q.create_collection({"name": name}))
    root.query(
        q.create_index(
            {
                "name": "todos_by_user_newest",
                "source": q.collection("sessions"),
                "terms": [{"field": ["data", "owner"]}],
                "values": [{"field": ["data", "created_at"]}, {"field": ["ref"]}],
                "unique": True,
                "serialized": False,
            }
        )
    )
    storage = FaunaStorage.from_url(fauna_url(emulator))
    try:
        with pytest.raises(StorageRefused) as refused:
            await storage.migrate()
    finally:
        await storage.close()
    detail = refused.value.detail
    assert detail.startswith(
        "Fauna index todos_by_user_newest differs from what graphql_app needs: "
    )
    for part in (
        "source is [sessions], needs [todos]",
        "terms is [data.owner], needs [data.user_id]",
        "values is [data.created_at, ref], needs [data.created_at reversed, data.id reversed, ref]",
        "unique is true, needs false",
        "serialized is false, needs true",
    ):
        assert part in detail


# ---- contention -------------------------------------------------------------------------


async def test_racing_sign_ups_through_contention_give_one_account(
    emulator: FaunaEmulator, app_on: Any
) -> None:
    storage = FaunaStorage.from_url(fauna_url(emulator))
    await storage.migrate()
    gql = await app_on(storage)
    emulator.contend_next(3)
    emulator.reset_requests()
    sign_up_query = (
        "mutation S($input: CreateUserInput!) { createUser(input: $input) { user { id } } }"
    )
    body = {"input": {"email": "race@example.com", "fullname": "R", "password": PASSWORD}}
    results = await asyncio.gather(*(gql(sign_up_query, body) for _ in range(20)))
    assert sum(1 for r in results if not r.errors) == 1
    assert sorted(code for r in results for code in r.codes) == ["CONFLICT"] * 19
    assert emulator.requests >= 23  # the three 409s were answered, and retried
    users = await storage._query(q.count(q.match(q.index("user_by_email"), "race@example.com")))
    assert users == 1


async def test_contention_past_the_time_limit_is_service_unavailable(
    emulator: FaunaEmulator, app_on: Any
) -> None:
    storage = FaunaStorage.from_url(fauna_url(emulator), query_timeout=0.5)
    await storage.migrate()
    gql = await app_on(storage)
    emulator.contend_next(10**6)
    emulator.reset_requests()
    result = await gql(
        'mutation { createUser(input: {email: "c@example.com", fullname: "C", '
        f'password: "{PASSWORD}"}}) {{ token }} }}'
    )
    assert result.codes == ["SERVICE_UNAVAILABLE"]
    assert emulator.requests > 1  # retried before giving up
    emulator.contend_next(0)
    assert await storage.get_user_by_email("c@example.com") is None


# ---- refused keys -----------------------------------------------------------------------


def test_a_key_without_permission_gets_the_one_line_refusal(emulator: FaunaEmulator) -> None:
    url = f"fauna://{SECRET}:client@127.0.0.1:{emulator.port}?scheme=http"
    for command in (["migrate"], ["serve", "--port", "0"]):
        result = _cli(emulator, url, *command)
        assert result.returncode == 2, result.stderr
        assert _last_line(result.stderr) == (
            "configuration error: DATABASE_URL: the Fauna server refused the secret "
            "(403 permission denied)"
        )
        assert SECRET not in result.stderr


# ---- cascades past one page -------------------------------------------------------------


async def test_cascades_cover_every_page(emulator: FaunaEmulator, app_on: Any) -> None:
    storage = FaunaStorage.from_url(fauna_url(emulator))
    storage.cascade_page_size = 3
    await storage.migrate()
    gql = await app_on(storage)
    ada = await sign_up(gql, "pages@example.com")
    bob = await sign_up(gql, "other@example.com")
    await create_todo(gql, bob.token, "bob's")
    for i in range(10):
        await create_todo(gql, ada.token, f"t{i}")
    logins = []
    for _ in range(7):
        login = {"input": {"email": "pages@example.com", "password": PASSWORD}}
        logins.append((await gql(LOG_IN, login)).ok()["logIn"])

    done = await gql("mutation { setAllTodosCompleted(isCompleted: true) }", token=ada.token)
    assert done.ok()["setAllTodosCompleted"] == 10
    cleared = await gql("mutation { clearCompletedTodos }", token=ada.token)
    assert cleared.ok()["clearCompletedTodos"] == 10
    for i in range(8):
        await create_todo(gql, ada.token, f"again {i}")

    change = await gql(
        "mutation($c: String!, $n: String!) "
        "{ changePassword(currentPassword: $c, newPassword: $n) }",
        {"c": PASSWORD, "n": "another long password"},
        token=ada.token,
    )
    assert change.ok()["changePassword"] is True
    for login in logins:  # every one of the 8 sessions was revoked, across 3 pages
        again = await gql(
            "mutation($r: String!) { refreshToken(refreshToken: $r) { token } }",
            {"r": login["refreshToken"]},
        )
        assert again.codes == ["UNAUTHENTICATED"]

    login = {"input": {"email": "pages@example.com", "password": "another long password"}}
    for _ in range(6):
        fresh = (await gql(LOG_IN, login)).ok()["logIn"]
    emulator.reset_requests()
    gone = await gql(
        "mutation($p: String!) { deleteAccount(password: $p) }",
        {"p": "another long password"},
        token=fresh["token"],
    )
    assert gone.ok()["deleteAccount"] is True
    assert emulator.requests >= 4  # 8 todos and 15 sessions at 3 a page
    left = await storage._query(
        [
            q.count(q.match(q.index("todo_by_user_id"), ada.id)),
            q.count(q.match(q.index("sessions_by_user"), ada.id)),
            q.count(q.match(q.index("user_by_id"), ada.id)),
            q.count(q.match(q.index("todo_by_user_id"), bob.id)),
        ]
    )
    assert left == [0, 0, 0, 1]


# ---- scoped secrets ---------------------------------------------------------------------


async def test_a_scoped_secret_connects_to_its_child_database(
    emulator: FaunaEmulator, app_on: Any
) -> None:
    root = _root(emulator)
    root.query(q.create_database({"name": "appdb"}))
    key = root.query(q.create_key({"database": q.database("appdb"), "role": "server"}))
    host = f"127.0.0.1:{emulator.port}?scheme=http"
    for secret in (f"{SECRET}:appdb:server", f"{SECRET}%3Aappdb%3Aserver", key["secret"]):
        storage = FaunaStorage.from_url(f"fauna://{secret}@{host}")
        await storage.migrate()
        gql = await app_on(storage)
        ada = await sign_up(gql, f"{len(secret)}@example.com")
        assert (await create_todo(gql, ada.token, "in appdb"))["name"] == "in appdb"
    # The data lives in the child database, none in the root one.
    assert root.query(q.exists(q.collection("users"))) is False
    child = _root(emulator, f"{SECRET}:appdb:admin")
    assert child.query(q.count(q.documents(q.collection("users")))) == 3
    # A server key of the child database may not create databases or keys.
    server = _root(emulator, key["secret"])
    with pytest.raises(PermissionDenied):
        server.query(q.create_database({"name": "nested"}))


def test_a_scoped_secret_runs_migrate_and_serve(emulator: FaunaEmulator) -> None:
    _root(emulator).query(q.create_database({"name": "appdb"}))
    url = f"fauna://{SECRET}:appdb:server@127.0.0.1:{emulator.port}?scheme=http"
    migrated = _cli(emulator, url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert SECRET not in migrated.stdout + migrated.stderr
    missing = f"fauna://{SECRET}:nodb:server@127.0.0.1:{emulator.port}?scheme=http"
    refused = _cli(emulator, missing, "migrate")
    assert refused.returncode == 2
    assert _last_line(refused.stderr).endswith("(401 Unauthorized)")


# ---- which create a uniqueness error belongs to ----------------------------------------


async def test_only_the_user_documents_clash_is_email_taken(emulator: FaunaEmulator) -> None:
    from datetime import UTC, datetime, timedelta

    from faunadb.errors import BadRequest

    from graphql_app.errors import EmailTaken
    from graphql_app.models import NewSession

    storage = FaunaStorage.from_url(fauna_url(emulator))
    await storage.migrate()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    session = NewSession("family", "same-hash", now + timedelta(days=1))
    try:
        await storage.create_user("a@example.com", "A", "hash", session, now)
        with pytest.raises(EmailTaken):
            await storage.create_user("a@example.com", "A", "hash", session, now)
        # A new email whose session clashes on token_hash: not "email taken".
        with pytest.raises(BadRequest) as clash:
            await storage.create_user("b@example.com", "B", "hash", session, now)
        assert clash.value.errors[0].code == "instance not unique"
        assert await storage.get_user_by_email("b@example.com") is None  # nothing half-written
    finally:
        await storage.close()
