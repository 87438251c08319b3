"""Subscriptions over both WebSocket protocols, against a real uvicorn process.

Every test runs over graphql-transport-ws and over the legacy graphql-ws,
each driven by its own client written from the protocol's spec
(tests/support/ws_client.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.environment import sqlite_env
from tests.support.graphql_client import GraphQLClient, create_todo, sign_up
from tests.support.live_server import LiveServer, live_server
from tests.support.ws_client import (
    LEGACY_WS,
    PROTOCOLS,
    TRANSPORT_WS,
    OperationMessage,
    WSClient,
    authenticated,
    connect,
    event_of,
    until_live,
)

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("protocol", PROTOCOLS)]

EVENTS = "subscription { todoEvents { kind todoId todo { id name isCompleted } } }"
MAX_SUBSCRIPTIONS = 2
SHORT_TTL = 3


def server_env(workdir: Path, **extra: str) -> dict[str, str]:
    return sqlite_env(
        workdir,
        "ws",
        MAX_SUBSCRIPTIONS_PER_CONNECTION=str(MAX_SUBSCRIPTIONS),
        WS_KEEP_ALIVE_INTERVAL="0.5",
        **extra,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("ws")
    with live_server(workdir, server_env(workdir)) as running:
        yield running


@pytest.fixture(scope="module")
def short_token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Access tokens live SHORT_TTL seconds here: long enough to subscribe, then they expire."""
    workdir = tmp_path_factory.mktemp("ws-ttl")
    env = server_env(workdir, ACCESS_TOKEN_TTL=str(SHORT_TTL))
    with live_server(workdir, env) as running:
        yield running


def probe_maker(gql: GraphQLClient, token: str) -> Callable[[], Awaitable[str]]:
    """Makes a change that subscribers of the token's user hear of; returns the todo id."""

    async def probe() -> str:
        return str((await create_todo(gql, token, "probe"))["id"])

    return probe


async def live_subscription(
    ws: WSClient, gql: GraphQLClient, token: str, query: str = EVENTS
) -> str:
    """Subscribe to todoEvents and wait until events flow."""
    op_id = await ws.subscribe(query)
    await until_live(ws, probe_maker(gql, token))
    return op_id


async def first_message_of(
    ws: WSClient, op_id: str, make_probe: Callable[[], Awaitable[str]]
) -> OperationMessage:
    """The first message about `op_id`, making probe changes until there is one."""
    for _ in range(50):
        await make_probe()
        try:
            while (message := await ws.operation_message(timeout=0.2)).id != op_id:
                pass
        except TimeoutError:
            continue
        return message
    raise AssertionError(f"nothing arrived for operation {op_id}")


async def test_events_arrive_in_order(server: LiveServer, protocol: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, f"order-{protocol}@example.com")
        ws = await authenticated(server.ws_url, ada.token, protocol)
        try:
            op_id = await live_subscription(ws, gql, ada.token)
            todo = await create_todo(gql, ada.token, "buy milk")
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
            messages = [await ws.operation_message() for _ in range(3)]
        finally:
            await ws.close()
    assert {m.id for m in messages} == {op_id}
    assert [event_of(m) for m in messages] == [
        {
            "kind": "CREATED",
            "todoId": todo["id"],
            "todo": {"id": todo["id"], "name": "buy milk", "isCompleted": False},
        },
        {
            "kind": "UPDATED",
            "todoId": todo["id"],
            "todo": {"id": todo["id"], "name": "buy milk", "isCompleted": True},
        },
        {"kind": "DELETED", "todoId": todo["id"], "todo": None},
    ]


BULK_EVENTS = (
    "subscription { todoEvents { kind todoId todo { id } filter { isCompleted } count updatedAt } }"
)


async def test_bulk_changes_arrive_as_one_event_each(server: LiveServer, protocol: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, f"bulk-{protocol}@example.com")
        todos = [await create_todo(gql, ada.token, f"t{i}", done=i == 0) for i in range(4)]
        ws = await authenticated(server.ws_url, ada.token, protocol)
        try:
            op_id = await live_subscription(ws, gql, ada.token, BULK_EVENTS)
            counts = (
                "{ all: todos { totalCount } "
                "open: todos(filter: {isCompleted: false}) { totalCount } }"
            )
            counted = (await gql(counts, token=ada.token)).ok()  # the probes are open todos too
            total, open_ = counted["all"]["totalCount"], counted["open"]["totalCount"]
            set_all = "mutation { setAllTodosCompleted(isCompleted: true) }"
            assert (await gql(set_all, token=ada.token)).ok() == {"setAllTodosCompleted": open_}
            assert (await gql(set_all, token=ada.token)).ok() == {"setAllTodosCompleted": 0}
            clear = "mutation { clearCompletedTodos }"
            assert (await gql(clear, token=ada.token)).ok() == {"clearCompletedTodos": total}
            marker = await create_todo(gql, ada.token, "after the bulk changes")
            messages = [await ws.operation_message() for _ in range(3)]
        finally:
            await ws.close()
    assert {m.id for m in messages} == {op_id}
    updated, cleared, created = (event_of(m) for m in messages)
    # One event per bulk change (none for the one that changed nothing), whose id is no todo's.
    assert updated["kind"] == "BULK_UPDATED"
    assert open_ >= 3
    assert (updated["filter"], updated["count"], updated["todo"]) == (
        {"isCompleted": False},
        open_,
        None,
    )
    assert updated["updatedAt"] is not None
    assert cleared["kind"] == "CLEARED"
    assert (cleared["filter"], cleared["count"], cleared["updatedAt"]) == (
        {"isCompleted": True},
        total,
        None,
    )
    assert {updated["todoId"], cleared["todoId"]}.isdisjoint(t["id"] for t in todos)
    assert (created["kind"], created["todoId"], created["filter"]) == (
        "CREATED",
        marker["id"],
        None,
    )


