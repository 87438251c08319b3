"""urql (npm @urql/core, pinned in tests/js) against real servers.

tests/js/urql_client.mjs signs up, logs in, shows that urql's default GET of
a query is refused by CSRF prevention without the `apollo-require-preflight`
header and served with it, creates, updates and deletes, pages through
todos, and subscribes to todoEvents twice: through subscriptionExchange over
graphql-ws and through fetchExchange with `fetchSubscriptions` (server-sent
events). It runs against one server, and against two instances sharing
PostgreSQL and Redis (subscribing on one, changing through the other).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.js.node import run_node
from tests.support.live_server import LiveServer
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
    with server_pair(request.param, tmp_path_factory.mktemp("urql")) as pair:
        yield pair


@pytest.fixture(scope="module")
def report(servers: tuple[LiveServer, LiveServer]) -> dict[str, Any]:
    subscribe_on, mutate_through = servers
    result: dict[str, Any] = run_node(
        "urql_client.mjs",
        f"{subscribe_on.url}/graphql",
        f"{mutate_through.url}/graphql",
        uuid.uuid4().hex[:12],
    )
    return result


def test_a_get_without_the_preflight_header_is_refused(report: dict[str, Any]) -> None:
    refused = report["withoutPreflight"]
    assert refused["codes"] == ["BAD_REQUEST"]
    assert [(r["method"], r["preflightHeader"], r["status"]) for r in refused["requests"]] == [
        ("GET", False, 400)
    ]


def test_the_same_get_with_the_header_is_served(report: dict[str, Any]) -> None:
    served = report["withPreflight"]
    assert served["email"] == report["signedUp"]
    assert [(r["method"], r["preflightHeader"], r["status"]) for r in served["requests"]] == [
        ("GET", True, 200)
    ]


def test_queries_go_as_get_and_mutations_get_json(report: dict[str, Any]) -> None:
    # urql's Accept lists text/event-stream after JSON; only the subscription streams.
    assert report["requests"] == {
        "query": ["GET application/graphql-response+json"],
        "mutation": ["POST application/graphql-response+json"],
        "subscription": ["POST text/event-stream"],
    }


def test_pages_and_changes(report: dict[str, Any]) -> None:
    assert report["pages"] == [["todo 5", "todo 4"], ["todo 3", "todo 2"], ["todo 1"]]
    assert report["totalCount"] == 5
    assert (report["updated"]["name"], report["updated"]["isCompleted"]) == ("todo 5", True)
    assert report["afterDelete"] == ["todo 4", "todo 3", "todo 2", "todo 1"]


def test_subscription_exchange_over_graphql_ws(report: dict[str, Any]) -> None:
    seen = report["ws"]
    assert lifecycle(seen) == created_updated_deleted(seen["id"], "over graphql-ws")


def test_fetch_subscriptions_over_server_sent_events(report: dict[str, Any]) -> None:
    seen = report["sse"]
    assert lifecycle(seen) == created_updated_deleted(seen["id"], "over server-sent events")
