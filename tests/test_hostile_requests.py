"""Requests a hostile client sends are client errors with a code, never a 500.

A cursor naming an instant past year 9999, an integer literal of 5,000
digits, a document of several operations without `operationName`, a batch
while batching is off (the default).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from graphql_app.app import create_app
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.clock import Clock
from tests.support.graphql_client import TODOS_PAGE, GraphQLClient, create_todo, sign_up

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        cursor("p1:999999999999999999:abc"),  # year ~33,000: OverflowError before the fix
        cursor("p1:-5:abc"),
        cursor("p1:" + "9" * 5000 + ":abc"),
        cursor("p1:1:"),
        cursor("p2:1:abc"),
        "%%%",
        "",
        "\x00",
        "a" * 10_000,
    ],
)
async def test_any_cursor_content_is_bad_user_input_on_after(
    gql: GraphQLClient, after: str
) -> None:
    ada = await sign_up(gql, "ada@example.com")
    await create_todo(gql, ada.token, "one")
    result = await gql(TODOS_PAGE, {"first": 5, "after": after}, token=ada.token)
    assert result.status == 200
    assert result.data is None
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["fields"] == {"after": "Invalid cursor"}
    assert "requestId" not in result.errors[0]["extensions"]


async def test_a_cursor_literal_past_year_9999_is_bad_user_input(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada@example.com")
    after = cursor("p1:999999999999999999:abc")
    result = await gql(f'{{ todos(after: "{after}") {{ totalCount }} }}', token=ada.token)
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["fields"] == {"after": "Invalid cursor"}


@pytest.mark.parametrize(
    "literal",
    ["9" * 5000, "-" + "9" * 5000, "9" * 4301, "1" + "0" * 99_000, "1e999", "99999999999"],
)
@pytest.mark.parametrize(("accept", "status"), [(GRAPHQL_RESPONSE, 400), (JSON, 200)])
async def test_any_integer_literal_is_a_validation_error(
    http: httpx.AsyncClient, literal: str, accept: str, status: int
) -> None:
    response = await http.post(
        "/graphql",
        json={"query": f"{{ todos(first: {literal}) {{ totalCount }} }}"},
        headers={"accept": accept},
    )
    assert response.status_code == status
    body = response.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert error["message"].startswith(("Expected value of type 'Int'", "Int cannot represent"))
    assert len(error["message"]) <= 200  # the literal is not echoed whole
    assert "sys.set_int_max_str_digits" not in error["message"]


@pytest.mark.parametrize(
    ("literal", "column"),
    [
        ('"' + "x" * 155 + '"', 24),  # DateTime: "Invalid isoformat string: ...", 200 chars
        ('"' + "x" * 156 + '"', 24),  # 201 characters: cut
        ("9" * 5000, 19),  # Int: "Exceeds the limit (4300 digits) ..."
    ],
    ids=["200 characters", "201 characters", "5000 digits"],
)
async def test_a_literal_the_scalar_cannot_read_keeps_its_location_and_is_cut_at_200(
    http: httpx.AsyncClient, literal: str, column: int
) -> None:
    """The scalar raised a Python exception on the literal: the error says what any
    refused literal says (the exception's text left out), points at the literal, is
    coded, and is at most 200 characters, a longer one cut to 199 and "…".
    Mutants graphql_app.schema.limits.x__without_original__mutmut_18 and
    x__without_original__mutmut_21 (no locations), x__without_original__mutmut_11 (a
    message of exactly 200 cut), x__without_original__mutmut_15 (cut to 199),
    x__without_original__mutmut_9 and x__without_original__mutmut_10 (the message's
    words changed where the exception's text was)."""
    type_ = "DateTime" if literal.startswith('"') else "Int"
    response = await http.post(
        "/graphql", json={"query": f"query Q($v: {type_} = {literal}) {{ __typename }}"}
    )
    assert response.status_code == 200
    errors = response.json()["errors"]
    [error] = [e for e in errors if e["message"].startswith("Expected value of type")]
    whole = f"Expected value of type '{type_}', found: {literal}."
    assert error["message"] == (whole if len(whole) <= 200 else whole[:199] + "…")
    assert len(error["message"]) == 200
    assert error["locations"] == [{"line": 1, "column": column}]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize(
    ("number", "code"),
    # Past 64 bits the JSON itself is refused (orjson), else graphql-core's Int says no.
    [(2**40, "BAD_USER_INPUT"), (10**4000, "BAD_REQUEST")],
    ids=["41 bits", "4001 digits"],
)
async def test_the_same_number_as_a_variable_is_a_client_error(
    gql: GraphQLClient, number: int, code: str
) -> None:
    ada = await sign_up(gql, "ada@example.com")
    result = await gql(TODOS_PAGE, {"first": number}, token=ada.token)
    assert result.status in (200, 400)
    assert result.data is None
    assert result.codes == [code]


TWO_OPERATIONS = "query A { a: __typename } query B { b: __typename }"


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_several_operations_without_operation_name_is_a_request_error(
    http: httpx.AsyncClient, accept: str
) -> None:
    response = await http.post(
        "/graphql", json={"query": TWO_OPERATIONS}, headers={"accept": accept}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == accept
    assert response.json() == {
        "errors": [
            {
                "message": "Must provide operation name if query contains multiple operations.",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }


async def test_several_operations_over_get_without_operation_name(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get(
        "/graphql",
        params={"query": "query A { __typename } mutation B { clearCompletedTodos }"},
        headers={"accept": GRAPHQL_RESPONSE, "apollo-require-preflight": "1"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


@pytest.mark.parametrize(("name", "data"), [("A", {"a": "Query"}), ("B", {"b": "Query"})])
async def test_operation_name_picks_the_operation(
    http: httpx.AsyncClient, name: str, data: dict[str, Any]
) -> None:
    response = await http.post("/graphql", json={"query": TWO_OPERATIONS, "operationName": name})
    assert response.json() == {"data": data}


async def test_batching_is_off_by_default(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "Batching is not enabled: send one operation per request",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }


async def test_batch_requests_on_turns_batching_on_within_max_batch_size(
    settings: Settings, storage: Storage, clock: Clock
) -> None:
    app = create_app(
        settings.model_copy(update={"batch_requests": True, "max_batch_size": 3}),
        clock=clock,
        storage=storage,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        ok = await http.post("/graphql", json=[{"query": "{ __typename }"}] * 3)
        assert ok.json() == [{"data": {"__typename": "Query"}}] * 3
        over = await http.post("/graphql", json=[{"query": "{ __typename }"}] * 4)
        assert over.status_code == 400
        assert over.json()["errors"][0]["message"] == (
            "A batch may hold at most 3 operations; this one holds 4"
        )


def test_strawberry_still_keeps_the_operation_name_it_was_given() -> None:
    # schema/limits.py reads this private attribute (Strawberry's public one falls
    # back to the first operation's name); were it gone, every document of several
    # operations would be refused.
    from strawberry.types import ExecutionContext

    from graphql_app.schema import build_schema

    context = ExecutionContext(
        query="query A { __typename }",
        schema=build_schema(),
        allowed_operations=(),
        provided_operation_name="A",
    )
    assert context._provided_operation_name == "A"