@pytest.mark.parametrize(
    "payload",
    [None, {}, {"Authorization": "Bearer nonsense"}, {"authorization": "Basic x"}],
    ids=["no-payload", "no-token", "bad-token", "not-bearer"],
)
async def test_connection_without_a_valid_token_is_refused(
    server: LiveServer, protocol: str, payload: dict[str, str] | None
) -> None:
    ws = await connect(server.ws_url, payload, protocol)
    try:
        if protocol == LEGACY_WS:
            # subscriptions-transport-ws: connection_error, then the server closes with
            # 4403, as graphql-transport-ws does.
            refusal = await ws.receive()
            assert refusal["type"] == "connection_error", refusal
            assert refusal["payload"]["message"]
            assert refusal["payload"]["extensions"]["code"] == "UNAUTHENTICATED"
            code, _ = await ws.closed()
            assert code == 4403
        else:
            code, _ = await ws.closed()
            assert code == 4403
    finally:
        await ws.close()


async def test_an_expired_token_ends_the_subscription(
    short_token_server: LiveServer, protocol: str
) -> None:
    server = short_token_server
    async with httpx.AsyncClient(base_url=server.url) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, f"expiry-{protocol}@example.com")
        ws = await authenticated(server.ws_url, ada.token, protocol)
        try:
            op_id = await live_subscription(ws, gql, ada.token)
            if protocol == TRANSPORT_WS:
                # The connection closes; graphql-ws clients reconnect with a fresh token.
                code, reason = await ws.closed(timeout=SHORT_TTL + 5)
                assert (code, reason) == (4403, "TOKEN_EXPIRED")
            else:
                ended = await ws.operation_message(timeout=SHORT_TTL + 5)
                assert ended.kind == "next"
                assert ended.id == op_id
                assert [e["extensions"] for e in ended.payload["errors"]] == [
                    {"code": "UNAUTHENTICATED", "reason": "TOKEN_EXPIRED"}
                ]
                assert await ws.operation_message() == OperationMessage("complete", op_id)
                # The connection's token is spent: a new subscription is refused.
                again = await ws.subscribe(EVENTS)
                refused = await ws.operation_message()
                assert (refused.kind, refused.id) == ("error", again)
                assert refused.payload["extensions"]["code"] == "UNAUTHENTICATED"
        finally:
            await ws.close()


async def test_subscriptions_per_connection_are_bounded(server: LiveServer, protocol: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, f"bounded-{protocol}@example.com")
        ws = await authenticated(server.ws_url, ada.token, protocol)
        try:
            first = await live_subscription(ws, gql, ada.token)
            await ws.subscribe(EVENTS)
            one_too_many = await ws.subscribe(EVENTS)
            refused = await ws.operation_message()
            assert (refused.kind, refused.id) == ("error", one_too_many)
            errors = refused.payload if isinstance(refused.payload, list) else [refused.payload]
            assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"]
            assert "Subscription limit reached" in errors[0]["message"]
            # Stopping one makes room for another.
            await ws.stop(first)
            if protocol == LEGACY_WS:  # graphql-transport-ws does not answer a `complete`
                assert await ws.operation_message() == OperationMessage("complete", first)
            third = await ws.subscribe(EVENTS)
            accepted = await first_message_of(ws, third, probe_maker(gql, ada.token))
            assert event_of(accepted)["kind"] == "CREATED"
        finally:
            await ws.close()


async def test_the_server_keeps_the_connection_alive(server: LiveServer, protocol: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        ada = await sign_up(GraphQLClient(http), f"alive-{protocol}@example.com")
    ws = await authenticated(server.ws_url, ada.token, protocol)
    try:
        kinds = [(await ws.keep_alive())["type"] for _ in range(2)]
    finally:
        await ws.close()
    assert kinds == [ws.keep_alive_type] * 2
