"""Rate limits on logIn, createUser and refreshToken: per client IP and per account.

In-process through httpx; the Redis-backed tests run two apps side by side,
as two instances would, on one Redis (tests/test_scale_out.py does it with
real processes).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from limits.storage.redis import RedisStorage
from starlette.applications import Starlette

from graphql_app.app import create_app
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import REDIS_URL
from tests.support.clock import Clock
from tests.support.graphql_client import PASSWORD, GraphQLClient, Result, sign_up
from tests.support.live_server import free_port
from tests.support.redis_relay import Relay

LOG_IN = "mutation L($i: LogInInput!) { logIn(input: $i) { token } }"
REFRESH = "mutation R($t: String!) { refreshToken(refreshToken: $t) { token } }"

AppFactory = Callable[..., Starlette]
ClientFactory = Callable[..., Awaitable[GraphQLClient]]


@pytest.fixture
async def make_app(settings: Settings, storage: Storage, clock: Clock) -> AsyncIterator[AppFactory]:
    """Apps on the test's storage with these settings changed; closed afterwards."""
    apps: list[Starlette] = []

    def make(**changes: Any) -> Starlette:
        app = create_app(settings.model_copy(update=changes), clock=clock, storage=storage)
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.state.deps.events.close()
        await app.state.deps.rate_limits.close()


@pytest.fixture
async def client_of() -> AsyncIterator[ClientFactory]:
    """GraphQL clients of an app, each from its own address."""
    clients: list[httpx.AsyncClient] = []

    async def make(app: Starlette, address: str = "127.0.0.1") -> GraphQLClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(http)
        return GraphQLClient(http)

    yield make
    for http in clients:
        await http.aclose()


WRONG = "not the password"


async def log_in(gql: GraphQLClient, email: str, password: str = WRONG, **kwargs: Any) -> Result:
    return await gql(LOG_IN, {"i": {"email": email, "password": password}}, **kwargs)


def assert_rate_limited(result: Result, window_seconds: int) -> None:
    assert result.codes == ["RATE_LIMITED"], result.body
    retry_after = result.errors[0]["extensions"]["retryAfter"]
    assert isinstance(retry_after, int)
    assert 1 <= retry_after <= window_seconds


async def test_auth_operations_from_one_address_are_limited(
    make_app: AppFactory, client_of: ClientFactory
) -> None:
    app = make_app(auth_rate_limit="3/minute")
    gql = await client_of(app, "10.0.0.1")
    for _ in range(3):
        assert (await log_in(gql, "nobody@example.com")).codes == ["UNAUTHENTICATED"]
    assert_rate_limited(await log_in(gql, "nobody@example.com"), 60)
    # Another address has its own budget.
    other = await client_of(app, "10.0.0.2")
    assert (await log_in(other, "nobody@example.com")).codes == ["UNAUTHENTICATED"]


async def test_each_aliased_log_in_counts(make_app: AppFactory, client_of: ClientFactory) -> None:
    gql = await client_of(make_app(auth_rate_limit="4/minute"))
    await sign_up(gql, "ada@example.com")  # the first of the four
    fields = " ".join(
        f'a{n}: logIn(input: {{email: "ada@example.com", password: "{PASSWORD}"}}) {{ token }}'
        for n in range(4)
    )
    result = await gql(f"mutation {{ {fields} }}")
    # One HTTP request, four operations: the fourth logIn is the fifth auth operation.
    assert [(e["path"], e["extensions"]["code"]) for e in result.errors] == [
        (["a3"], "RATE_LIMITED")
    ]


async def test_sign_ups_and_refreshes_share_the_address_budget(
    make_app: AppFactory, client_of: ClientFactory
) -> None:
    gql = await client_of(make_app(auth_rate_limit="3/minute"))
    ada = await sign_up(gql, "ada@example.com")
    await sign_up(gql, "bob@example.com")
    assert (await gql(REFRESH, {"t": ada.refresh_token})).ok()["refreshToken"]["token"]
    assert_rate_limited(await gql(REFRESH, {"t": ada.refresh_token}), 60)
    result = await gql(
        "mutation S($i: CreateUserInput!) { createUser(input: $i) { token } }",
        {"i": {"email": "cy@example.com", "fullname": "Cy", "password": PASSWORD}},
    )
    assert_rate_limited(result, 60)


