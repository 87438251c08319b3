"""GraphiQL in a real browser: headless Chromium (Debian's /usr/bin/chromium) on a real server.

The page loads its assets from the server under its strict CSP, the log-in
helper fills in the Authorization header, `me` runs and shows the user. Then
a subscription runs in the page (GraphiQL's own graphql-ws client) and a todo
created by another client, over plain HTTP, shows up in the result pane. The
screenshot of that lands in docs/graphiql.png, which the README shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.js.node import run_node
from tests.support.environment import sqlite_env
from tests.support.graphql_client import CREATE_TODO, PASSWORD, SIGN_UP
from tests.support.live_server import ROOT, LiveServer, live_server

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The README's picture. Runs write their own copy; UPDATE_DOCS=1 refreshes the
# committed one (each run shows a new token, so CI must not dirty the tree).
DOCS_SCREENSHOT = ROOT / "docs" / "graphiql.png"
EMAIL = "ada@example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"chromium is not installed ({CHROMIUM}); apt-get install -y chromium")
    workdir = tmp_path_factory.mktemp("graphiql")
    env = sqlite_env(workdir, "graphiql", ENVIRONMENT="development")
    with live_server(workdir, env) as running:
        yield running


def graphql(server: LiveServer, query: str, variables: dict[str, Any], token: str = "") -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{server.url}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
def page(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    user = {"email": EMAIL, "fullname": "Ada Lovelace", "password": PASSWORD}
    token = graphql(server, SIGN_UP, {"input": user})["createUser"]["token"]
    for name in ("Write the notes", "Send them to Charles"):
        graphql(server, CREATE_TODO, {"input": {"name": name}}, token)
    screenshot = (
        DOCS_SCREENSHOT
        if os.environ.get("UPDATE_DOCS") == "1"
        else tmp_path_factory.mktemp("graphiql") / "graphiql.png"
    )
    executable = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    report: dict[str, Any] = run_node(
        "graphiql_browser.mjs", server.url, EMAIL, PASSWORD, str(screenshot), executable
    )
    report["screenshot"] = str(screenshot)
    return report


def test_graphiql_runs_me_with_the_token_from_the_log_in_helper(page: dict[str, Any]) -> None:
    assert page["status"] == 200
    assert page["loginStatus"] == f"Logged in as {EMAIL}"
    assert '"Authorization": "Bearer ' in page["headers"]
    me = page["result"]["data"]["me"]
    assert me["email"] == EMAIL
    assert me["todos"]["totalCount"] == 2
    assert Path(page["screenshot"]).stat().st_size > 10_000


def test_graphiql_works_under_its_strict_csp_without_other_origins(
    page: dict[str, Any], server: LiveServer
) -> None:
    assert "script-src 'self'" in page["csp"]
    assert "unsafe" not in page["csp"]
    assert page["violations"] == []
    assert page["pageErrors"] == []
    assert page["consoleErrors"] == []
    assert set(page["requests"]) == {f"127.0.0.1:{server.port}"}


def test_graphiql_shows_a_subscription_event_from_another_client(page: dict[str, Any]) -> None:
    event = page["event"]
    todo = event["pane"]["data"]["todoEvents"]["todo"]
    assert event["pane"]["data"]["todoEvents"]["kind"] == "CREATED"
    assert (todo["id"], todo["name"], todo["isCompleted"]) == (
        event["id"],
        "Read Menabrea's paper",
        False,
    )
