"""Sign-up, log-in, refresh rotation and revocation, through HTTP (PRODUCT.md §4)."""

from __future__ import annotations

import base64
import json

from tests.support.clock import Clock
from tests.support.graphql_client import LOG_IN, PASSWORD, SIGN_UP, GraphQLClient, sign_up

ME = "{ me { id email fullname } }"
REFRESH = """
mutation R($t: String!) {
  refreshToken(refreshToken: $t) { token refreshToken expiresAt user { id } }
}
"""
LOG_OUT = "mutation L($t: String!) { logOut(refreshToken: $t) }"
CHANGE_PASSWORD = """
mutation C($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new)
}
"""
DELETE_ACCOUNT = "mutation D($p: String!) { deleteAccount(password: $p) }"


def jwt_claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def log_in(gql: GraphQLClient, email: str, password: str = PASSWORD) -> dict[str, object]:
    result = await gql(LOG_IN, {"input": {"email": email, "password": password}})
    return dict(result.ok()["logIn"])


async def test_sign_up_logs_the_new_user_in(gql: GraphQLClient) -> None:
    result = await gql(
        SIGN_UP,
        {
            "input": {
                "email": "  Ada@Example.COM ",
                "fullname": "  Ada Lovelace ",
                "password": PASSWORD,
            }
        },
    )
    payload = result.ok()["createUser"]
    assert payload["user"]["email"] == "ada@example.com"
    assert payload["user"]["fullname"] == "Ada Lovelace"
    assert payload["expiresAt"].endswith("+00:00")
    me = (await gql(ME, token=payload["token"])).ok()["me"]
    assert me == {
        "id": payload["user"]["id"],
        "email": "ada@example.com",
        "fullname": "Ada Lovelace",
    }


async def test_log_in_normalises_the_email_and_returns_working_tokens(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "grace@example.com")
    payload = await log_in(gql, "  GRACE@example.com ")
    assert payload["user"] == {"id": account.id, "email": "grace@example.com"}
    assert (await gql(ME, token=str(payload["token"]))).ok()["me"]["id"] == account.id


async def test_access_token_carries_only_the_claims_it_needs(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "claims@example.com")
    header = json.loads(base64.urlsafe_b64decode(account.token.split(".")[0] + "=="))
    claims = jwt_claims(account.token)
    assert header["alg"] == "HS256"
    assert set(claims) == {"sub", "iat", "exp", "iss", "aud", "jti", "typ"}
    assert claims["sub"] == account.id and claims["typ"] == "access"
    text = json.dumps(claims)
    assert "claims@example.com" not in text and "Test User" not in text and "$2b$" not in text


async def test_unknown_email_and_wrong_password_answer_identically(gql: GraphQLClient) -> None:
    await sign_up(gql, "known@example.com")
    answers = []
    for email, password in [
        ("known@example.com", "wrong password"),
        ("unknown@example.com", PASSWORD),
        ("known@example.com", "short"),  # under the length rule
        ("known@example.com", "x" * 73),  # over bcrypt's 72 bytes
    ]:
        result = await gql(LOG_IN, {"input": {"email": email, "password": password}})
        assert result.status == 200
        answers.append((result.data, [(e["message"], e["extensions"]) for e in result.errors]))
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0][1] == [
        ("Invalid email or password", {"code": "UNAUTHENTICATED", "reason": "INVALID_CREDENTIALS"})
    ]


async def test_refresh_token_works_once_and_rotates(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "rotate@example.com")
    first = (await gql(REFRESH, {"t": account.refresh_token})).ok()["refreshToken"]
    assert first["user"]["id"] == account.id
    assert first["refreshToken"] != account.refresh_token
    assert (await gql(ME, token=first["token"])).ok()["me"]["id"] == account.id
    second = (await gql(REFRESH, {"t": first["refreshToken"]})).ok()["refreshToken"]
    assert second["refreshToken"] not in (first["refreshToken"], account.refresh_token)


async def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "reuse@example.com")
    other_device = await log_in(gql, "reuse@example.com")
    rotated = (await gql(REFRESH, {"t": account.refresh_token})).ok()["refreshToken"]
    reuse = await gql(REFRESH, {"t": account.refresh_token})
    assert reuse.codes == ["UNAUTHENTICATED"] and reuse.data is None
    # The thief's successor dies with the family...
    assert (await gql(REFRESH, {"t": rotated["refreshToken"]})).codes == ["UNAUTHENTICATED"]
    # ...while another login's family lives on.
    assert (await gql(REFRESH, {"t": other_device["refreshToken"]})).ok()


