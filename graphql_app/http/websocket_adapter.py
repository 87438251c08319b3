"""The socket under both WebSocket protocols: text frames out, bounded JSON objects in.

- Every message goes out as a text frame: graphql-ws (the client library under
  Apollo's GraphQLWsLink, urql, GraphiQL) and Python gql parse only text.
- A message larger than MAX_BODY_BYTES closes the socket with 1009 (Message
  Too Big, RFC 6455), as uvicorn does before the app sees it when served by
  `python -m graphql_app serve` (its `ws_max_size` is set to the same limit).
- A message that is not a JSON object closes the socket with 4400 (Bad
  Request), on either protocol, without a traceback in the log.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.http.exceptions import NonTextMessageReceived, WebSocketDisconnected

from graphql_app.http.responses import encode
from graphql_app.http.websocket_messages import BAD_REQUEST_CLOSE

MESSAGE_TOO_BIG_CLOSE = 1009
NOT_AN_OBJECT = "A message must be a JSON object"


def too_big_reason(limit: int) -> str:
    return f"A message may be at most {limit} bytes"


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's ASGI WebSocket adapter, sending text and reading bounded objects."""

    def __init__(
        self,
        view: AsyncBaseHTTPView[Any, Any, Any, Any, Any, Any, Any],
        request: WebSocket,
        response: WebSocket,
    ) -> None:
        super().__init__(view, request, response)
        self.max_bytes: int = view.settings.max_body_bytes  # type: ignore[attr-defined]

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        ws = self.ws
        while ws.application_state != WebSocketState.DISCONNECTED:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                raise NonTextMessageReceived  # each protocol closes as it specifies
            # A character is at most 4 bytes in UTF-8: encode only when it may matter.
            if len(text) * 4 > self.max_bytes and len(text.encode()) > self.max_bytes:
                await self.close(MESSAGE_TOO_BIG_CLOSE, too_big_reason(self.max_bytes))
                return
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                value = None
            if not isinstance(value, dict):
                await self.close(BAD_REQUEST_CLOSE, NOT_AN_OBJECT)
                return
            yield value

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(encode(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc
