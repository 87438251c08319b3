"""/metrics in Prometheus text format: requests, latency, errors by code, live subscriptions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from graphql_app.app import create_app
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import sqlite_backend
from tests.support.environment import sqlite_env
from tests.support.graphql_client import PASSWORD, GraphQLClient, create_todo, sign_up
from tests.support.live_server import LiveServer, free_port, live_server
from tests.support.ws_client import TransportWSClient, authenticated

LOG_IN = "mutation LogIn($i: LogInInput!) { logIn(input: $i) { token } }"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with sqlite_backend(tmp_path) as store:
        yield store


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Batches are sent here; batching is off unless BATCH_REQUESTS turns it on.
    return settings.model_copy(update={"batch_requests": True})


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def test_counts_operations_latency_and_errors_by_code(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    await sign_up(gql, "ada@example.com")
    for _ in range(2):
        (await gql(LOG_IN, {"i": {"email": "ada@example.com", "password": PASSWORD}})).ok()
    assert (await gql("query Me { me { id } }")).codes == ["UNAUTHENTICATED"]
    assert (await gql("query Broken { nope }")).codes == ["GRAPHQL_VALIDATION_FAILED"]
    refused = await http.post("/graphql", content="{}", headers={"content-type": "text/plain"})
    assert refused.status_code == 400  # CSRF: refused before any operation

    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    login = {"operation_name": "LogIn", "operation_type": "mutation"}
    assert value(text, "graphql_operations_total", **login) == 2
    assert value(text, "graphql_operation_duration_seconds_count", **login) == 2
    assert value(text, "graphql_operation_duration_seconds_sum", **login) > 0
    assert value(text, "graphql_errors_total", code="UNAUTHENTICATED", operation_name="Me") == 1
    assert (
        value(
            text, "graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED", operation_name="Broken"
        )
        == 1
    )
    assert value(text, "graphql_errors_total", code="BAD_REQUEST", operation_name="none") == 1
    # sign-up, two logIns, Me, Broken: 200; the CSRF refusal: 400.
    assert value(text, "http_requests_total", method="POST", route="/graphql", status="200") == 5
    assert value(text, "http_requests_total", method="POST", route="/graphql", status="400") == 1
    assert value(text, "http_request_duration_seconds_count", route="/graphql") == 6
    assert value(text, "graphql_active_subscriptions") == 0


async def test_each_operation_of_a_batch_counts(http: httpx.AsyncClient) -> None:
    batch = [{"query": "query Ping { __typename }"}] * 3
    assert (await http.post("/graphql", json=batch)).status_code == 200
    text = (await http.get("/metrics")).text
    ping = {"operation_name": "Ping", "operation_type": "query"}
    assert value(text, "graphql_operations_total", **ping) == 3


async def test_client_chosen_names_cannot_grow_the_label_set(http: httpx.AsyncClient) -> None:
    for i in range(205):
        await http.post("/graphql", json={"query": f"query Name{i} {{ __typename }}"})
    text = (await http.get("/metrics")).text
    names = {
        dict(labels)["operation_name"]
        for name, labels in samples(text)
        if name == "graphql_operations_total"
    }
    assert len(names) == 201  # 200 names of their own, the rest as "other"
    assert (
        value(text, "graphql_operations_total", operation_name="other", operation_type="query") == 5
    )


async def active_subscriptions(http: httpx.AsyncClient, expected: float) -> float:
    """The gauge, polled until it shows `expected` (bounded: 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        current = value((await http.get("/metrics")).text, "graphql_active_subscriptions")
        if current == expected or time.monotonic() > deadline:
            return current
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_active_subscriptions_gauge(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, "gauge@example.com")
        ws = await authenticated(server.ws_url, ada.token)
        assert isinstance(ws, TransportWSClient)
        try:
            op_id = await ws.subscribe("subscription Events { todoEvents { kind } }")
            assert await active_subscriptions(http, 1) == 1
            await create_todo(gql, ada.token, "seen")
            assert (await ws.operation_message()).kind == "next"
            await ws.stop(op_id)
            assert await active_subscriptions(http, 0) == 0
        finally:
            await ws.close()
        text = (await http.get("/metrics")).text
        events = {"operation_name": "Events", "operation_type": "subscription"}
        assert value(text, "graphql_operations_total", **events) == 1


async def get_metrics(settings: Settings, storage: Storage) -> httpx.Response:
    app = create_app(settings, storage=storage)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.get("/metrics")


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"environment": "production"}, 404),  # not public unless asked for
        ({"environment": "production", "metrics": True}, 200),  # asked for
        ({"environment": "production", "metrics_port": 9}, 404),  # on its own port
        ({}, 200),  # development
        ({"metrics_port": 9}, 404),
        ({"metrics": False}, 404),
    ],
)
async def test_which_listener_serves_metrics(
    settings: Settings, storage: Storage, changes: dict[str, object], status: int
) -> None:
    changed = settings.model_copy(update=changes)
    assert (await get_metrics(changed, storage)).status_code == status


@pytest.mark.slow
def test_metrics_port_serves_metrics_apart_from_the_api(tmp_path: Path) -> None:
    metrics_port = free_port()
    env = sqlite_env(tmp_path, "port", ENVIRONMENT="production", METRICS_PORT=str(metrics_port))
    with live_server(tmp_path, env) as server:
        api = httpx.post(f"{server.url}/graphql", json={"query": "query Ping { __typename }"})
        assert api.json() == {"data": {"__typename": "Query"}}
        assert httpx.get(f"{server.url}/metrics").status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200
        ping = {"operation_name": "Ping", "operation_type": "query"}
        assert value(scraped.text, "graphql_operations_total", **ping) == 1
        # The metrics listener serves nothing else.
        graphql = httpx.get(f"http://127.0.0.1:{metrics_port}/graphql?query=%7Ba%7D")
        assert "data" not in graphql.text
