"""UNAUTHENTICATED errors say why in `extensions.reason` (README, Errors).

A client refreshes on TOKEN_EXPIRED and retries; on any other reason it logs
in again. Over HTTP (in-process, every backend) and in WebSocket
connection_init refusals (a real uvicorn process, both protocols).
"""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from graphql_app.errors import AuthReason
from tests.support.clock import Clock
from tests.support.environment import TEST_SECRET
from tests.support.graphql_client import LOG_IN, PASSWORD, GraphQLClient, Result, sign_up
from tests.support.live_server import LiveServer
from tests.support.ws_client import LEGACY_WS, PROTOCOLS, authenticated, connect, until_live

ME = "{ me { id } }"
DELETE_ACCOUNT = "mutation D($p: String!) { deleteAccount(password: $p) }"
REFRESH = "mutation R($t: String!) { refreshToken(refreshToken: $t) { token refreshToken } }"


def reasons(result: Result) -> list[tuple[str, str | None]]:
    return [(e["extensions"]["code"], e["extensions"].get("reason")) for e in result.errors]


def unauthenticated(reason: AuthReason) -> list[tuple[str, str | None]]:
    return [("UNAUTHENTICATED", reason.value)]


def access_token(user_id: str, *, exp_in: int = 600, key: str = TEST_SECRET) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "iat": now - 1000,
        "exp": now + exp_in,
        "iss": "graphql_app",
        "aud": "graphql_app",
        "jti": "x",
        "typ": "access",
    }
    return jwt.encode(claims, key, algorithm="HS256")


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": ""}, {"authorization": "Bearer "}],
    ids=["no-header", "empty", "bearer-without-token"],
)
async def test_no_token_is_token_missing(gql: GraphQLClient, headers: dict[str, str]) -> None:
    assert reasons(await gql(ME, headers=headers)) == unauthenticated(AuthReason.TOKEN_MISSING)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not.a.jwt",
        "Basic dXNlcjpwYXNz",
        f"Bearer {access_token('u', key='another-secret-key-that-is-long-enough!!')}",
    ],
    ids=["garbage", "not-bearer", "forged"],
)
async def test_a_bad_token_is_token_invalid(gql: GraphQLClient, authorization: str) -> None:
    result = await gql(ME, headers={"authorization": authorization})
    assert reasons(result) == unauthenticated(AuthReason.TOKEN_INVALID)


async def test_an_expired_token_is_token_expired_and_refreshing_fixes_it(
    gql: GraphQLClient, clock: Clock
) -> None:
    account = await sign_up(gql, "expiring@example.com")
    clock.travel(seconds=901)  # past ACCESS_TOKEN_TTL
    expired = await gql(ME, token=account.token)
    assert reasons(expired) == unauthenticated(AuthReason.TOKEN_EXPIRED)
    # What an error link does on TOKEN_EXPIRED: refresh, retry.
    fresh = (await gql(REFRESH, {"t": account.refresh_token})).ok()["refreshToken"]
    assert (await gql(ME, token=fresh["token"])).ok() == {"me": {"id": account.id}}


async def test_a_forged_expired_token_is_invalid_not_expired(gql: GraphQLClient) -> None:
    """Only a genuine token may ask for a refresh: the signature is checked first."""
    forged = access_token("u", exp_in=-10, key="another-secret-key-that-is-long-enough!!")
    assert reasons(await gql(ME, token=forged)) == unauthenticated(AuthReason.TOKEN_INVALID)


async def test_wrong_credentials_are_invalid_credentials(gql: GraphQLClient) -> None:
    await sign_up(gql, "creds@example.com")
    for email, password in [("creds@example.com", "wrong password!"), ("no@example.com", PASSWORD)]:
        result = await gql(LOG_IN, {"input": {"email": email, "password": password}})
        assert reasons(result) == unauthenticated(AuthReason.INVALID_CREDENTIALS)


async def test_unknown_refresh_token_is_refresh_token_invalid(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "refresh@example.com")
    for token in ["never-issued", account.token]:
        result = await gql(REFRESH, {"t": token})
        assert reasons(result) == unauthenticated(AuthReason.REFRESH_TOKEN_INVALID)


