"""A real uvicorn process over real HTTP and a real WebSocket (graphql-transport-ws)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.support.graphql_client import TODOS_PAGE, GraphQLClient, create_todo, sign_up
from tests.support.live_server import LiveServer
from tests.support.ws_client import TransportWSClient, authenticated, until_live

pytestmark = pytest.mark.slow

EVENTS = "subscription { todoEvents { kind todoId todo { id name isCompleted } } }"


async def test_sign_up_log_in_create_list_and_receive_events(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, "e2e@example.com")
        login = await gql(
            "mutation L($i: LogInInput!) { logIn(input: $i) { token } }",
            {"i": {"email": "e2e@example.com", "password": "correct horse battery"}},
        )
        token = login.ok()["logIn"]["token"]
        ws = await authenticated(server.ws_url, token)
        try:
            op_id = await ws.subscribe(EVENTS)
            await until_live(ws, probe(gql, token))
            todo = await create_todo(gql, token, "over the wire")
            event = await ws.receive()
            assert event == {
                "id": op_id,
                "type": "next",
                "payload": {
                    "data": {
                        "todoEvents": {
                            "kind": "CREATED",
                            "todoId": todo["id"],
                            "todo": {
                                "id": todo["id"],
                                "name": "over the wire",
                                "isCompleted": False,
                            },
                        }
                    }
                },
            }
        finally:
            await ws.close()
        page = (await gql(TODOS_PAGE, {"first": 1}, token=ada.token)).ok()["todos"]
        assert [e["node"]["name"] for e in page["edges"]] == ["over the wire"]


def probe(gql: GraphQLClient, token: str) -> Callable[[], Awaitable[str]]:
    """Creates a throw-away todo and returns its id: until_live's probe."""

    async def make() -> str:
        return str((await create_todo(gql, token, "probe"))["id"])

    return make


async def test_graphiql_is_served_to_a_browser(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "graphiql" in response.text.lower()


async def test_subscription_needs_a_valid_token(server: LiveServer) -> None:
    for payload in (None, {}, {"Authorization": "Bearer nonsense"}, {"authorization": "Basic x"}):
        ws = await TransportWSClient.connect(server.ws_url, payload)
        try:
            with pytest.raises(Exception) as closed:  # noqa: PT011 - websockets' ConnectionClosed
                await ws.receive()
            assert getattr(closed.value, "rcvd", None) is not None
            assert closed.value.rcvd.code == 4403  # type: ignore[attr-defined]
        finally:
            await ws.close()


async def test_events_reach_only_their_owner(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, "ada-events@example.com")
        bob = await sign_up(gql, "bob-events@example.com")
        ada_ws = await authenticated(server.ws_url, ada.token)
        bob_ws = await authenticated(server.ws_url, bob.token)
        try:
            await ada_ws.subscribe(EVENTS)
            await bob_ws.subscribe(EVENTS)
            await until_live(ada_ws, probe(gql, ada.token))
            await until_live(bob_ws, probe(gql, bob.token))
            todo = await create_todo(gql, ada.token, "ada's")
            await gql(
                "mutation U($id: ID!) { updateTodo(id: $id, input: {isCompleted: true}) { id } }",
                {"id": todo["id"]},
                token=ada.token,
            )
            await gql(
                "mutation D($id: ID!) { deleteTodo(id: $id) { id } }",
                {"id": todo["id"]},
                token=ada.token,
            )
            kinds = [
                (await ada_ws.receive())["payload"]["data"]["todoEvents"]["kind"] for _ in range(3)
            ]
            assert kinds == ["CREATED", "UPDATED", "DELETED"]
            # Bob's own change arrives; none of Ada's came before it.
            mine = await create_todo(gql, bob.token, "bob's")
            first_for_bob = await bob_ws.receive()
            assert first_for_bob["payload"]["data"]["todoEvents"]["todoId"] == mine["id"]
        finally:
            await ada_ws.close()
            await bob_ws.close()


def test_server_log_has_no_secrets(server: LiveServer) -> None:
    log = server.log()
    assert "correct horse battery" not in log
    assert "Bearer " not in log
    assert "$2b$" not in log
