"""Access tokens that must not authenticate (PRODUCT.md §4)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from graphql_app.security.tokens import VERIFIED_TOKENS, TokenService
from tests.support.clock import Clock
from tests.support.environment import TEST_SECRET
from tests.support.graphql_client import GraphQLClient, sign_up

ME = "{ me { id } }"


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def claims_for(user_id: str, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": user_id,
        "iat": now,
        "exp": now + 600,
        "iss": "graphql_app",
        "aud": "graphql_app",
        "jti": "x",
        "typ": "access",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def test_a_well_formed_token_of_our_own_making_works(gql: GraphQLClient) -> None:
    """The control for the cases below: the same recipe with the right key succeeds."""
    account = await sign_up(gql, "control@example.com")
    token = jwt.encode(claims_for(account.id), TEST_SECRET, algorithm="HS256")
    assert (await gql(ME, token=token)).ok() == {"me": {"id": account.id}}


async def test_bearer_and_its_token_may_be_apart_by_several_spaces(gql: GraphQLClient) -> None:
    """RFC 6750: `Bearer 1*SP token`. Mutant graphql_app.schema.context
    xǁContextǁauthenticate__mutmut_4 (the scheme read up to the last space)."""
    account = await sign_up(gql, "spaces@example.com")
    result = await gql(ME, headers={"authorization": f"Bearer   {account.token}"})
    assert result.ok() == {"me": {"id": account.id}}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not.a.jwt",
        "Bearer abc",
        "Token abc.def.ghi",
    ],
)
async def test_missing_or_malformed_authorization_is_unauthenticated(
    gql: GraphQLClient, header: str | None
) -> None:
    headers = {} if header is None else {"authorization": header}
    result = await gql(ME, headers=headers)
    assert result.status == 200
    assert result.codes == ["UNAUTHENTICATED"] and result.data is None


async def test_wrongly_signed_token_is_unauthenticated(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "forged@example.com")
    forged = jwt.encode(claims_for(account.id), "another-secret-key-that-is-long-enough!!", "HS256")
    assert (await gql(ME, token=forged)).codes == ["UNAUTHENTICATED"]
    header, _, signature = account.token.split(".")
    tampered_payload = b64(claims_for("someone-else"))
    assert (await gql(ME, token=f"{header}.{tampered_payload}.{signature}")).codes == [
        "UNAUTHENTICATED"
    ]


async def test_alg_none_is_unauthenticated(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "none@example.com")
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_for(account.id))}."
    assert (await gql(ME, token=unsigned)).codes == ["UNAUTHENTICATED"]


async def test_other_algorithms_with_our_key_are_refused(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "hs512@example.com")
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):
        token = jwt.encode(claims_for(account.id), TEST_SECRET, algorithm="HS512")
    assert (await gql(ME, token=token)).codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "override",
    [
        {"exp": None},
        {"iat": None},
        {"sub": None},
        {"iss": None},
        {"aud": None},
        {"iss": "someone-else"},
        {"aud": "another-api"},
        {"typ": "refresh"},
        {"sub": ""},
    ],
)
async def test_tokens_missing_or_with_wrong_claims_are_refused(
    gql: GraphQLClient, override: dict[str, object]
) -> None:
    account = await sign_up(gql, "claims@example.com")
    token = jwt.encode(claims_for(account.id, **override), TEST_SECRET, algorithm="HS256")
    assert (await gql(ME, token=token)).codes == ["UNAUTHENTICATED"]


async def test_expired_token_is_unauthenticated(gql: GraphQLClient, clock: Clock) -> None:
    account = await sign_up(gql, "expired@example.com")
    assert (await gql(ME, token=account.token)).ok()
    clock.travel(seconds=899)
    assert (await gql(ME, token=account.token)).ok()
    clock.travel(seconds=2)  # past ACCESS_TOKEN_TTL (900 s)
    assert (await gql(ME, token=account.token)).codes == ["UNAUTHENTICATED"]


async def test_expires_at_matches_the_token(gql: GraphQLClient) -> None:
    await sign_up(gql, "exp@example.com")
    result = await gql(
        'mutation { logIn(input: {email: "exp@example.com", password: "correct horse battery"}) '
        "{ token expiresAt } }"
    )
    payload = result.ok()["logIn"]
    claims = json.loads(base64.urlsafe_b64decode(payload["token"].split(".")[1] + "=="))
    expires_at = datetime.fromisoformat(payload["expiresAt"])
    assert expires_at == datetime.fromtimestamp(claims["exp"], UTC)
    assert timedelta(seconds=890) < expires_at - datetime.fromtimestamp(claims["iat"], UTC)


async def test_public_operations_work_with_a_bad_token(gql: GraphQLClient) -> None:
    result = await gql(
        'mutation { createUser(input: {email: "pub@example.com", fullname: "P", '
        'password: "long enough pw"}) { user { email } } }',
        token="garbage",
    )
    assert result.ok() == {"createUser": {"user": {"email": "pub@example.com"}}}


def test_the_verified_token_cache_stays_bounded() -> None:
    """A client sending a new token per request (or an attacker minting them) cannot grow
    the per-process cache of verified tokens past VERIFIED_TOKENS.

    Mutant graphql_app.security.tokens.xǁTokenServiceǁ__init____mutmut_10
    (`lru_cache(maxsize=None)`: every token ever verified kept for the process's life).
    """
    service = TokenService(TEST_SECRET, "graphql_app", "graphql_app", 900, 86_400)
    now = datetime.now(UTC)
    for n in range(VERIFIED_TOKENS + 50):
        token, _ = service.issue_access(f"user-{n}", now)
        assert service.decode_access(token, now).user_id == f"user-{n}"
    assert service._verify_cached.cache_info().currsize == VERIFIED_TOKENS
