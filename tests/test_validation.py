"""Every input rule of PRODUCT.md §4: BAD_USER_INPUT naming the argument, nothing written."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from graphql_app.storage import Storage
from tests.support.graphql_client import (
    PASSWORD,
    SIGN_UP,
    TODOS_PAGE,
    GraphQLClient,
    create_todo,
    sign_up,
)

GOOD_USER = {"email": "new@example.com", "fullname": "New User", "password": PASSWORD}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "input.email"),
        ({"email": "two@@example.com"}, "input.email"),
        ({"email": "   "}, "input.email"),
        (
            {"email": "a" * 64 + "@" + "b" * 63 + "." + "c" * 61 + "." + "d" * 60 + ".com"},
            "input.email",
        ),
        ({"fullname": ""}, "input.fullname"),
        ({"fullname": "    "}, "input.fullname"),
        ({"fullname": "x" * 301}, "input.fullname"),
        ({"password": "1234567"}, "input.password"),  # 7 bytes
        ({"password": "x" * 73}, "input.password"),  # 73 bytes: over bcrypt's limit
        ({"password": "é" * 37}, "input.password"),  # 37 characters, 74 bytes of UTF-8
        ({"email": "a\u0000b@example.com"}, "input.email"),  # JSON carries NUL
        ({"fullname": "Ada\u0000"}, "input.fullname"),
    ],
)
async def test_sign_up_rules(gql: GraphQLClient, change: dict[str, str], field: str) -> None:
    """The argument is named with a message (its text is not the contract, its presence is).

    Mutants graphql_app.validation.x_clean_email__mutmut_6 and 11, x_clean_text__mutmut_5
    and 15 (the message of a NUL or of a value over the limit lost: `null`)."""
    result = await gql(SIGN_UP, {"input": {**GOOD_USER, **change}})
    assert result.status == 200
    assert result.codes == ["BAD_USER_INPUT"] and result.data is None
    fields = result.errors[0]["extensions"]["fields"]
    assert list(fields) == [field]
    assert isinstance(fields[field], str) and fields[field].strip()
    # Nothing was written: the same email signs up fine afterwards.
    email = change.get("email", GOOD_USER["email"])
    if field != "input.email":
        assert (await sign_up(gql, email)).email == email


@pytest.mark.parametrize(
    "change",
    [
        {"password": "12345678"},  # exactly 8
        {"password": "x" * 72},  # exactly 72 bytes
        {"password": "é" * 36},  # 72 bytes of UTF-8
        {"fullname": "x" * 300},
        {"email": "a" * 64 + "@" + "b" * 63 + "." + "c" * 60 + "." + "d" * 60 + ".com"},  # 254
    ],
)
async def test_sign_up_limits_are_inclusive(gql: GraphQLClient, change: dict[str, str]) -> None:
    assert (await gql(SIGN_UP, {"input": {**GOOD_USER, **change}})).ok()


async def test_email_is_checked_for_syntax_only(gql: GraphQLClient) -> None:
    """No DNS look-up and no domain refused for what it is: the `.test` names that
    RFC 6761 reserves for testing sign up like any other.

    Mutants graphql_app.validation.x_clean_email__mutmut_16, 19 and 21 (email_validator's
    test_environment off: `.test` domains refused as special-use)."""
    for email in ("ada@mail.test", "bob@test"):
        assert (await sign_up(gql, email)).email == email


async def test_all_bad_fields_are_reported_together(gql: GraphQLClient) -> None:
    result = await gql(SIGN_UP, {"input": {"email": "x", "fullname": "", "password": "short"}})
    assert set(result.errors[0]["extensions"]["fields"]) == {
        "input.email",
        "input.fullname",
        "input.password",
    }
    # Each names its problem (the text is not part of the contract, its presence is).
    # Mutants graphql_app.validation.xǁProblemsǁadd__mutmut_2 and 4 (the message lost).
    for message in result.errors[0]["extensions"]["fields"].values():
        assert isinstance(message, str) and message.strip()


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (
            "mutation C($n: String!) { createTodo(input: {name: $n}) { id } }",
            {"n": ""},
            "input.name",
        ),
        (
            "mutation C($n: String!) { createTodo(input: {name: $n}) { id } }",
            {"n": "  "},
            "input.name",
        ),
        (
            "mutation C($n: String!) { createTodo(input: {name: $n}) { id } }",
            {"n": "x" * 1001},
            "input.name",
        ),
    ],
)
async def test_todo_name_rules_on_create(
    gql: GraphQLClient, storage: Storage, query: str, variables: dict[str, Any], field: str
) -> None:
    ada = await sign_up(gql, "todo-rules@example.com")
    result = await gql(query, variables, token=ada.token)
    assert result.codes == ["BAD_USER_INPUT"] and result.data is None
    assert list(result.errors[0]["extensions"]["fields"]) == [field]
    page = (await gql(TODOS_PAGE, {"first": 5}, token=ada.token)).ok()["todos"]
    assert page["totalCount"] == 0


@pytest.mark.parametrize("name", ["", "   ", "y" * 1001])
async def test_todo_name_rules_on_update_leave_the_todo_unchanged(
    gql: GraphQLClient, name: str
) -> None:
    ada = await sign_up(gql, "update-rules@example.com")
    todo = await create_todo(gql, ada.token, "keep me")
    result = await gql(
        "mutation U($id: ID!, $n: String) "
        "{ updateTodo(id: $id, input: {name: $n, isCompleted: true}) { id } }",
        {"id": todo["id"], "n": name},
        token=ada.token,
    )
    assert result.codes == ["BAD_USER_INPUT"]
    assert list(result.errors[0]["extensions"]["fields"]) == ["input.name"]
    after = (
        await gql(
            "query T($id: ID!) { todo(id: $id) { name isCompleted updatedAt } }",
            {"id": todo["id"]},
            token=ada.token,
        )
    ).ok()["todo"]
    assert after == {"name": "keep me", "isCompleted": False, "updatedAt": todo["updatedAt"]}


async def test_todo_name_limit_is_inclusive(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "long-name@example.com")
    assert len((await create_todo(gql, ada.token, "z" * 1000))["name"]) == 1000


async def test_graphql_type_errors_are_validation_errors_not_500(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "types@example.com")
    result = await gql('{ todos(first: "many") { totalCount } }', token=ada.token)
    assert result.status in (200, 400)
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]
    syntax = await gql("{ todos(first: ", token=ada.token)
    assert syntax.codes == ["GRAPHQL_PARSE_FAILED"]


def refused(result: Any, *codes: str) -> bool:
    """Refused cleanly: the given codes, or the JSON itself rejected (400 BAD_REQUEST)."""
    return result.codes in ([c] for c in codes) or (
        result.status == 400 and result.codes == ["BAD_REQUEST"]
    )


@pytest.mark.also_on_backends("postgres")
@pytest.mark.parametrize("bad", ["nul\u0000inside", "lone \ud800 surrogate"])
async def test_text_no_backend_can_store_is_refused_not_a_500(gql: GraphQLClient, bad: str) -> None:
    """JSON can carry NUL and lone surrogates; PostgreSQL and SQLite cannot store them.

    A strict JSON parser may refuse the surrogate before GraphQL sees it; either
    way the answer is a clear client error and nothing is written. Always run on
    PostgreSQL too: SQLite stores NUL, so only PostgreSQL shows a missing check
    (mutant graphql_app.services.users.xǁAccountServiceǁlog_in__mutmut_11: logIn
    looks a NUL email up, a 500 there).
    """
    for field in ("fullname", "email", "password"):
        value = f"a{bad}@example.com" if field == "email" else bad + "xxxxxxxx"
        result = await gql(SIGN_UP, {"input": {**GOOD_USER, field: value}})
        if field == "password" and "\x00" in bad:
            continue  # bcrypt takes NUL bytes: a valid, if odd, password
        assert refused(result, "BAD_USER_INPUT"), (field, result.body)
    ada = await sign_up(gql, "text@example.com")
    created = await gql(
        "mutation C($n: String!) { createTodo(input: {name: $n}) { id } }",
        {"n": bad},
        token=ada.token,
    )
    assert refused(created, "BAD_USER_INPUT")
    assert (await gql(TODOS_PAGE, {"first": 5}, token=ada.token)).ok()["todos"]["totalCount"] == 0
    # Ids no backend can store name nothing: the services answer without asking storage.
    for query in (
        "query T($id: ID!) { todo(id: $id) { id } }",
        "query N($id: ID!) { node(id: $id) { id } }",
        "mutation D($id: ID!) { deleteTodo(id: $id) { id } }",
        'mutation U($id: ID!) { updateTodo(id: $id, input: {name: "n"}) { id } }',
    ):
        result = await gql(query, {"id": bad}, token=ada.token)
        missing = result.data in ({"todo": None}, {"node": None})
        assert missing or refused(result, "NOT_FOUND"), result.body
    # A cursor's position is no id: with NUL it is a place in the order all the same
    # (PostgreSQL compares text that sorts alike); a lone surrogate is no cursor of ours.
    kept = await create_todo(gql, ada.token, "kept")
    raw = f"p1:{10**17}:{bad}".encode("utf-8", "surrogatepass")  # a position in year 5138
    after = base64.urlsafe_b64encode(raw).decode()
    paged = await gql(TODOS_PAGE, {"first": 5, "after": after}, token=ada.token)
    if "\x00" in bad:
        assert [edge["node"]["id"] for edge in paged.ok()["todos"]["edges"]] == [kept["id"]]
    else:
        assert paged.codes == ["BAD_USER_INPUT"], paged.body
    log_in = await gql(
        "mutation L($i: LogInInput!) { logIn(input: $i) { token } }",
        {"i": {"email": bad, "password": bad}},
    )
    assert refused(log_in, "UNAUTHENTICATED")
    refresh = await gql(
        "mutation R($t: String!) { refreshToken(refreshToken: $t) { token } }", {"t": bad}
    )
    assert refused(refresh, "UNAUTHENTICATED")
    log_out = await gql("mutation L($t: String!) { logOut(refreshToken: $t) }", {"t": bad})
    assert log_out.data == {"logOut": False} or refused(log_out)
