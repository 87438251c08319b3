"""Two real uvicorn instances on one PostgreSQL database and one Redis, as behind a load balancer.

Each test gets its own database (`t_<uuid>`, created on the `test` server
and dropped afterwards, migrated with `python -m graphql_app migrate`) and
its own Redis key prefix (its keys deleted afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest

from tests.support.backends import REDIS_URL
from tests.support.environment import server_env
from tests.support.graphql_client import PASSWORD, GraphQLClient, create_todo, sign_up
from tests.support.live_server import LiveServer, live_server
from tests.support.ws_client import LEGACY_WS, TRANSPORT_WS, authenticated, event_of, until_live

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

EVENTS = "subscription { todoEvents { kind todoId todo { id name isCompleted } } }"
LOG_IN = "mutation L($i: LogInInput!) { logIn(input: $i) { token } }"
ACCOUNT_LIMIT = 3
ADDRESS_LIMIT = 6


@pytest.fixture
def instance_env(fresh_database_url: str, redis_prefix: str) -> dict[str, str]:
    """The environment every instance of a test shares."""
    return server_env(
        fresh_database_url,
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=redis_prefix,
        AUTH_RATE_LIMIT=f"{ADDRESS_LIMIT}/minute",
        LOGIN_ACCOUNT_RATE_LIMIT=f"{ACCOUNT_LIMIT}/15 minutes",
    )


@pytest.fixture
def instances(
    tmp_path_factory: pytest.TempPathFactory, instance_env: dict[str, str]
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Instances A and B, sharing the database and Redis; A migrates first."""
    workdir = tmp_path_factory.mktemp("scale-out")
    env = instance_env
    with (
        live_server(workdir, env) as a,
        live_server(workdir, env, run_migrate=False) as b,
    ):
        yield a, b


@contextlib.asynccontextmanager
async def clients(*servers: LiveServer) -> AsyncIterator[list[GraphQLClient]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            GraphQLClient(await stack.enter_async_context(httpx.AsyncClient(base_url=s.url)))
            for s in servers
        ]


def probe_on(gql: GraphQLClient, token: str) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        return str((await create_todo(gql, token, "probe"))["id"])

    return probe


async def test_subscribers_on_one_instance_see_changes_made_on_another(
    instances: tuple[LiveServer, LiveServer],
) -> None:
    a, b = instances
    async with clients(a, b) as (on_a, on_b):
        ada = await sign_up(on_a, "ada@example.com")
        bob = await sign_up(on_b, "bob@example.com")
        ada_ws = await authenticated(a.ws_url, ada.token, TRANSPORT_WS)
        bob_ws = await authenticated(a.ws_url, bob.token, LEGACY_WS)
        try:
            ada_op = await ada_ws.subscribe(EVENTS)
            await bob_ws.subscribe(EVENTS)
            await until_live(ada_ws, probe_on(on_b, ada.token))
            await until_live(bob_ws, probe_on(on_b, bob.token))

            todo = await create_todo(on_b, ada.token, "made on B")
            await on_b(
                "mutation U($id: ID!) { updateTodo(id: $id, input: {isCompleted: true}) { id } }",
                {"id": todo["id"]},
                token=ada.token,
            )
            await on_b(
                "mutation D($id: ID!) { deleteTodo(id: $id) { id } }",
                {"id": todo["id"]},
                token=ada.token,
            )
            received = [await ada_ws.operation_message() for _ in range(3)]
            # Bob's own change is the first thing Bob hears of: none of Ada's came before it.
            mine = await create_todo(on_b, bob.token, "bob's")
            first_for_bob = event_of(await bob_ws.operation_message())
        finally:
            await ada_ws.close()
            await bob_ws.close()
    assert {m.id for m in received} == {ada_op}
    assert [event_of(m) for m in received] == [
        {
            "kind": "CREATED",
            "todoId": todo["id"],
            "todo": {"id": todo["id"], "name": "made on B", "isCompleted": False},
        },
        {
            "kind": "UPDATED",
            "todoId": todo["id"],
            "todo": {"id": todo["id"], "name": "made on B", "isCompleted": True},
        },
        {"kind": "DELETED", "todoId": todo["id"], "todo": None},
    ]
    assert (first_for_bob["kind"], first_for_bob["todoId"]) == ("CREATED", mine["id"])


