"""The real Apollo Client (npm @apollo/client, pinned in tests/js) against real servers.

tests/js/apollo_client.mjs signs up, logs in through an auth link, pages
through todos with relayStylePagination, creates, updates and deletes with
the cache kept right, runs an automatic persisted query (hashed GET: a miss,
then a hit) and a batch (BatchHttpLink), and subscribes to todoEvents twice:
through split() to GraphQLWsLink (graphql-ws, `connectionParams` a function)
and with HttpLink alone (a multipart subscription over HTTP). It runs
against one server, and against two instances sharing PostgreSQL and Redis
(subscribing on one, changing through the other).
tests/js/apollo_bulk_events.mjs applies the bulk events to the cache with
README's recipe. This test checks what they saw.

Then, against a server whose access tokens live seconds, the same client
outlives its token: the README's error link refreshes on TOKEN_EXPIRED and
retries, `connectionParams` refreshes when the server closed the socket at
expiry, and the multipart subscription is retried by the error link.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.js.node import run_node
from tests.support.environment import sqlite_env
from tests.support.live_server import LiveServer, live_server
from tests.support.subscribing_clients import (
    SETUPS,
    created_updated_deleted,
    lifecycle,
    server_pair,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=SETUPS)
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    workdir = tmp_path_factory.mktemp("apollo")
    with server_pair(request.param, workdir, BATCH_REQUESTS="on") as pair:  # BatchHttpLink
        yield pair


@pytest.fixture(scope="module")
def report(servers: tuple[LiveServer, LiveServer]) -> dict[str, Any]:
    subscribe_on, mutate_through = servers
    result: dict[str, Any] = run_node(
        "apollo_client.mjs",
        f"{subscribe_on.url}/graphql",
        f"{mutate_through.url}/graphql",
        uuid.uuid4().hex[:12],
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


def test_split_sends_subscriptions_over_graphql_ws(report: dict[str, Any]) -> None:
    seen = report["ws"]
    assert lifecycle(seen) == created_updated_deleted(seen["id"], "over graphql-ws")


def test_http_link_alone_receives_a_multipart_subscription(report: dict[str, Any]) -> None:
    seen = report["multipart"]
    assert lifecycle(seen) == created_updated_deleted(seen["id"], "over multipart HTTP")


TOKEN_SECONDS = 3


@pytest.fixture(scope="module")
def expiry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("apollo-expiry")
    env = sqlite_env(workdir, "expiry", ACCESS_TOKEN_TTL=str(TOKEN_SECONDS))
    with live_server(workdir, env) as server:
        url = f"{server.url}/graphql"
        result: dict[str, Any] = run_node(
            "apollo_client.mjs", url, url, uuid.uuid4().hex[:12], "refresh"
        )
    return result


def test_the_error_link_refreshes_on_token_expired_and_retries(expiry: dict[str, Any]) -> None:
    assert expiry["expiredMe"] == expiry["signedUp"]
    assert [(t["operation"], t["reasons"]) for t in expiry["http"]] == [
        ("Me", ["TOKEN_EXPIRED"]),
        ("Refresh", []),
        ("Me", []),
    ]


def test_graphql_ws_reconnects_with_a_refreshed_token(expiry: dict[str, Any]) -> None:
    assert [4403, "TOKEN_EXPIRED"] in expiry["wsCloses"]
    seen = expiry["ws"]
    assert lifecycle(seen) == created_updated_deleted(seen["id"], "over graphql-ws")


def test_the_multipart_subscription_is_retried_with_a_refreshed_token(
    expiry: dict[str, Any],
) -> None:
    seen = expiry["multipart"]
    assert lifecycle(seen) == created_updated_deleted(seen["id"], "over multipart HTTP")


def test_every_refresh_succeeds_one_at_a_time(expiry: dict[str, Any]) -> None:
    # The first query, the socket and the multipart subscription each needed a
    # new token; no refresh token was used twice (that would revoke the login).
    assert len(expiry["refreshes"]) >= 3
    assert all(refresh["reasons"] == [] for refresh in expiry["refreshes"])


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