async def test_unknown_and_expired_refresh_tokens_are_refused(
    gql: GraphQLClient, clock: Clock
) -> None:
    account = await sign_up(gql, "expire@example.com")
    assert (await gql(REFRESH, {"t": "not-a-token"})).codes == ["UNAUTHENTICATED"]
    clock.travel(days=31)  # REFRESH_TOKEN_TTL is 30 days
    assert (await gql(REFRESH, {"t": account.refresh_token})).codes == ["UNAUTHENTICATED"]


async def test_log_out_revokes_one_refresh_token(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "logout@example.com")
    other = await log_in(gql, "logout@example.com")
    assert (await gql(LOG_OUT, {"t": account.refresh_token})).ok() == {"logOut": True}
    assert (await gql(LOG_OUT, {"t": account.refresh_token})).ok() == {"logOut": False}
    assert (await gql(REFRESH, {"t": account.refresh_token})).codes == ["UNAUTHENTICATED"]
    assert (await gql(REFRESH, {"t": other["refreshToken"]})).ok()


async def test_change_password_revokes_every_refresh_token(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "change@example.com")
    other = await log_in(gql, "change@example.com")
    new = "a brand new password"
    wrong = await gql(
        CHANGE_PASSWORD, {"current": "not it at all", "new": new}, token=account.token
    )
    assert wrong.codes == ["BAD_USER_INPUT"]
    assert wrong.errors[0]["extensions"]["fields"] == {"currentPassword": "Password is incorrect"}
    changed = await gql(CHANGE_PASSWORD, {"current": PASSWORD, "new": new}, token=account.token)
    assert changed.ok() == {"changePassword": True}
    for token in (account.refresh_token, other["refreshToken"]):
        assert (await gql(REFRESH, {"t": token})).codes == ["UNAUTHENTICATED"]
    assert (await gql(LOG_IN, {"input": {"email": account.email, "password": PASSWORD}})).codes == [
        "UNAUTHENTICATED"
    ]
    assert await log_in(gql, account.email, new)


async def test_change_password_needs_a_token_and_a_valid_new_password(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "rules@example.com")
    anonymous = await gql(CHANGE_PASSWORD, {"current": PASSWORD, "new": "long enough pw"})
    assert anonymous.codes == ["UNAUTHENTICATED"]
    short = await gql(CHANGE_PASSWORD, {"current": PASSWORD, "new": "short"}, token=account.token)
    assert short.codes == ["BAD_USER_INPUT"]
    assert list(short.errors[0]["extensions"]["fields"]) == ["newPassword"]
    assert await log_in(gql, account.email)  # unchanged


async def test_delete_account_removes_the_user_todos_and_tokens(gql: GraphQLClient) -> None:
    account = await sign_up(gql, "gone@example.com")
    await gql('mutation { createTodo(input: {name: "x"}) { id } }', token=account.token)
    wrong = await gql(DELETE_ACCOUNT, {"p": "not the password"}, token=account.token)
    assert wrong.codes == ["BAD_USER_INPUT"]
    assert wrong.errors[0]["extensions"]["fields"] == {"password": "Password is incorrect"}
    assert (await gql(DELETE_ACCOUNT, {"p": PASSWORD}, token=account.token)).ok() == {
        "deleteAccount": True
    }
    assert (await gql(REFRESH, {"t": account.refresh_token})).codes == ["UNAUTHENTICATED"]
    assert (await gql(ME, token=account.token)).codes == ["UNAUTHENTICATED"]
    create = await gql('mutation { createTodo(input: {name: "y"}) { id } }', token=account.token)
    assert create.codes == ["UNAUTHENTICATED"]
    # The email is free again.
    assert (await sign_up(gql, "gone@example.com")).id != account.id


async def test_duplicate_email_is_a_conflict_whatever_the_case(gql: GraphQLClient) -> None:
    await sign_up(gql, "dup@example.com")
    again = await gql(
        SIGN_UP, {"input": {"email": "DUP@example.com", "fullname": "X", "password": PASSWORD}}
    )
    assert again.codes == ["CONFLICT"] and again.data is None


async def test_the_payload_user_shows_its_todos_before_any_access_token(gql: GraphQLClient) -> None:
    """createUser/logIn run without a token; their `user` is the account just proven."""
    signed_up = await gql(
        SIGN_UP.replace("user { id email fullname createdAt }", "user { todos { totalCount } }"),
        {"input": {"email": "fresh@example.com", "fullname": "F", "password": PASSWORD}},
    )
    assert signed_up.ok()["createUser"]["user"] == {"todos": {"totalCount": 0}}
    token = signed_up.ok()["createUser"]["token"]
    await gql('mutation { createTodo(input: {name: "one"}) { id } }', token=token)
    logged_in = await gql(
        "mutation L($i: LogInInput!) { logIn(input: $i) { user { todos { totalCount } } } }",
        {"i": {"email": "fresh@example.com", "password": PASSWORD}},
    )
    assert logged_in.ok()["logIn"]["user"] == {"todos": {"totalCount": 1}}