async def test_rate_limits_are_shared_by_the_instances(
    instances: tuple[LiveServer, LiveServer],
) -> None:
    a, b = instances
    async with clients(a, b) as (on_a, on_b):
        await sign_up(on_a, "ada@example.com")  # the address's first auth operation
        attempts = [on_a, on_b, on_a]  # ACCOUNT_LIMIT failures, split across the instances
        for gql in attempts:
            wrong = {"i": {"email": "ada@example.com", "password": "not the password"}}
            assert (await gql(LOG_IN, wrong)).codes == ["UNAUTHENTICATED"]
        right = {"i": {"email": "ada@example.com", "password": PASSWORD}}
        locked = await on_b(LOG_IN, right)
        assert locked.codes == ["RATE_LIMITED"]
        assert locked.errors[0]["extensions"]["retryAfter"] >= 1
        # That was the address's fifth auth operation; the sixth is its last.
        other = {"i": {"email": "bob@example.com", "password": "not the password"}}
        assert (await on_a(LOG_IN, other)).codes == ["UNAUTHENTICATED"]
        over = await on_b(LOG_IN, other)
        assert over.codes == ["RATE_LIMITED"]


ME = "{ me { id } }"
REVOKING = {
    "changePassword": (
        "mutation C($p: String!) { changePassword(currentPassword: $p, newPassword: "
        '"another long passphrase") }'
    ),
    "deleteAccount": "mutation D($p: String!) { deleteAccount(password: $p) }",
    "logOutEverywhere": "mutation { logOutEverywhere }",
}


async def until_revoked(gql: GraphQLClient, token: str, attempts: int = 100) -> int:
    """Ask `me` every 20 ms until the token is refused as revoked; the tries it took."""
    for attempt in range(1, attempts + 1):
        result = await gql(ME, token=token)
        if [e["extensions"].get("reason") for e in result.errors] == ["TOKEN_REVOKED"]:
            return attempt
        assert result.ok()
        await asyncio.sleep(0.02)
    raise AssertionError(f"the token was still accepted after {attempts} tries")


async def test_a_revocation_on_one_instance_refuses_the_token_on_every_instance(
    instances: tuple[LiveServer, LiveServer],
    instance_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    a, b = instances
    revoked_tokens = []
    async with clients(a, b) as (on_a, on_b):
        for mutation, query in REVOKING.items():
            email = f"{mutation.lower()}@example.com"
            ada = await sign_up(on_a, email)
            log_in = {"i": {"email": email, "password": PASSWORD}}
            phone = (await on_b(LOG_IN, log_in)).ok()["logIn"]["token"]
            for gql, token in [(on_a, ada.token), (on_b, ada.token), (on_b, phone)]:
                assert (await gql(ME, token=token)).ok() == {"me": {"id": ada.id}}
            variables = None if mutation == "logOutEverywhere" else {"p": PASSWORD}
            assert (await on_a(query, variables, token=ada.token)).ok() == {mutation: True}
            # A refuses at once (it applied the revocation before answering); B as soon
            # as Redis delivers it: pushed, not polled (bounded so that load cannot flake it).
            assert await until_revoked(on_a, phone, attempts=1) == 1
            await until_revoked(on_b, ada.token)
            await until_revoked(on_b, phone)
            revoked_tokens += [ada.token, phone]
    # An instance started after the revocations reads them from storage.
    with live_server(tmp_path_factory.mktemp("late"), instance_env, run_migrate=False) as late:
        async with clients(late) as (on_late,):
            for token in revoked_tokens:
                assert await until_revoked(on_late, token, attempts=1) == 1
