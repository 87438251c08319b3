"""Who a WebSocket is: the token in connection_init, checked before anything is acknowledged.

In process (httpx-ws over ASGI), so outside the slow suite; the protocols
themselves, with their real client libraries, are tests/test_websocket_protocols.py.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette
from wsproto.events import Message

from tests.support.clock import Clock, leave_until_expiry
from tests.support.graphql_client import GraphQLClient, create_todo, sign_up

EVENTS = "subscription { todoEvents { kind todoId } }"


@contextlib.asynccontextmanager
async def connect(app: Starlette) -> AsyncIterator[AsyncWebSocketSession]:
    """A graphql-transport-ws socket to the app (opened and closed in the test's own task:
    the transport's task group must not cross from a fixture's setup to its teardown)."""
    transport = ASGIWebSocketTransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        aconnect_ws(
            "/graphql",
            client,
            subprotocols=["graphql-transport-ws"],
            session_class=AsyncWebSocketSession,
        ) as ws,
    ):
        yield ws


async def receive(ws: AsyncWebSocketSession) -> dict[str, Any]:
    """The next message, text or binary frame alike (the server sends its JSON as bytes)."""
    event = await ws.receive(timeout=5)
    assert isinstance(event, Message), event
    message: dict[str, Any] = json.loads(event.data)
    return message


async def refusal(app: Starlette, payload: dict[str, Any]) -> tuple[int, str]:
    async with connect(app) as ws:
        await ws.send_json({"type": "connection_init", "payload": payload})
        with pytest.raises(WebSocketDisconnect) as closed:
            await receive(ws)
    return closed.value.code, closed.value.reason


async def test_the_token_in_connection_init_identifies_the_subscriber(
    gql: GraphQLClient, app: Starlette
) -> None:
    """Other parameters beside it, `Authorization` in any case. Mutants of
    graphql_app.schema.context.xǁContextǁauthenticate_connection that read another
    parameter or none (__mutmut_1-5, 7-12) or refuse a good token (14); on its way, the
    body limit's pass-through of WebSockets (graphql_app.http.body_limit
    xǁBodyLimitMiddlewareǁ__call____mutmut_6-11)."""
    ada = await sign_up(gql, "ws-auth@example.com")
    async with connect(app) as ws:
        payload = {"clientName": "tests", "Authorization": f"Bearer {ada.token}"}
        await ws.send_json({"type": "connection_init", "payload": payload})
        assert (await receive(ws))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
        todo = await create_todo(gql, ada.token, "heard over the socket")
        message = await receive(ws)
        assert message["type"] == "next", message
        assert message["payload"]["data"]["todoEvents"] == {"kind": "CREATED", "todoId": todo["id"]}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"clientName": "tests"},
        {"Authorization": 12345},
        {"Authorization": "Bearer not-a-token"},
    ],
)
async def test_a_connection_without_a_valid_token_is_closed_4403(
    app: Starlette, payload: dict[str, Any]
) -> None:
    """Never acknowledged. Mutants graphql_app.schema.context
    xǁContextǁauthenticate_connection__mutmut_6 (next() without a default: an error, not
    4403), 13 and 15 (the refusal dropped)."""
    code, _ = await refusal(app, payload)
    assert code == 4403


async def test_at_expiry_the_connection_closes_and_its_subscriptions_do_not_end_first(
    gql: GraphQLClient, app: Starlette, clock: Clock
) -> None:
    """On graphql-transport-ws the token's expiry closes the connection with 4403 and
    the reason, which the client's retry logic reads; its subscriptions do not end
    themselves with an error first. Mutant graphql_app.services.todos
    xǁTodoServiceǁ_watch__mutmut_7 (each subscription watches the expiry too: an
    UNAUTHENTICATED error on it before the close). By the app's clock, moved by hand,
    the connection starts 3 s before the expiry and the subscription 0.5 s before, so
    a subscription that watched would speak long before the close."""
    ada = await sign_up(gql, "ws-expiry@example.com")
    leave_until_expiry(clock, ada.token, 3)
    async with connect(app) as ws:
        payload = {"Authorization": f"Bearer {ada.token}"}
        await ws.send_json({"type": "connection_init", "payload": payload})
        assert (await receive(ws))["type"] == "connection_ack"
        leave_until_expiry(clock, ada.token, 0.5)
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
        todo = await create_todo(gql, ada.token, "just before the expiry")
        assert (await receive(ws))["payload"]["data"]["todoEvents"]["todoId"] == todo["id"]
        leave_until_expiry(clock, ada.token, -1)  # expired
        with pytest.raises(WebSocketDisconnect) as closed:
            await receive(ws)
    assert (closed.value.code, closed.value.reason) == (4403, "TOKEN_EXPIRED")
