"""CSRF prevention as Apollo Server does it: what a browser sends unasked is refused.

A page on another origin can make a browser send a "simple" request (GET,
or POST as text/plain, form-encoded or multipart) with no custom header and
without asking the server first. Such requests are refused before anything
runs, unless a header proves a preflight happened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from graphql_app.app import create_app
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import sqlite_backend
from tests.support.clock import Clock

CSRF = "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF)."
QUERY = "{ __typename }"
MUTATION = "mutation { clearCompletedTodos }"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with sqlite_backend(tmp_path) as store:
        yield store


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["message"].startswith(CSRF)
    assert error["extensions"] == {"code": "BAD_REQUEST"}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", f'{{"query": "{MUTATION}"}}'),
        ("text/plain;charset=UTF-8", f'{{"query": "{MUTATION}"}}'),
        ("application/x-www-form-urlencoded", f"query={MUTATION}"),
        (
            "multipart/form-data; boundary=x",
            f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{MUTATION}\r\n--x--\r\n',
        ),
        ("not a media type", f'{{"query": "{MUTATION}"}}'),
        # Mutant graphql_app.http.csrf.x__media_type__mutmut_7 (the type read up to the
        # last ';', so "text/plain; charset=utf-8" passed for a preflighted type).
        ("text/plain; charset=utf-8; format=flowed", f'{{"query": "{MUTATION}"}}'),
        # A type that does not parse counts as simple. Mutants x__media_type__mutmut_15
        # ("text/" taken for a type) and 16 ("/plain").
        ("text/", f'{{"query": "{MUTATION}"}}'),
        ("/plain", f'{{"query": "{MUTATION}"}}'),
    ],
)
async def test_simple_posts_are_refused(
    http: httpx.AsyncClient, content_type: str, body: str
) -> None:
    response = await http.post("/graphql", content=body, headers={"content-type": content_type})
    assert_refused(response)


async def test_post_without_content_type_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", content=f'{{"query": "{QUERY}"}}')
    assert_refused(response)


async def test_bare_get_is_refused(http: httpx.AsyncClient) -> None:
    assert_refused(await http.get("/graphql", params={"query": QUERY}))


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json"},  # what Apollo Client sends, GETs included
        {"apollo-require-preflight": "true"},
        {"x-apollo-operation-name": "Typename"},
    ],
)
async def test_get_with_a_preflighted_header_runs(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.get("/graphql", params={"query": QUERY}, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_empty_preflight_header_does_not_count(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/graphql", params={"query": QUERY}, headers={"apollo-require-preflight": " "}
    )
    assert_refused(response)


async def test_json_post_runs(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": QUERY})
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_the_graphiql_page_is_not_an_operation(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_prevention_can_be_turned_off(
    settings: Settings, storage: Storage, clock: Clock
) -> None:
    app: Starlette = create_app(
        settings.model_copy(update={"csrf_prevention": False}), clock=clock, storage=storage
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/graphql", params={"query": QUERY})
        assert response.json() == {"data": {"__typename": "Query"}}
        # Simple POSTs stay refused: only JSON bodies are GraphQL requests.
        response = await http.post("/graphql", content="{}", headers={"content-type": "text/plain"})
        assert response.status_code == 400
    await app.state.deps.rate_limits.close()
