"""Access tokens die with the password, the account, or logOutEverywhere (issue 11, finding 3).

Through HTTP into the app on every backend. Across real instances sharing
Redis: tests/test_scale_out.py (slow); the Redis tests here run two apps in
this process on one Redis, each with its own bus, as two instances are.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from graphql_app.app import create_app
from graphql_app.errors import ServiceUnavailable
from graphql_app.events.memory import InProcessEventBus
from graphql_app.security.revocations import PRUNE_FROM, Revocations
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import REDIS_URL
from tests.support.clock import Clock, leave_until_expiry
from tests.support.graphql_client import (
    LOG_IN,
    PASSWORD,
    GraphQLClient,
    Result,
    create_todo,
    sign_up,
)
from tests.support.live_server import free_port
from tests.support.redis_relay import Relay

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


async def test_an_instance_started_late_refuses_a_revoked_token_until_it_expires(
    gql: GraphQLClient, settings: Settings, storage: Storage, clock: Clock
) -> None:
    """Storage is read for every revocation that still refuses a valid token: here one
    made a token lifetime ago, whose token has 30 s to live. Mutant
    graphql_app.security.revocations.xǁRevocationsǁ__init____mutmut_4 (a revocation was
    forgotten a minute before a token lifetime: the token worked again on that instance)."""
    ada = await sign_up(gql, "until-expiry@example.com")
    assert (await gql(LOG_OUT_EVERYWHERE, token=ada.token)).ok()
    leave_until_expiry(clock, ada.token, seconds=30)
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


async def test_each_revocation_is_kept_for_its_lifetime_whoever_revokes_next(
    gql: GraphQLClient, settings: Settings, storage: Storage, clock: Clock
) -> None:
    """A revocation forgets only the revocations older than a token lifetime: Bob's
    logging out everywhere keeps Ada's for the instances that start later. Mutant
    graphql_app.security.revocations.xǁRevocationsǁrevoke__mutmut_8 (each revocation
    erased every earlier one from storage)."""
    ada = await sign_up(gql, "first-out@example.com")
    bob = await sign_up(gql, "second-out@example.com")
    assert (await gql(LOG_OUT_EVERYWHERE, token=ada.token)).ok()
    clock.travel(seconds=5)
    assert (await gql(LOG_OUT_EVERYWHERE, token=bob.token)).ok()
    late: Starlette = create_app(settings, clock=clock, storage=storage, events=InProcessEventBus())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=late), base_url="http://late"
    ) as http:
        on_late = GraphQLClient(http)
        assert revoked(await on_late(ME, token=ada.token))
        assert revoked(await on_late(ME, token=bob.token))


async def test_a_revocation_the_other_instances_missed_still_holds_here(
    settings: Settings, storage: Storage, clock: Clock
) -> None:
    """Redis is down: logOutEverywhere answers SERVICE_UNAVAILABLE (the other instances
    were not told; try again), yet what it did holds: the instance that answered refuses
    the token at once, and storage keeps the revocation. Mutant
    graphql_app.security.revocations.xǁRevocationsǁrevoke__mutmut_9 (not applied where it
    was made: the token went on working there until the next storage read)."""
    dead_redis = f"redis://127.0.0.1:{free_port()}/15"
    app = create_app(
        settings.model_copy(update={"redis_url": dead_redis}), clock=clock, storage=storage
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://a"
        ) as http:
            gql = GraphQLClient(http)
            ada = await sign_up(gql, "unheard@example.com")
            assert (await gql(ME, token=ada.token)).ok() == {"me": {"id": ada.id}}
            assert (await gql(LOG_OUT_EVERYWHERE, token=ada.token)).codes == ["SERVICE_UNAVAILABLE"]
            assert revoked(await gql(ME, token=ada.token))
    finally:
        await app.state.deps.events.close()
    assert [user for user, _ in await storage.recent_revocations(clock() - timedelta(hours=1))] == [
        ada.id
    ]


async def test_an_older_revocation_delivered_late_does_not_undo_a_newer_one(
    gql: GraphQLClient, events: InProcessEventBus, clock: Clock
) -> None:
    """Two instances revoke one user at about the same time; the feed may deliver the
    older revocation last. Mutant graphql_app.security.revocations.xǁRevocationsǁ
    apply__mutmut_2 (the last one delivered won: the tokens issued between the two
    were accepted again)."""
    ada = await sign_up(gql, "twice@example.com")
    clock.travel(seconds=1)
    elsewhere = clock().timestamp()  # another instance revokes Ada's tokens; its message is slow
    clock.travel(seconds=1)
    phone = await log_in(gql, "twice@example.com")
    clock.travel(seconds=8)
    assert (await gql(LOG_OUT_EVERYWHERE, token=phone["token"])).ok()
    await events.publish_revocation(ada.id, elsewhere)  # the slow message arrives
    for token in (ada.token, phone["token"]):
        assert revoked(await gql(ME, token=token))
    again = await log_in(gql, "twice@example.com")
    assert (await gql(ME, token=again["token"])).ok() == {"me": {"id": ada.id}}


async def test_the_revocations_held_in_memory_stay_bounded(
    settings: Settings, storage: Storage, clock: Clock
) -> None:
    """Each instance holds every revocation of the last token lifetime (plus the 60 s of
    clock skew tokens may claim); older ones refuse only expired tokens and are dropped
    once the set reaches PRUNE_FROM entries, or twice what the last pruning kept.
    Revocations arrive as from other instances, through the event bus.

    Mutants of graphql_app.security.revocations.xǁRevocationsǁ_prune: __mutmut_1 (the
    set held PRUNE_FROM entries, unpruned), __mutmut_3 (pruning dropped the revocations
    still in force: revoked tokens worked again), __mutmut_12 (the set grew to three
    times what the last pruning kept), and __mutmut_2, 4, 6, 7, 8, 9, 10 and 11
    (an exception, in pruning or in the next revocation or token check)."""
    events = InProcessEventBus()
    ttl = timedelta(seconds=settings.access_token_ttl)
    revocations = Revocations(storage, events, ttl, clock)
    await revocations.ready()  # watches the bus, reads storage
    lifetime = ttl + timedelta(seconds=60)

    async def revoke(users: list[str], *, expired: bool) -> None:
        at = clock.now - (lifetime + timedelta(seconds=1) if expired else timedelta(0))
        for user in users:
            await events.publish_revocation(user, at.timestamp())

    def held(user: str) -> bool:
        """Whether the revocation of `user` is still held (it refuses a year-old token)."""
        return revocations.revoked(user, (clock.now - timedelta(days=365)).timestamp())

    expired = [f"expired-{i}" for i in range(PRUNE_FROM)]
    await revoke(expired[:-1], expired=True)
    assert held(expired[0])  # below PRUNE_FROM nothing is dropped
    await revoke(expired[-1:], expired=True)
    assert not any(held(user) for user in expired)

    # Three quarters in force: they stay; the next pruning waits for twice as many.
    in_force = [f"in-force-{i}" for i in range(PRUNE_FROM * 3 // 4)]
    await revoke(in_force, expired=False)
    await revoke([f"old-{i}" for i in range(PRUNE_FROM - len(in_force))], expired=True)
    assert all(held(user) for user in in_force)
    assert revocations.revoked(in_force[0], (clock.now - timedelta(seconds=1)).timestamp())
    assert not held("old-0")

    # A lifetime later they have expired too: gone once the set has doubled.
    clock.travel(seconds=lifetime.total_seconds() + 1)
    await revoke([f"later-{i}" for i in range(len(in_force))], expired=True)
    assert not any(held(user) for user in in_force)


@pytest.fixture
async def instance_on(
    settings: Settings, storage: Storage, clock: Clock, redis_prefix: str
) -> AsyncIterator[Callable[[str], tuple[Starlette, GraphQLClient]]]:
    """Instances on the test's storage, each with its own event bus on the given Redis
    URL (one prefix), as separate processes would be; closed afterwards."""
    apps: list[Starlette] = []
    clients: list[httpx.AsyncClient] = []

    def make(redis_url: str) -> tuple[Starlette, GraphQLClient]:
        changes = {"redis_url": redis_url, "redis_key_prefix": redis_prefix}
        app = create_app(settings.model_copy(update=changes), clock=clock, storage=storage)
        apps.append(app)
        clients.append(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x")
        )
        return app, GraphQLClient(clients[-1])

    yield make
    for http in clients:
        await http.aclose()
    for app in apps:
        await app.state.deps.events.close()
        await app.state.deps.rate_limits.close()


@pytest.mark.redis
async def test_a_revocation_reaches_the_other_instances_through_redis(
    instance_on: Callable[[str], tuple[Starlette, GraphQLClient]],
) -> None:
    """Pushed, not polled: B never reads storage again while it watches the feed.
    Mutant graphql_app.security.revocations.xǁRevocationsǁrevoke__mutmut_13 (published
    without its user: B went on accepting the token)."""
    (_, on_a), (_, on_b) = instance_on(REDIS_URL), instance_on(REDIS_URL)
    ada = await sign_up(on_a, "pushed@example.com")
    assert (await on_b(ME, token=ada.token)).ok() == {"me": {"id": ada.id}}  # B watches
    assert (await on_a(LOG_OUT_EVERYWHERE, token=ada.token)).ok()
    for _ in range(100):  # bounded, so that load cannot flake it
        if revoked(await on_b(ME, token=ada.token)):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("instance B never learned of the revocation")


@pytest.mark.redis
async def test_an_instance_that_loses_the_feed_reads_storage_again_at_once(
    instance_on: Callable[[str], tuple[Starlette, GraphQLClient]],
) -> None:
    """A watches the revocation feed through a relay that is cut; B revokes meanwhile,
    unheard by A. A no longer trusts its set: its next request reads storage, and the
    token is refused. A live subscription on A is how the test knows A saw the loss.

    Mutants of graphql_app.security.revocations.xǁRevocationsǁ_lost: __mutmut_2 and 4
    (A trusted its set for good), 3 (A answered with an error), 5 and 6 (A trusted its
    set until a second after its last storage read)."""
    relay = Relay()
    await relay.start()
    try:
        (a, on_a), (_, on_b) = instance_on(relay.url), instance_on(REDIS_URL)
        ada = await sign_up(on_b, "unheard-by-a@example.com")
        assert (await on_a(ME, token=ada.token)).ok() == {"me": {"id": ada.id}}  # A watches
        stream = await a.state.deps.events.subscribe(ada.id)
        await relay.cut()
        with pytest.raises(ServiceUnavailable):
            async with asyncio.timeout(5):
                await anext(stream)
        assert (await on_b(LOG_OUT_EVERYWHERE, token=ada.token)).ok()
        assert revoked(await on_a(ME, token=ada.token))
    finally:
        await relay.cut()
