"""One structured JSON log line per request: ids, names, codes, status, time; never a secret."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import sqlite_backend
from tests.support.graphql_client import PASSWORD, GraphQLClient, sign_up

LOG_IN = "mutation LogIn($i: LogInInput!) { logIn(input: $i) { token refreshToken } }"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with sqlite_backend(tmp_path) as store:
        yield store


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Batches are sent here; batching is off unless BATCH_REQUESTS turns it on.
    return settings.model_copy(update={"batch_requests": True})


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "graphql_app.access"]


async def test_a_log_in_is_logged_without_password_or_token(
    http: httpx.AsyncClient, gql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    await sign_up(gql, "ada@example.com")
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    response = await http.post(
        "/graphql",
        json={
            "query": LOG_IN,
            "variables": {"i": {"email": "ada@example.com", "password": PASSWORD}},
        },
        headers={"x-request-id": "login-1"},
    )
    tokens = response.json()["data"]["logIn"]
    [line] = access_lines(caplog)
    assert line["request_id"] == "login-1"
    assert line["method"] == "POST"
    assert line["path"] == "/graphql"
    assert line["status"] == 200
    assert line["operation_name"] == "LogIn"
    assert line["operations"] == [{"name": "LogIn", "type": "mutation", "error_codes": []}]
    assert isinstance(line["duration_ms"], float)
    everything = caplog.text
    for secret in (PASSWORD, tokens["token"], tokens["refreshToken"], "$2b$", "ada@example.com"):
        assert secret not in everything


async def test_the_user_id_is_logged_when_known(
    http: httpx.AsyncClient, gql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    ada = await sign_up(gql, "ada@example.com")
    caplog.clear()
    caplog.set_level(logging.INFO)
    await gql("query Me { me { id } }", token=ada.token)
    await gql("query Me { me { id } }")
    known, anonymous = access_lines(caplog)
    assert known["user_id"] == ada.id
    assert ada.token not in caplog.text
    assert anonymous["user_id"] is None
    assert anonymous["operations"][0]["error_codes"] == ["UNAUTHENTICATED"]


async def test_a_batch_logs_each_operation_in_one_line(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    batch = [{"query": "query A { __typename }"}, {"query": "query B { nope }"}]
    await http.post("/graphql", json=batch)
    [line] = access_lines(caplog)
    assert line["operation_name"] == "A,B"
    assert [op["error_codes"] for op in line["operations"]] == [[], ["GRAPHQL_VALIDATION_FAILED"]]


async def test_refusals_are_logged_with_their_code(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await http.post(
        "/graphql", content=b"x" * 200_000, headers={"content-type": "application/json"}
    )
    await http.post("/graphql", content="{}", headers={"content-type": "text/plain"})
    too_large, csrf = access_lines(caplog)
    assert (too_large["status"], too_large["error_codes"]) == (413, ["BAD_REQUEST"])
    assert (csrf["status"], csrf["error_codes"]) == (400, ["BAD_REQUEST"])
    assert too_large["operations"] == csrf["operations"] == []


async def test_client_chosen_names_are_logged_only_when_they_are_names(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await http.post(
        "/graphql",
        json={"query": "query Q { __typename }", "operationName": 'Q"}\nFAKE LINE'},
    )
    [line] = access_lines(caplog)
    assert line["operation_name"] == "<invalid>"
    assert "FAKE LINE" not in caplog.text


async def test_a_request_without_an_id_gets_a_new_random_uuid(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ids = []
    for _ in range(3):
        response = await http.post("/graphql", json={"query": "{ __typename }"})
        ids.append(response.headers["x-request-id"])
    assert [line["request_id"] for line in access_lines(caplog)] == ids
    assert len(set(ids)) == 3
    for value in ids:  # as uuid.uuid4().hex writes it
        assert uuid.UUID(hex=value).version == 4 and uuid.UUID(hex=value).hex == value