async def test_a_reused_refresh_token_is_refresh_token_reused(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "reused@example.com")
    rotated = (await gql(REFRESH, {"t": account.refresh_token})).ok()["refreshToken"]
    reuse = await gql(REFRESH, {"t": account.refresh_token})
    assert reasons(reuse) == unauthenticated(AuthReason.REFRESH_TOKEN_REUSED)
    # The family is revoked: its newest token is now merely invalid.
    after = await gql(REFRESH, {"t": rotated["refreshToken"]})
    assert reasons(after) == unauthenticated(AuthReason.REFRESH_TOKEN_INVALID)


async def test_a_deleted_accounts_token_is_token_revoked(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "deleted@example.com")
    assert (await gql(DELETE_ACCOUNT, {"p": PASSWORD}, token=account.token)).ok()
    assert reasons(await gql(ME, token=account.token)) == unauthenticated(AuthReason.TOKEN_REVOKED)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, AuthReason.TOKEN_MISSING),
        ("not.a.jwt", AuthReason.TOKEN_INVALID),
        ("expired", AuthReason.TOKEN_EXPIRED),
    ],
    ids=["missing", "invalid", "expired"],
)
async def test_connection_init_refusals_carry_the_reason(
    server: LiveServer, protocol: str, token: str | None, reason: AuthReason
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        account = await sign_up(GraphQLClient(http), f"ws-{protocol}-{reason}@example.com")
    if token == "expired":
        token = access_token(account.id, exp_in=-10)
    ws = await connect(
        server.ws_url, {"Authorization": f"Bearer {token}"} if token else {}, protocol
    )
    try:
        if protocol == LEGACY_WS:
            refusal = await ws.receive()
            assert refusal["type"] == "connection_error", refusal
            assert refusal["payload"]["extensions"] == {
                "code": "UNAUTHENTICATED",
                "reason": reason.value,
            }
            await ws.closed()
        else:
            # graphql-transport-ws has no refusal message: 4403, the reason as close reason.
            assert await ws.closed() == (4403, reason.value)
    finally:
        await ws.close()


EVENTS = "subscription { todoEvents { kind todoId } }"


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_revoked_token_ends_its_subscription_and_connection(
    server: LiveServer, protocol: str
) -> None:
    """A revocation ends the subscriptions resting on the token at once; nor does the
    connection (authorised once, by that token) run anything more."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, f"ws-revoked-{protocol}@example.com")
        ws = await authenticated(server.ws_url, ada.token, protocol)
        try:
            op_id = await ws.subscribe(EVENTS)
            await until_live(ws, lambda: probe(gql, ada.token))
            assert (await gql("mutation { logOutEverywhere }", token=ada.token)).ok()
            # Ended at once, with no event to wake it.
            ended = await ws.operation_message()
            assert (ended.kind, ended.id) == ("next", op_id), ended
            assert [e["extensions"] for e in ended.payload["errors"]] == [
                {"code": "UNAUTHENTICATED", "reason": "TOKEN_REVOKED"}
            ]
            assert ended.payload.get("data") is None
            assert (await ws.operation_message()).kind == "complete"
            log_in = {"input": {"email": ada.email, "password": PASSWORD}}
            fresh = (await gql(LOG_IN, log_in)).ok()["logIn"]["token"]
            await probe(gql, fresh)  # an event the ended subscription must not deliver
            again = await ws.subscribe(EVENTS)
            refused = await ws.operation_message()
            assert refused.id == again and refused.kind in ("error", "next"), refused
            errors = refused.payload if refused.kind == "error" else refused.payload["errors"]
            errors = errors if isinstance(errors, list) else [errors]
            assert [e["extensions"]["reason"] for e in errors] == ["TOKEN_REVOKED"]
        finally:
            await ws.close()


async def probe(gql: GraphQLClient, token: str) -> str:
    result = await gql('mutation { createTodo(input: {name: "probe"}) { id } }', token=token)
    return str(result.ok()["createTodo"]["id"])