async def test_failed_log_ins_lock_the_account_even_for_the_right_password(
    make_app: AppFactory, client_of: ClientFactory
) -> None:
    gql = await client_of(make_app(login_account_rate_limit="2/15 minutes"))
    await sign_up(gql, "ada@example.com")
    await sign_up(gql, "bob@example.com")
    assert (await log_in(gql, "ada@example.com")).codes == ["UNAUTHENTICATED"]
    # The same account however the email is written.
    assert (await log_in(gql, "  ADA@Example.com ")).codes == ["UNAUTHENTICATED"]
    assert_rate_limited(await log_in(gql, "ada@example.com", PASSWORD), 15 * 60)
    # Other accounts, and other addresses' attempts at them, are not affected.
    assert (await log_in(gql, "bob@example.com", PASSWORD)).ok()["logIn"]["token"]


async def test_successful_log_ins_do_not_spend_the_account_budget(
    make_app: AppFactory, client_of: ClientFactory
) -> None:
    gql = await client_of(make_app(login_account_rate_limit="2/15 minutes"))
    await sign_up(gql, "ada@example.com")
    for _ in range(4):
        assert (await log_in(gql, "ada@example.com", PASSWORD)).ok()["logIn"]["token"]


async def test_forwarded_for_is_ignored_unless_trusted(
    make_app: AppFactory, client_of: ClientFactory
) -> None:
    gql = await client_of(make_app(auth_rate_limit="2/minute"))
    for n in range(2):
        forged = {"x-forwarded-for": f"192.0.2.{n}"}
        assert (await log_in(gql, "x@example.com", headers=forged)).codes == ["UNAUTHENTICATED"]
    assert_rate_limited(
        await log_in(gql, "x@example.com", headers={"x-forwarded-for": "1.2.3.4"}), 60
    )


async def test_a_trusted_proxy_names_the_client(
    make_app: AppFactory, client_of: ClientFactory
) -> None:
    # Every request comes from the proxy's address (httpx's ASGI client is 127.0.0.1);
    # X-Forwarded-For's right-most entry that is not a trusted proxy is the client.
    proxy = await client_of(make_app(auth_rate_limit="2/minute", forwarded_allow_ips="127.0.0.1"))
    first = {"x-forwarded-for": "198.51.100.7"}
    for _ in range(2):
        assert (await log_in(proxy, "x@example.com", headers=first)).codes == ["UNAUTHENTICATED"]
    # Entries left of the proxy's are the client's own words: forging them does not help.
    forged = {"x-forwarded-for": "203.0.113.9, 198.51.100.7"}
    assert_rate_limited(await log_in(proxy, "x@example.com", headers=forged), 60)
    second = {"x-forwarded-for": "198.51.100.8"}
    assert (await log_in(proxy, "x@example.com", headers=second)).codes == ["UNAUTHENTICATED"]


async def test_a_chain_of_trusted_proxies_is_walked_from_the_right(
    make_app: AppFactory, client_of: ClientFactory
) -> None:
    app = make_app(auth_rate_limit="2/minute", forwarded_allow_ips="127.0.0.1, 10.0.0.0/8")
    proxy = await client_of(app)
    # The client, then a load balancer at 10.1.2.3 (trusted), then the local proxy.
    via_balancer = {"x-forwarded-for": "198.51.100.7, 10.1.2.3"}
    for _ in range(2):
        assert (await log_in(proxy, "x@example.com", headers=via_balancer)).codes == [
            "UNAUTHENTICATED"
        ]
    direct = {"x-forwarded-for": "198.51.100.7"}
    assert_rate_limited(await log_in(proxy, "x@example.com", headers=direct), 60)


