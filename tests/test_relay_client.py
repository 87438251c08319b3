"""relay-runtime (npm, pinned in tests/js) against a real server, on artifacts from relay-compiler.

tests/js/relay_client.mjs signs up and creates todos through Relay mutations,
pages forward and backward through the `todos` connection as
usePaginationFragment does (Relay's connection handler merges the pages in its
store), prepends a new todo with @prependNode, and refetches a Todo through
`node(id:)` as useRefetchableFragment does. This test checks what it saw, and
that the committed artifacts are what relay-compiler makes of the served
schema and tests/js/relay/TodoList.js. tests/test_readme_clients.py holds
README's "Relay" snippets to the regions the two files mark.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from typing import Any

import pytest

from tests.js.node import JS_DIR, require_node, run_node
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

ALL = [f"todo {i}" for i in reversed(range(7))]


@pytest.fixture(scope="module")
def report(server: LiveServer) -> dict[str, Any]:
    result: dict[str, Any] = run_node(
        "relay_client.mjs", f"{server.url}/graphql", uuid.uuid4().hex[:12]
    )
    return result


def test_forward_pages_merge_in_the_store(report: dict[str, Any]) -> None:
    pages = report["forward"]
    assert [p["names"] for p in pages] == [ALL[:3], ALL[:6], ALL]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    assert {p["totalCount"] for p in pages} == {7}


def test_backward_pages_merge_in_the_store(report: dict[str, Any]) -> None:
    """loadPrevious from the end: each page prepended, in list order."""
    pages = report["backward"]
    assert [p["names"] for p in pages] == [ALL[4:], ALL[1:], ALL]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [True, True, False]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [False, False, False]
    # Relay nulls the other direction's variables, which the server takes as absent.
    directions = [
        (v["first"], v["after"] is None, v["last"], v["before"] is None)
        for v in report["paginationVariables"]
    ]
    assert directions == [(3, False, None, True)] * 2 + [(None, True, 3, False)] * 2


def test_a_created_todo_is_prepended_to_the_connection(report: dict[str, Any]) -> None:
    assert report["afterCreate"] == ["newest", *ALL]


def test_a_todo_is_refetched_through_node(report: dict[str, Any]) -> None:
    refetch = report["refetch"]
    assert refetch["identifierField"] == "id"
    assert re.search(r"node\(id: \$id\)", refetch["queryText"])
    assert refetch["renamed"].get("errors") is None
    assert refetch["before"]["name"] == refetch["stale"]["name"] == "todo 0"
    assert refetch["throughNode"] == {**refetch["before"], "name": "renamed elsewhere"}
    # The store is normalised by id: the list shows the refetched name too.
    assert refetch["inList"][-1] == "renamed elsewhere"
    assert report["missingNode"] is None
    assert report["requests"].count("TodoItemRefetchQuery") == 2


def test_the_artifacts_are_what_relay_compiler_makes() -> None:
    """relay-compiler --validate fails when schema.graphql or the operations changed
    and the committed artifacts were not regenerated (`npm run relay` in tests/js)."""
    require_node()
    done = subprocess.run(
        [str(JS_DIR / "node_modules" / ".bin" / "relay-compiler"), "--validate"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
