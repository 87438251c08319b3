"""The real Apollo Client (npm @apollo/client, pinned in tests/js) against a real server.

tests/js/apollo_client.mjs signs up, logs in through an auth link, pages
through todos with relayStylePagination, creates, updates and deletes with
the cache kept right, runs an automatic persisted query (hashed GET: a miss,
then a hit) and a batch (BatchHttpLink). This test checks what it saw.
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