async def test_empty_limits_are_off(gql: GraphQLClient) -> None:
    # conftest's settings turn both limits off.
    for _ in range(25):
        assert (await log_in(gql, "nobody@example.com")).codes == ["UNAUTHENTICATED"]


@pytest.mark.redis
async def test_instances_sharing_redis_share_the_budgets(
    make_app: AppFactory, client_of: ClientFactory, redis_prefix: str
) -> None:
    shared = {
        "redis_url": REDIS_URL,
        "redis_key_prefix": redis_prefix,
        "auth_rate_limit": "3/minute",
        "login_account_rate_limit": "2/15 minutes",
    }
    one = await client_of(make_app(**shared))
    two = await client_of(make_app(**shared))
    assert (await log_in(one, "ada@example.com")).codes == ["UNAUTHENTICATED"]
    assert (await log_in(two, "ada@example.com")).codes == ["UNAUTHENTICATED"]
    # The account's two failures were spent across both instances.
    assert_rate_limited(await log_in(one, "ada@example.com"), 15 * 60)
    # And that was the address's third auth operation.
    assert_rate_limited(await log_in(two, "bob@example.com"), 60)


async def test_limits_hold_per_instance_while_redis_is_unreachable(
    make_app: AppFactory, client_of: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/15", auth_rate_limit="2/minute")
    gql = await client_of(app)
    await sign_up(gql, "ada@example.com")
    assert (await log_in(gql, "ada@example.com", PASSWORD)).ok()["logIn"]["token"]
    assert_rate_limited(await log_in(gql, "ada@example.com", PASSWORD), 60)
    assert "rate-limit store unreachable" in caplog.text


async def test_one_attackers_failures_do_not_lock_the_owner_out(
    make_app: AppFactory, client_of: ClientFactory
) -> None:
    """The finding: 10 wrong passwords from one IP kept the account locked for everyone."""
    app = make_app(login_account_rate_limit="3/15 minutes", login_account_ceiling="100/hour")
    attacker = await client_of(app, "203.0.113.66")
    owner = await client_of(app, "198.51.100.7")
    await sign_up(owner, "ada@example.com")
    for _ in range(3):
        assert (await log_in(attacker, "ada@example.com")).codes == ["UNAUTHENTICATED"]
    # The attacker's address has spent its budget on this account, even for the right password.
    assert_rate_limited(await log_in(attacker, "ada@example.com"), 15 * 60)
    assert_rate_limited(await log_in(attacker, "ada@example.com", PASSWORD), 15 * 60)
    # The owner, elsewhere, gets in, again and again while the attacker keeps trying.
    for _ in range(3):
        assert (await log_in(owner, "ada@example.com", PASSWORD)).ok()["logIn"]["token"]
        assert_rate_limited(await log_in(attacker, "ada@example.com"), 15 * 60)
    # The owner's own typos count against the owner's address only.
    assert (await log_in(owner, "ada@example.com")).codes == ["UNAUTHENTICATED"]
    assert (await log_in(owner, "ada@example.com", PASSWORD)).ok()["logIn"]["token"]


async def test_guessing_spread_over_many_addresses_is_capped(
    make_app: AppFactory, client_of: ClientFactory
) -> None:
    app = make_app(login_account_rate_limit="2/15 minutes", login_account_ceiling="5/hour")
    owner = await client_of(app, "198.51.100.7")
    await sign_up(owner, "ada@example.com")
    bob = await sign_up(owner, "bob@example.com")
    botnet = [await client_of(app, f"203.0.113.{n}") for n in range(1, 4)]
    failures = 0
    for bot in botnet:
        for _ in range(2):  # within each address's own budget
            if failures < 5:
                assert (await log_in(bot, "ada@example.com")).codes == ["UNAUTHENTICATED"]
                failures += 1
    # Five failures from three addresses: the account's ceiling is spent. A fresh
    # address, even with the right password, and the owner are refused for the hour.
    fresh = await client_of(app, "192.0.2.200")
    assert_rate_limited(await log_in(fresh, "ada@example.com", PASSWORD), 60 * 60)
    assert_rate_limited(await log_in(owner, "ada@example.com", PASSWORD), 60 * 60)
    assert_rate_limited(await log_in(botnet[2], "ada@example.com"), 60 * 60)
    # Other accounts are untouched.
    assert (await log_in(fresh, bob.email, PASSWORD)).ok()["logIn"]["token"]


async def test_the_ceiling_is_shared_by_instances_sharing_redis(
    make_app: AppFactory, client_of: ClientFactory, redis_prefix: str
) -> None:
    shared = {
        "redis_url": REDIS_URL,
        "redis_key_prefix": redis_prefix,
        "login_account_rate_limit": "2/15 minutes",
        "login_account_ceiling": "3/hour",
    }
    one, two = make_app(**shared), make_app(**shared)
    for app, address in [(one, "203.0.113.1"), (two, "203.0.113.2"), (one, "203.0.113.3")]:
        bot = await client_of(app, address)
        assert (await log_in(bot, "ada@example.com")).codes == ["UNAUTHENTICATED"]
    assert_rate_limited(await log_in(await client_of(two, "192.0.2.9"), "ada@example.com"), 3600)


async def test_an_outage_is_logged_once_not_per_request(
    make_app: AppFactory, client_of: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Mutants graphql_app.rate_limits.xǁAuthRateLimitsǁ_call__mutmut_11 (logged from the
    second failure on), 19 and 20 (the outage never noted: logged on every request)."""
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/15", auth_rate_limit="5/minute")
    gql = await client_of(app)
    for _ in range(3):
        assert (await log_in(gql, "x@example.com")).codes == ["UNAUTHENTICATED"]
    warnings = [r for r in caplog.records if r.name == "graphql_app.rate_limits"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


async def test_a_redis_unix_socket_url_is_understood(
    make_app: AppFactory, client_of: ClientFactory, tmp_path: Path
) -> None:
    """REDIS_URL=unix:///path (redis-py's form) is `redis+unix` to `limits`; here its
    socket is missing, so the limits hold per instance. Mutants graphql_app.rate_limits
    x__limits_url__mutmut_6, 10, 11, 12 and 14 (the scheme left as `unix`: start-up fails).
    """
    app = make_app(redis_url=f"unix://{tmp_path}/no-redis.sock", auth_rate_limit="2/minute")
    gql = await client_of(app)
    for _ in range(2):
        assert (await log_in(gql, "x@example.com")).codes == ["UNAUTHENTICATED"]
    assert_rate_limited(await log_in(gql, "x@example.com"), 60)


async def wait_until_retry_after_shrinks(gql: GraphQLClient) -> int:
    """Spend a `1/3 seconds` budget, wait a second and a half (a bounded wait, not a
    measurement), and return the retryAfter of the next attempt."""
    assert (await log_in(gql, "x@example.com")).codes == ["UNAUTHENTICATED"]
    await asyncio.sleep(1.5)
    result = await log_in(gql, "x@example.com")
    assert result.codes == ["RATE_LIMITED"], result.body
    return int(result.errors[0]["extensions"]["retryAfter"])


async def test_retry_after_counts_from_the_clients_own_first_attempt(
    make_app: AppFactory, client_of: ClientFactory
) -> None:
    """Seconds until the oldest attempt leaves the window: at most 2 of 3 here, however
    slow the machine (waiting longer only shrinks it). Mutant graphql_app.rate_limits
    xǁAuthRateLimitsǁ_retry_after__mutmut_9 (another key's window read: always the whole 3).
    """
    gql = await client_of(make_app(auth_rate_limit="1/3 seconds"))
    assert await wait_until_retry_after_shrinks(gql) <= 2


@pytest.mark.redis
async def test_retry_after_reads_the_shared_window(
    make_app: AppFactory, client_of: ClientFactory, redis_prefix: str
) -> None:
    """Mutant graphql_app.rate_limits.xǁAuthRateLimitsǁ_retry_after__mutmut_4 (the
    per-instance window read while Redis holds the hits: always the whole 3)."""
    app = make_app(
        redis_url=REDIS_URL, redis_key_prefix=redis_prefix, auth_rate_limit="1/3 seconds"
    )
    gql = await client_of(app)
    assert await wait_until_retry_after_shrinks(gql) <= 2


@pytest.mark.redis
async def test_limits_are_shared_again_once_redis_is_back(
    make_app: AppFactory,
    client_of: ClientFactory,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The outage and the recovery are each logged once. Mutant graphql_app.rate_limits
    xǁAuthRateLimitsǁ_call__mutmut_25 (still marked down once Redis answers again)."""
    redis = Relay()
    await redis.start()
    app = make_app(
        redis_url=f"redis://127.0.0.1:{redis.port}/15",
        redis_key_prefix=redis_prefix,
        auth_rate_limit="20/minute",
    )
    gql = await client_of(app)
    try:
        assert (await log_in(gql, "x@example.com")).codes == ["UNAUTHENTICATED"]
        await redis.cut()
        for _ in range(2):
            assert (await log_in(gql, "x@example.com")).codes == ["UNAUTHENTICATED"]
        await redis.start()
        for _ in range(3):
            assert (await log_in(gql, "x@example.com")).codes == ["UNAUTHENTICATED"]
    finally:
        await redis.cut()
    messages = [r.getMessage() for r in caplog.records if r.name == "graphql_app.rate_limits"]
    assert len(messages) == 2, messages
    assert "unreachable" in messages[0] and "reachable again" in messages[1]


@pytest.mark.redis
async def test_retry_after_is_the_whole_window_when_redis_fails_before_it_is_read(
    make_app: AppFactory, client_of: ClientFactory, redis_prefix: str
) -> None:
    """Redis counts the attempt over budget, then fails as its window is read: the
    answer is still RATE_LIMITED, with retryAfter the whole window (the safe guess).
    Mutants graphql_app.rate_limits.xǁAuthRateLimitsǁ_retry_after__mutmut_11 (a 500)
    and 12 (retryAfter 1)."""
    # What EVALSHA names the window read by (Redis identifies scripts by SHA-1).
    window_read = hashlib.sha1(RedisStorage.SCRIPT_MOVING_WINDOW, usedforsecurity=False)
    redis = Relay(cut_on=window_read.hexdigest().encode())
    await redis.start()
    app = make_app(
        redis_url=f"redis://127.0.0.1:{redis.port}/15",
        redis_key_prefix=redis_prefix,
        auth_rate_limit="1/minute",
    )
    gql = await client_of(app)
    try:
        assert (await log_in(gql, "x@example.com")).codes == ["UNAUTHENTICATED"]
        result = await log_in(gql, "x@example.com")
        assert redis.tripped
        assert_rate_limited(result, 60)
        assert result.errors[0]["extensions"]["retryAfter"] >= 59
    finally:
        await redis.cut()


@pytest.mark.redis
async def test_deployments_with_their_own_key_prefix_keep_their_own_budgets(
    make_app: AppFactory, client_of: ClientFactory, redis_prefix: str
) -> None:
    """Two deployments on one Redis, told apart by REDIS_KEY_PREFIX, count apart.
    Mutant graphql_app.rate_limits.xǁAuthRateLimitsǁ__init____mutmut_34 (the limits'
    keys outside the prefix: every deployment shares one budget)."""
    limits = {"redis_url": REDIS_URL, "auth_rate_limit": "1/minute"}
    blue = await client_of(make_app(redis_key_prefix=f"{redis_prefix}:blue", **limits))
    green = await client_of(make_app(redis_key_prefix=f"{redis_prefix}:green", **limits))
    assert (await log_in(blue, "x@example.com")).codes == ["UNAUTHENTICATED"]
    assert (await log_in(green, "x@example.com")).codes == ["UNAUTHENTICATED"]
    assert_rate_limited(await log_in(blue, "x@example.com"), 60)
