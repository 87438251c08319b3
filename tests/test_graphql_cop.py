"""graphql-cop's checks, reproduced against a real production server: none is flagged.

graphql-cop (github.com/dolevf/graphql-cop, 1.14) is a security auditor for
GraphQL servers. Each test below sends what its check sends, with its
headers (only a User-Agent; the operation named `cop`), and asserts the
condition under which graphql-cop flags the server is false, then what the
server answered instead. The thirteen checks: its twelve defaults plus field
duplication (off by default in graphql-cop since it misfired on servers that
merge fields; here it holds too).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.environment import sqlite_env
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.slow

HEADERS = {"User-Agent": "graphql-cop/1.14"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("cop")
    # Production defaults; only the test secret and cheap bcrypt come from sqlite_env.
    env = sqlite_env(workdir, "cop", ENVIRONMENT="production")
    with live_server(workdir, env) as running:
        yield running


def graph_query(server: LiveServer, query: str, *, batch: bool = False) -> httpx.Response:
    """graphql-cop's `graph_query`: a JSON POST, `operationName: cop`, or a batch of 10."""
    body: Any = [{"query": query}] * 10 if batch else {"query": query, "operationName": "cop"}
    return httpx.post(f"{server.url}/graphql", json=body, headers=HEADERS, timeout=60)


def get(server: LiveServer, params: dict[str, str] | None = None, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}/graphql", params=params, headers={**HEADERS, **headers}, timeout=20
    )


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def data_of(response: httpx.Response) -> Any:
    body = json_of(response)
    return body.get("data") if isinstance(body, dict) else None


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


def test_introspection(server: LiveServer) -> None:
    response = graph_query(server, "query cop { __schema { types { name fields { name } } } }")
    assert not (data_of(response) or {}).get("__schema")  # graphql-cop: flagged if types
    assert set(codes(response)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "introspection has been disabled" in response.json()["errors"][0]["message"]


def test_field_suggestions(server: LiveServer) -> None:
    response = graph_query(server, "query cop { __schema { directive } }")
    messages = [e["message"] for e in response.json()["errors"]]
    assert not any("Did you mean" in m for m in messages)


def test_graphiql_ide(server: LiveServer) -> None:
    response = get(server, Accept="text/html")
    heuristics = ("graphiql.min.css", "GraphQL Playground", "GraphiQL", "graphql-playground")
    assert not any(word in response.text for word in heuristics)
    assert response.status_code == 404


def test_get_method_query_support(server: LiveServer) -> None:
    # A bare GET (no Content-Type, no preflight header) is what a cross-site page can send.
    response = get(server, {"query": "query cop {__typename}"})
    assert not data_of(response)
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


def test_get_based_mutation(server: LiveServer) -> None:
    response = get(server, {"query": "mutation cop {__typename}"})
    assert not data_of(response)
    assert response.status_code in (400, 405)
    # Even past CSRF prevention, a mutation over GET is refused.
    preflighted = get(
        server, {"query": "mutation cop {__typename}"}, **{"Content-Type": "application/json"}
    )
    assert not data_of(preflighted)
    assert preflighted.status_code == 405


def test_post_based_csrf(server: LiveServer) -> None:
    response = httpx.post(
        f"{server.url}/graphql", data={"query": "query cop { __typename }"}, headers=HEADERS
    )
    assert not data_of(response)
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


def test_array_based_batching(server: LiveServer) -> None:
    response = graph_query(server, "query cop { __typename }", batch=True)
    body = json_of(response)
    assert not (isinstance(body, list) and len(body) >= 10)
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


def test_alias_overloading(server: LiveServer) -> None:
    aliases = "".join(f"alias{i}:__typename \n" for i in range(101))
    response = graph_query(server, "query cop { " + aliases + " }")
    assert not (data_of(response) or {}).get("alias100")
    assert set(codes(response)) == {"GRAPHQL_VALIDATION_FAILED"}


def test_directive_overloading(server: LiveServer) -> None:
    response = graph_query(server, "query cop { __typename " + "@aa" * 10 + " }")
    errors = response.json()["errors"]
    assert len(errors) != 10  # graphql-cop: flagged when each repetition gets its error
    assert len(errors) <= 6  # MAX_VALIDATION_ERRORS (5), then "Validation aborted"


def test_field_duplication(server: LiveServer) -> None:
    response = graph_query(server, "query cop { " + "__typename \n" * 500 + "} ")
    assert not (data_of(response) or {}).get("__typename")
    assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"]


def test_circular_introspection(server: LiveServer) -> None:
    query = (
        "query cop { __schema { types { fields { type { fields { type { fields { type {"
        " fields { type { name } } } } } } } } } } }"
    )
    response = graph_query(server, query)
    assert not (data_of(response) or {}).get("__schema")
    assert "GRAPHQL_VALIDATION_FAILED" in codes(response)


def test_trace_mode(server: LiveServer) -> None:
    response = graph_query(server, "query cop { __typename }")
    body = response.json()
    assert body == {"data": {"__typename": "Query"}}
    assert "tracing" not in str(body).lower()


def test_unhandled_error_detection(server: LiveServer) -> None:
    response = graph_query(server, "qwerty cop { abc }")
    [error] = response.json()["errors"]
    assert "exception" not in error.get("extensions", {})
    assert "'extensions': {'exception':" not in str(response.json()).lower()
    assert error["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}
