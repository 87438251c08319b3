"""Unexpected failures are masked: a generic message and the request id, the detail only in the log.

The failure is real: a trigger added to the SQLite file behind the app's
back makes every insert into `todos` fail with a constraint error the
storage layer does not expect.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql_app.storage import Storage
from tests.support.backends import sqlite_backend
from tests.support.graphql_client import CREATE_TODO, GraphQLClient, sign_up

SECRET_DETAIL = "quota of tenant 42 exceeded on /var/lib/db"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with sqlite_backend(tmp_path) as store:
        yield store


@pytest.fixture
def broken_inserts(storage: Storage, tmp_path: Path) -> None:
    """Every insert into todos now fails, as if the database had a rule of its own."""
    with sqlite3.connect(tmp_path / "todo.db") as db:
        db.execute(
            "CREATE TRIGGER break_inserts BEFORE INSERT ON todos "
            f"BEGIN SELECT RAISE(ABORT, '{SECRET_DETAIL}'); END"
        )


async def create(http: httpx.AsyncClient, token: str, headers: dict[str, str]) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": CREATE_TODO, "variables": {"input": {"name": "doomed"}}},
        headers={"authorization": f"Bearer {token}", **headers},
    )


@pytest.mark.usefixtures("broken_inserts")
async def test_internal_error_shows_no_detail_and_carries_the_request_id(
    http: httpx.AsyncClient, gql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    ada = await sign_up(gql, "ada@example.com")
    caplog.set_level(logging.INFO)
    response = await create(http, ada.token, {"x-request-id": "trace-me-123"})

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "trace-me-123"
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "Internal server error",
                "locations": [{"line": 3, "column": 3}],
                "path": ["createTodo"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "trace-me-123"},
            }
        ],
    }
    for leak in (SECRET_DETAIL, "Traceback", "sqlite", "IntegrityError"):
        assert leak not in response.text
    # The log has the detail, under the same request id.
    [logged] = [r for r in caplog.records if r.name == "graphql_app.errors"]
    assert logged.levelno == logging.ERROR
    assert "trace-me-123" in logged.getMessage()
    assert logged.exc_info is not None and SECRET_DETAIL in str(logged.exc_info[1])
    assert '"request_id": "trace-me-123"' in caplog.text  # and in the access log line


@pytest.mark.usefixtures("broken_inserts")
async def test_a_generated_request_id_matches_the_response_header(
    http: httpx.AsyncClient, gql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    ada = await sign_up(gql, "ada@example.com")
    response = await create(http, ada.token, {})
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert response.json()["errors"][0]["extensions"]["requestId"] == request_id
    assert request_id in caplog.text


async def test_the_projects_own_errors_and_validation_errors_are_not_masked(
    gql: GraphQLClient,
) -> None:
    unauthenticated = await gql(CREATE_TODO, {"input": {"name": "x"}})
    assert unauthenticated.errors[0]["message"] == "Authentication required"
    assert unauthenticated.codes == ["UNAUTHENTICATED"]
    invalid = await gql("{ todos { nope } }")
    assert invalid.errors[0]["message"] == "Cannot query field 'nope' on type 'TodoConnection'."
    assert invalid.codes == ["GRAPHQL_VALIDATION_FAILED"]
    ada = await sign_up(gql, "ada@example.com")
    bad_input = await gql(CREATE_TODO, {"input": {"name": "   "}}, token=ada.token)
    assert bad_input.codes == ["BAD_USER_INPUT"]
    assert "requestId" not in bad_input.errors[0]["extensions"]


@pytest.fixture
def failing_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    """graphql-core's executor fails before any field runs, as a bug of a new release would
    (fault injection into the library, not into graphql_app)."""

    def build(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(SECRET_DETAIL)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "build", classmethod(build))


@pytest.mark.usefixtures("failing_executor")
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_failure_of_the_executor_itself_is_masked_too(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    """POST takes the prepared path (schema/prepared.py), GET Strawberry's (AppSchema.execute):
    before, both answered the exception's own text with no code."""
    query = "{ __typename }"
    headers = {"x-request-id": "executor-down", "content-type": "application/json"}
    if method == "POST":
        response = await http.post("/graphql", json={"query": query}, headers=headers)
    else:
        response = await http.get("/graphql", params={"query": query}, headers=headers)
    assert response.status_code == 200
    # No "data": execution never began (GraphQL over HTTP: a request error).
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "executor-down"},
            }
        ],
    }
    [logged] = [r for r in caplog.records if r.name == "graphql_app.errors"]
    assert logged.exc_info is not None and SECRET_DETAIL in str(logged.exc_info[1])
