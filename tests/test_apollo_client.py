"""The real Apollo Client (npm @apollo/client, pinned in tests/js) against a real server.

tests/js/apollo_client.mjs signs up, logs in through an auth link, pages
through todos with relayStylePagination, creates, updates and deletes with
the cache kept right, runs an automatic persisted query (hashed GET: a miss,
then a hit) and a batch (BatchHttpLink); tests/js/apollo_bulk_events.mjs
applies the bulk events to the cache with README's recipe. This test checks
what they saw.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.js.node import run_node
from tests.live_server import LiveServer, live_server, sqlite_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("apollo")
    env = sqlite_env(workdir, "apollo", BATCH_REQUESTS="on")  # BatchHttpLink
    with live_server(workdir, env) as running:
        yield running


@pytest.fixture(scope="module")
def report(server: LiveServer) -> dict[str, Any]:
    result: dict[str, Any] = run_node(
        "apollo_client.mjs", f"{server.url}/graphql", uuid.uuid4().hex[:12]
    )
    return result


def test_sign_up_and_log_in_through_the_auth_link(report: dict[str, Any]) -> None:
    assert report["me"] == report["signedUp"]


def test_relay_style_pagination_merges_the_pages(report: dict[str, Any]) -> None:
    # Two at a time: the cached connection grows 2, 4, 5 (newest first).
    assert report["pages"] == [2, 4, 5]
    assert report["merged"] == ["todo 5", "todo 4", "todo 3", "todo 2", "todo 1"]
    assert report["totalCount"] == 5


def test_mutations_keep_the_cache_right(report: dict[str, Any]) -> None:
    assert report["afterCreate"][0] == "todo 6"
    assert report["afterUpdate"]["name"] == "todo 6"
    assert report["afterUpdate"]["isCompleted"] is True
    assert report["afterDelete"] == ["todo 5", "todo 4", "todo 3", "todo 2", "todo 1"]
    assert report["serverAfterDelete"] == report["afterDelete"]


def test_automatic_persisted_query_misses_then_hits(report: dict[str, Any]) -> None:
    apq = report["apq"]
    assert apq["results"] == [report["me"], report["me"]]
    miss, register, hit = apq["requests"]
    # The hash alone over GET: not found, so the client sends the query (POST).
    assert miss["method"] == "GET" and not miss["hasQuery"] and miss["persistedQuery"]
    assert miss["status"] == 200 and miss["codes"] == ["PERSISTED_QUERY_NOT_FOUND"]
    assert register["method"] == "POST" and register["hasQuery"] and register["codes"] == []
    # Next time the hash alone is enough.
    assert hit["method"] == "GET" and not hit["hasQuery"] and hit["codes"] == []


def test_batch_http_link_sends_one_request(report: dict[str, Any]) -> None:
    batch = report["batch"]
    assert len(batch["requests"]) == 1
    assert batch["requests"][0]["batchSize"] == 3
    assert batch["results"] == [report["me"], 1, 5]


@pytest.fixture(scope="module")
def bulk_report(server: LiveServer) -> dict[str, Any]:
    result: dict[str, Any] = run_node(
        "apollo_bulk_events.mjs", f"{server.url}/graphql", uuid.uuid4().hex[:12]
    )
    return result


def test_bulk_events_keep_the_cache_right_with_the_readme_recipe(
    bulk_report: dict[str, Any],
) -> None:
    # Four todos and the probe that showed the subscription live; the first one done.
    before = bulk_report["before"]
    assert before["all"] == {"totalCount": 5, "completed": [False] * 4 + [True]}
    assert before["open"]["totalCount"] == 4
    # One BULK_UPDATED event for the four it changed, applied in place at once...
    answer, event = bulk_report["bulkUpdated"]["answer"], bulk_report["bulkUpdated"]["event"]
    assert answer == 4
    assert (event["kind"], event["filter"], event["count"], event["todo"]) == (
        "BULK_UPDATED",
        {"__typename": "TodoEventFilter", "isCompleted": False},
        4,
        None,
    )
    assert bulk_report["inPlace"]["completed"] == [True] * 5
    # ...then the refetched lists agree: nothing open any more.
    assert bulk_report["afterBulkUpdate"]["all"] == {"totalCount": 5, "completed": [True] * 5}
    assert bulk_report["afterBulkUpdate"]["open"] == {"totalCount": 0, "completed": []}
    # One CLEARED event: the cached todos are evicted, the lists empty.
    assert bulk_report["cleared"]["answer"] == 5
    assert bulk_report["cleared"]["event"]["count"] == 5
    assert bulk_report["afterClear"]["all"] == {"totalCount": 0, "completed": []}
    assert bulk_report["todosLeftInCache"] == 0
    assert bulk_report["events"] == ["CREATED", "BULK_UPDATED", "CLEARED"]
