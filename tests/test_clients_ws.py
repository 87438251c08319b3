"""Real WebSocket clients against real servers: the npm `graphql-ws` client and Python `gql`.

Each signs up and logs in, queries and mutates over the socket, pages
through todos, subscribes on one server and changes todos through another,
and receives CREATED, UPDATED, DELETED in order. Each runs against one
server, and against two instances sharing PostgreSQL and Redis (as behind a
load balancer). Python gql also runs over HTTP (HTTPXAsyncTransport) and on
both WebSocket subprotocols.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

# --- README: Python gql ---
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

# --- end README ---
from tests.js.node import run_node
from tests.support.live_server import LiveServer
from tests.support.readme import lines, readme_section
from tests.support.subscribing_clients import assert_the_flow

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
EVENTS = "subscription Events { todoEvents { kind todoId todo { id name isCompleted } } }"


def graphql_url(server: LiveServer) -> str:
    return f"{server.url}/graphql"


# -- the npm graphql-ws client ---------------------------------------------------


def test_graphql_ws_client_on_one_server(server: LiveServer) -> None:
    suffix = uuid.uuid4().hex[:12]
    url = graphql_url(server)
    assert_the_flow(run_node("graphql_ws_client.mjs", url, url, suffix), suffix)


@pytest.mark.postgres
@pytest.mark.redis
def test_graphql_ws_client_across_two_instances(
    instances: tuple[LiveServer, LiveServer],
) -> None:
    a, b = instances
    suffix = uuid.uuid4().hex[:12]
    report = run_node("graphql_ws_client.mjs", graphql_url(a), graphql_url(b), suffix)
    assert_the_flow(report, suffix)


# -- Python gql --------------------------------------------------------------------

SIGN_UP = GraphQLRequest(
    "mutation SignUp($input: CreateUserInput!) { createUser(input: $input) { user { id email } } }"
)
LOG_IN = GraphQLRequest("mutation LogIn($input: LogInInput!) { logIn(input: $input) { token } }")
ME = GraphQLRequest("query Me { me { id email } }")
CREATE = GraphQLRequest(
    "mutation Create($input: CreateTodoInput!) {"
    " createTodo(input: $input) { id name isCompleted } }"
)
UPDATE = GraphQLRequest(
    "mutation Update($id: ID!, $input: UpdateTodoInput!) {"
    " updateTodo(id: $id, input: $input) { id name isCompleted } }"
)
DELETE = GraphQLRequest("mutation Delete($id: ID!) { deleteTodo(id: $id) { id } }")
PAGE = GraphQLRequest(
    "query Page($first: Int!, $after: String) { todos(first: $first, after: $after) {"
    " totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }"
)


def with_vars(request: GraphQLRequest, variables: dict[str, Any]) -> GraphQLRequest:
    return GraphQLRequest(request, variable_values=variables)


def ws_url(server: LiveServer) -> str:
    return server.ws_url


async def gql_log_in(url: str, email: str) -> tuple[dict[str, Any], str]:
    """Sign up and log in over HTTP with HTTPXAsyncTransport; the user and the token."""
    # --- README: Python gql ---
    transport = HTTPXAsyncTransport(url=url)  # https://…/graphql
    async with Client(transport=transport) as session:
        user_input = {"email": email, "fullname": "Ada Lovelace", "password": PASSWORD}
        signed_up = await session.execute(
            GraphQLRequest(SIGN_UP, variable_values={"input": user_input})
        )
        credentials = {"email": email, "password": PASSWORD}
        logged_in = await session.execute(
            GraphQLRequest(LOG_IN, variable_values={"input": credentials})
        )
    token = logged_in["logIn"]["token"]
    # --- end README ---
    return signed_up["createUser"]["user"], token


@contextlib.asynccontextmanager
async def gql_socket(url: str, token: str, subprotocol: str) -> AsyncIterator[Any]:
    # --- README: Python gql ---
    transport = WebsocketsTransport(
        url=url,  # wss://…/graphql
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[subprotocol],  # "graphql-transport-ws", or the legacy "graphql-ws"
    )
    async with Client(transport=transport) as session:
        # session.execute(...) as over HTTP, and session.subscribe(...):
        # --- end README ---
        yield session


async def gql_flow(subscribe_on: LiveServer, mutate_on: LiveServer, subprotocol: str) -> Any:
    """todo_flow.mjs, with Python gql: the same steps, the same report."""
    suffix = uuid.uuid4().hex[:12]
    report: dict[str, Any] = {"suffix": suffix}
    user, token = await gql_log_in(graphql_url(mutate_on), f"client-{suffix}@example.com")
    report["signedUp"] = user
    async with (
        gql_socket(ws_url(subscribe_on), token, subprotocol) as subscriber,
        gql_socket(ws_url(mutate_on), token, subprotocol) as mutator,
    ):
        report["me"] = (await mutator.execute(ME))["me"]
        for i in range(1, 6):
            await mutator.execute(with_vars(CREATE, {"input": {"name": f"todo {i}"}}))
        report["pages"] = []
        after = None
        while True:
            page = (await mutator.execute(with_vars(PAGE, {"first": 2, "after": after})))["todos"]
            report["pages"].append(
                {
                    "names": [edge["node"]["name"] for edge in page["edges"]],
                    "hasNextPage": page["pageInfo"]["hasNextPage"],
                    "totalCount": page["totalCount"],
                }
            )
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]

        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def listen(session: Any = subscriber) -> None:
            # --- README: Python gql ---
            async for result in session.subscribe(GraphQLRequest(EVENTS)):
                events.put_nowait(result["todoEvents"])  # {"kind", "todoId", "todo"}
            # --- end README ---

        listener = asyncio.create_task(listen())
        try:
            for _ in range(40):  # changes made before the server subscribed are lost: probe
                probe = (await mutator.execute(with_vars(CREATE, {"input": {"name": "p"}})))[
                    "createTodo"
                ]
                try:
                    async with asyncio.timeout(0.5):
                        while (await events.get())["todoId"] != probe["id"]:
                            pass
                    break
                except TimeoutError:
                    continue
            todo = (await mutator.execute(with_vars(CREATE, {"input": {"name": "buy milk"}})))[
                "createTodo"
            ]
            await mutator.execute(
                with_vars(UPDATE, {"id": todo["id"], "input": {"isCompleted": True}})
            )
            await mutator.execute(with_vars(DELETE, {"id": todo["id"]}))
            received: list[dict[str, Any]] = []
            async with asyncio.timeout(10):
                while len(received) < 3:
                    event = await events.get()
                    if event["todoId"] == todo["id"]:
                        received.append(event)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
    report["todo"] = todo
    report["events"] = received
    return report


@pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])
async def test_gql_websockets_transport_on_one_server(server: LiveServer, subprotocol: str) -> None:
    report = await gql_flow(server, server, subprotocol)
    assert_the_flow(report, report["suffix"])


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])
async def test_gql_websockets_transport_across_two_instances(
    instances: tuple[LiveServer, LiveServer],
    subprotocol: str,
) -> None:
    a, b = instances
    report = await gql_flow(a, b, subprotocol)
    assert_the_flow(report, report["suffix"])


async def test_gql_http_transport_runs_queries_and_mutations(server: LiveServer) -> None:
    suffix = uuid.uuid4().hex[:12]
    user, token = await gql_log_in(graphql_url(server), f"client-{suffix}@example.com")
    transport = HTTPXAsyncTransport(
        url=graphql_url(server), headers={"Authorization": f"Bearer {token}"}
    )
    async with Client(transport=transport) as session:
        me = (await session.execute(ME))["me"]
        todo = (await session.execute(with_vars(CREATE, {"input": {"name": "over HTTP"}})))[
            "createTodo"
        ]
        page = (await session.execute(with_vars(PAGE, {"first": 5, "after": None})))["todos"]
    assert me == user
    assert todo["name"] == "over HTTP"
    assert [edge["node"]["name"] for edge in page["edges"]] == ["over HTTP"]


# -- the README shows what these tests run -----------------------------------------

PY_REGION = re.compile(
    r"^[ \t]*# --- README: (?P<name>.+?) ---\n(?P<code>.*?)^[ \t]*# --- end README ---$",
    re.M | re.S,
)
PY_BLOCK = re.compile(r"^```python\n(?P<code>.*?)^```$", re.M | re.S)


def test_readme_python_gql_snippets_are_what_these_tests_run() -> None:
    regions = [
        line
        for match in PY_REGION.finditer(Path(__file__).read_text())
        if match["name"] == "Python gql"
        for line in lines(match["code"])
    ]
    shown = [
        line
        for block in PY_BLOCK.finditer(readme_section("Python gql"))
        for line in lines(block["code"])
    ]
    assert regions
    assert shown == regions


TODO = GraphQLRequest("query Todo($id: ID!) { todo(id: $id) { id name isCompleted } }")


@pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])
async def test_gql_websockets_reads_after_writes_on_one_socket(
    server: LiveServer, subprotocol: str
) -> None:
    """Queries on a long-lived socket see the writes made before them, on it too:
    each operation reads afresh, not from what the connection read earlier."""
    suffix = uuid.uuid4().hex[:12]
    _, token = await gql_log_in(graphql_url(server), f"fresh-{suffix}@example.com")
    async with gql_socket(ws_url(server), token, subprotocol) as session:
        first_page = with_vars(PAGE, {"first": 10})
        assert (await session.execute(first_page))["todos"]["totalCount"] == 0
        created = (await session.execute(with_vars(CREATE, {"input": {"name": "one"}})))[
            "createTodo"
        ]
        page = (await session.execute(first_page))["todos"]
        assert page["totalCount"] == 1
        assert [edge["node"]["name"] for edge in page["edges"]] == ["one"]
        by_id = with_vars(TODO, {"id": created["id"]})
        assert (await session.execute(by_id))["todo"]["isCompleted"] is False
        update = {"id": created["id"], "input": {"isCompleted": True}}
        await session.execute(with_vars(UPDATE, update))
        assert (await session.execute(by_id))["todo"]["isCompleted"] is True
        await session.execute(with_vars(DELETE, {"id": created["id"]}))
        assert (await session.execute(by_id))["todo"] is None
        assert (await session.execute(first_page))["todos"]["totalCount"] == 0
