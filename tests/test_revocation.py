"""Access tokens die with the password, the account, or logOutEverywhere (issue 11, finding 3).

Through HTTP into the app on every backend. Across real instances sharing
Redis: tests/test_scale_out.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from graphql_app.app import create_app
from graphql_app.events.memory import InProcessEventBus
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.clock import Clock
from tests.support.graphql_client import (
    LOG_IN,
    PASSWORD,
    GraphQLClient,
    Result,
    create_todo,
    sign_up,
)
from tests.support.live_server import free_port

NEW_PASSWORD = "a brand new passphrase"
ME = "{ me { id } }"
REFRESH = "mutation R($t: String!) { refreshToken(refreshToken: $t) { token } }"
CHANGE_PASSWORD = (
    "mutation C($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
)
DELETE_ACCOUNT = "mutation D($p: String!) { deleteAccount(password: $p) }"
LOG_OUT_EVERYWHERE = "mutation { logOutEverywhere }"
# Every field that needs a token, as a deleted account's client might still call it.
EVERY_AUTHENTICATED_FIELD = [
    ME,
    "{ todos(first: 5) { totalCount edges { node { id } } } }",
    '{ todo(id: "x") { id } }',
    'mutation { createTodo(input: {name: "after"}) { id } }',
    'mutation { updateTodo(id: "x", input: {name: "y"}) { id } }',
    'mutation { deleteTodo(id: "x") { id } }',
    "mutation { setAllTodosCompleted(isCompleted: true) }",
    "mutation { clearCompletedTodos }",
    LOG_OUT_EVERYWHERE,
    'mutation { changePassword(currentPassword: "x", newPassword: "long enough y") }',
    'mutation { deleteAccount(password: "x") }',
]


def revoked(result: Result) -> bool:
    return [e["extensions"] for e in result.errors] == [
        {"code": "UNAUTHENTICATED", "reason": "TOKEN_REVOKED"}
    ] and not any((result.data or {}).values())


async def log_in(gql: GraphQLClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    result = await gql(LOG_IN, {"input": {"email": email, "password": password}})
    return dict(result.ok()["logIn"])


async def test_change_password_refuses_every_earlier_access_token(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "change@example.com")
    other_device = await log_in(gql, "change@example.com")
    bob = await sign_up(gql, "bystander@example.com")
    await create_todo(gql, ada.token, "before")

    assert (
        await gql(CHANGE_PASSWORD, {"c": PASSWORD, "n": NEW_PASSWORD}, token=ada.token)
    ).ok() == {"changePassword": True}

    for token in (ada.token, other_device["token"]):
        assert revoked(await gql(ME, token=token))
        assert revoked(await gql('mutation { createTodo(input: {name: "x"}) { id } }', token=token))
    # Refresh tokens went too; the new password logs in at once (same second) and works.
    assert (await gql(REFRESH, {"t": ada.refresh_token})).codes == ["UNAUTHENTICATED"]
    fresh = await log_in(gql, "change@example.com", NEW_PASSWORD)
    assert (await gql(ME, token=fresh["token"])).ok() == {"me": {"id": ada.id}}
    # Nobody else is touched.
    assert (await gql(ME, token=bob.token)).ok() == {"me": {"id": bob.id}}


async def test_log_out_everywhere_refuses_every_token_of_the_caller(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "everywhere@example.com")
    phone = await log_in(gql, "everywhere@example.com")
    bob = await sign_up(gql, "other@example.com")

    assert (await gql(LOG_OUT_EVERYWHERE, token=phone["token"])).ok() == {"logOutEverywhere": True}

    for token in (ada.token, phone["token"]):
        assert revoked(await gql(ME, token=token))
    for refresh in (ada.refresh_token, phone["refreshToken"]):
        result = await gql(REFRESH, {"t": refresh})
        assert [e["extensions"]["reason"] for e in result.errors] == ["REFRESH_TOKEN_INVALID"]
    assert (await gql(ME, token=bob.token)).ok()
    again = await log_in(gql, "everywhere@example.com")  # the password still works
    assert (await gql(ME, token=again["token"])).ok() == {"me": {"id": ada.id}}


async def test_log_out_everywhere_needs_a_token(gql: GraphQLClient) -> None:
    result = await gql(LOG_OUT_EVERYWHERE)
    assert [e["extensions"]["reason"] for e in result.errors] == ["TOKEN_MISSING"]


@pytest.mark.parametrize("query", EVERY_AUTHENTICATED_FIELD)
async def test_a_deleted_accounts_token_is_unauthenticated_on_every_field(
    gql: GraphQLClient, query: str
) -> None:
    ada = await sign_up(gql, "deleted@example.com")
    await create_todo(gql, ada.token, "done", done=True)
    assert (await gql(DELETE_ACCOUNT, {"p": PASSWORD}, token=ada.token)).ok()
    assert revoked(await gql(query, token=ada.token)), query


async def test_a_server_started_later_knows_earlier_revocations(
    gql: GraphQLClient, settings: Settings, storage: Storage, clock: Clock
) -> None:
    """A new instance (its own memory and event bus) on the same storage."""
    ada = await sign_up(gql, "late@example.com")
    assert (await gql(LOG_OUT_EVERYWHERE, token=ada.token)).ok()
    late: Starlette = create_app(settings, clock=clock, storage=storage, events=InProcessEventBus())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=late), base_url="http://late"
    ) as http:
        assert revoked(await GraphQLClient(http)(ME, token=ada.token))


async def test_revocations_last_one_access_token_lifetime(
    gql: GraphQLClient, settings: Settings, storage: Storage, clock: Clock
) -> None:
    """Past a token lifetime the revoked tokens have expired anyway, and storage forgets."""
    ada = await sign_up(gql, "lifetime@example.com")
    assert (await gql(LOG_OUT_EVERYWHERE, token=ada.token)).ok()
    ttl = timedelta(seconds=settings.access_token_ttl)
    assert len(await storage.recent_revocations(clock() - ttl)) == 1
    clock.travel(seconds=settings.access_token_ttl + 61)
    expired = await gql(ME, token=ada.token)
    assert [e["extensions"]["reason"] for e in expired.errors] == ["TOKEN_EXPIRED"]
    bob = await sign_up(gql, "next@example.com")
    assert (await gql(LOG_OUT_EVERYWHERE, token=bob.token)).ok()
    kept = await storage.recent_revocations(clock() - 2 * ttl)
    assert [user for user, _ in kept] == [bob.id]


async def test_checking_revocations_costs_no_storage_round_trip(
    gql: GraphQLClient, storage: Storage
) -> None:
    ada = await sign_up(gql, "trips-a@example.com")
    bob = await sign_up(gql, "trips-b@example.com")
    await gql(ME, token=ada.token)  # the process has read the revocations once

    async def cost(query: str, token: str) -> int:
        before = storage.round_trips
        await gql(query, token=token)
        return storage.round_trips - before

    todos = "{ todos(first: 5) { totalCount } }"
    before = (await cost(ME, ada.token), await cost(todos, ada.token))
    assert (await gql(LOG_OUT_EVERYWHERE, token=bob.token)).ok()
    assert (await cost(ME, ada.token), await cost(todos, ada.token)) == before
    # A revoked token is refused from memory: no storage call at all.
    assert await cost(ME, bob.token) == 0
    assert await cost(todos, bob.token) == 0


async def test_without_the_redis_feed_an_instance_rereads_storage_every_second(
    gql: GraphQLClient, settings: Settings, storage: Storage, clock: Clock
) -> None:
    """Instance A cannot reach Redis (no revocation feed); B revokes on the same storage.
    A must not trust its memory for more than a second: it reads storage again."""
    dead_redis = f"redis://127.0.0.1:{free_port()}/15"
    a = create_app(
        settings.model_copy(update={"redis_url": dead_redis}), clock=clock, storage=storage
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://a") as http:
        on_a = GraphQLClient(http)
        ada = await sign_up(gql, "no-feed@example.com")  # through B, the `gql` app
        assert (await on_a(ME, token=ada.token)).ok() == {"me": {"id": ada.id}}
        assert (await gql(LOG_OUT_EVERYWHERE, token=ada.token)).ok()
        for _ in range(40):  # bounded: a read happens once the set is a second old
            if revoked(await on_a(ME, token=ada.token)):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("instance A never learned of the revocation")
        await a.state.deps.events.close()
