"""graphql-request (npm, pinned in tests/js) against a real server.

tests/js/graphql_request.mjs signs up, logs in (a wrong password first),
runs queries and mutations with the token from a headers function, pages
through todos and reads a raw response. This test checks what it saw.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.js.node import run_node
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(server: LiveServer) -> dict[str, Any]:
    result: dict[str, Any] = run_node(
        "graphql_request.mjs", f"{server.url}/graphql", uuid.uuid4().hex[:12]
    )
    return result


def test_errors_arrive_as_client_errors_with_their_code(report: dict[str, Any]) -> None:
    assert report["anonymousMe"] == ["UNAUTHENTICATED"]
    assert report["wrongPassword"] == "UNAUTHENTICATED"
    assert report["deleteAgain"] == ["NOT_FOUND"]


def test_sign_up_then_log_in_then_query_as_the_user(report: dict[str, Any]) -> None:
    assert report["me"] == {"email": report["signedUp"], "fullname": "Request User"}


def test_pages_of_two_cover_every_todo_newest_first(report: dict[str, Any]) -> None:
    assert report["pages"] == [["todo 5", "todo 4"], ["todo 3", "todo 2"], ["todo 1"]]
    assert report["totalCount"] == 5


def test_update_and_delete(report: dict[str, Any]) -> None:
    assert report["updated"]["name"] == "renamed"
    assert report["updated"]["isCompleted"] is True
    assert report["deleted"] is True
    assert report["afterDelete"] is None
    # It asks for application/graphql-response+json and gets it.
    assert report["raw"] == {
        "status": 200,
        "contentType": "application/graphql-response+json",
        "totalCount": 4,
    }
