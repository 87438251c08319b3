"""GraphQL over HTTP: media types, status codes, GET, batching, parameters, CORS.

The full graphql-http audit suite runs against a real server in
test_graphql_http_audit.py; these are the cases users notice, in process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphql_app.app import create_app
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import sqlite_backend
from tests.support.clock import Clock
from tests.support.graphql_client import sign_up

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
PREFLIGHTED = {"apollo-require-preflight": "true"}


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with sqlite_backend(tmp_path) as store:
        yield store


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Batches are sent here; batching is off unless BATCH_REQUESTS turns it on.
    return settings.model_copy(update={"batch_requests": True})


async def post(http: httpx.AsyncClient, body: Any, accept: str | None = None) -> httpx.Response:
    headers = {"accept": accept} if accept else {}
    return await http.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, JSON),
        ("*/*", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        # Apollo Client's Accept header.
        (f"{GRAPHQL_RESPONSE},{JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON),
    ],
)
async def test_response_media_type_follows_accept(
    http: httpx.AsyncClient, accept: str | None, media_type: str
) -> None:
    response = await post(http, {"query": "{ __typename }"}, accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_unacceptable_accept_is_406(http: httpx.AsyncClient) -> None:
    response = await post(http, {"query": "{ __typename }"}, "text/csv")
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{", None, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", None, "GRAPHQL_VALIDATION_FAILED"),
        (
            "query Q($first: Int!) { todos(first: $first) { totalCount } }",
            {"first": "x"},
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_request_errors_are_400_with_graphql_response_json_and_200_with_json(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, code: str
) -> None:
    body = {"query": query, "variables": variables}
    strict = await post(http, body, GRAPHQL_RESPONSE)
    assert strict.status_code == 400
    assert "data" not in strict.json()  # a request error: nothing was executed
    legacy = await post(http, body, JSON)
    assert legacy.status_code == 200
    assert legacy.json() == strict.json()
    assert strict.json()["errors"][0]["extensions"]["code"] == code


async def test_field_error_with_data_is_200_in_both_media_types(http: httpx.AsyncClient) -> None:
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = await post(http, {"query": "{ __typename me { id } }"}, accept)
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None  # me is non-null: its error nulls the parent
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_get_runs_queries(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/graphql",
        params={
            "query": "query Q($n: String!) { __type(name: $n) { name } }",
            "variables": '{"n": "Todo"}',
        },
        headers=PREFLIGHTED,
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__type": {"name": "Todo"}}}


async def test_get_refuses_mutations_with_405(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/graphql", params={"query": "mutation { clearCompletedTodos }"}, headers=PREFLIGHTED
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["message"] == "mutations are not allowed when using GET"


async def test_other_methods_are_405(http: httpx.AsyncClient) -> None:
    # PUT and DELETE serve graphql-sse's single connection mode (test_clients_sse.py).
    response = await http.patch("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, PUT, DELETE"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": 5}, "The GraphQL operation's `query` must be a string or null, if provided."),
        (
            {"query": "{ __typename }", "operationName": ["Q"]},
            "The `operationName` parameter must be a string or null",
        ),
        (
            {"query": "{ __typename }", "variables": "x"},
            "The GraphQL operation's `variables` must be an object or null, if provided.",
        ),
        ({"notquery": "{ __typename }"}, "No GraphQL query found in the request"),
        ("a string", "Expected a JSON object (or, for a batch, an array of them)"),
        ([{"query": "{ __typename }"}, 5], "Each operation of a batch must be a JSON object"),
        ([{"query": 5}], "The `query` parameter must be a string or null"),
        ([], "A batch must hold at least one operation"),
    ],
)
async def test_bad_parameters_are_400_with_a_clear_message(
    http: httpx.AsyncClient, body: Any, message: str
) -> None:
    response = await post(http, body)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]
    }


@pytest.mark.parametrize(
    "content",
    [
        b'{"query": "{ __typename }"',
        b"\xff\xfe",
        b'{"query": "{ __typename }", "variables": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
)
async def test_unparsable_json_is_400(http: httpx.AsyncClient, content: bytes) -> None:
    response = await http.post("/graphql", content=content, headers={"content-type": JSON})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Unable to parse request body as JSON"


async def test_a_batch_answers_each_operation_in_order(http: httpx.AsyncClient) -> None:
    batch = [
        {"query": "query A { __typename }"},
        {"query": "{ nope }"},
        {"query": "query C { me { id } }"},
    ]
    response = await post(http, batch, GRAPHQL_RESPONSE)
    assert response.status_code == 200
    first, second, third = response.json()
    assert first == {"data": {"__typename": "Query"}}
    assert second["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "data" not in second
    assert third["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_batch_of_mutations_runs_each(http: httpx.AsyncClient) -> None:
    from tests.support.graphql_client import GraphQLClient

    ada = await sign_up(GraphQLClient(http), "ada@example.com")
    create = "mutation C($n: String!) { createTodo(input: {name: $n}) { name } }"
    batch = [{"query": create, "variables": {"n": f"todo {i}"}} for i in range(3)]
    response = await http.post(
        "/graphql", json=batch, headers={"authorization": f"Bearer {ada.token}"}
    )
    assert sorted(r["data"]["createTodo"]["name"] for r in response.json()) == [
        "todo 0",
        "todo 1",
        "todo 2",
    ]


async def test_cors_lets_configured_origins_send_tokens(
    settings: Settings, storage: Storage, clock: Clock
) -> None:
    changed = settings.model_copy(update={"cors_origins": "https://app.example.com"})
    app = create_app(changed, clock=clock, storage=storage)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        preflight = await http.options(
            "/graphql",
            headers={
                "origin": "https://app.example.com",
                "access-control-request-method": "POST",
                "access-control-request-headers": (
                    "authorization, content-type, apollo-require-preflight"
                ),
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
        allowed = preflight.headers["access-control-allow-headers"].lower()
        for header in ("authorization", "content-type", "apollo-require-preflight"):
            assert header in allowed
        stranger = await http.options(
            "/graphql",
            headers={
                "origin": "https://evil.example.com",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert stranger.status_code == 400
        assert "access-control-allow-origin" not in stranger.headers
        response = await http.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"origin": "https://app.example.com"},
        )
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
    await app.state.deps.rate_limits.close()


async def test_no_cors_headers_without_configured_origins(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://app.example.com"}
    )
    assert "access-control-allow-origin" not in response.headers
