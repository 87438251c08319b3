"""A request body size limit, on Content-Length and on chunked bodies alike.

Pure ASGI: a declared Content-Length over the limit is refused (413) before
a byte of the body is read; a body without one (chunked) is counted as it
streams in and refused as soon as it passes the limit, never buffered whole.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphql_app.errors import BadRequest
from graphql_app.http.responses import error_response
from graphql_app.request_record import current_record


class BodyTooLarge(Exception):
    """Raised into the app when the streamed body passes the limit."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self) -> BadRequest:
        return BadRequest(f"The request body is larger than the limit of {self.max_bytes} bytes")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = self._error()
        record = current_record()
        if record is not None:
            record.error_codes.append(error.code)
        # Close the connection: the unread rest of the body must not be taken for a request.
        response = error_response(413, error, headers={"connection": "close"})
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # the server refuses a malformed length itself
                if declared > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)
