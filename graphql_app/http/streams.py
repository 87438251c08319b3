"""Strawberry's HTTP stream transports, framed as the clients parse them.

- Server-sent events end their lines with LF, as graphql-sse and graphql-yoga
  send them: urql's `fetchSubscriptions` splits events on a blank line, `\\n\\n`,
  and never delivers an event framed with CRLF.
- A multipart subscription answers with one media type,
  `multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"`, as Apollo
  Client expects (Strawberry sends a comma list with `application/json`).

Both plug in through Strawberry's `stream_transport_classes_by_protocol`,
and both answer Strawberry's `accepts(accept)` by this package's content
negotiation (media_types.py): Strawberry streams an operation over the
transport that accepts the request's Accept header, so a transport accepts
only when the client prefers it to JSON, by q-value. A subscription streams
whenever the client accepts a stream at all: the view picks that one itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from strawberry.http.streaming import (
    HTTPStreamTransport,
    MultipartSubscriptionTransport,
    SSETransport,
)
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL

from graphql_app.http.media_types import choose_stream

MULTIPART_CONTENT_TYPE = 'multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"'


def sse_event(event: str, data: str = "") -> str:
    """One server-sent event, LF-framed; `data` must be one line (compact JSON is)."""
    if "\n" in data or "\r" in data:
        raise ValueError("SSE event data must be a single line")
    return f"event: {event}\ndata: {data}\n\n"


def _preferred(transport: HTTPStreamTransport, accept: str) -> bool:
    return choose_stream(accept).preferred == transport.protocol


class LFSSETransport(SSETransport):
    """graphql-sse's distinct connections mode, with LF line endings."""

    def accepts(self, accept: str) -> bool:
        return _preferred(self, accept)

    def encode_event(self, event: str, data: str | None = None) -> str:
        return sse_event(event, data or "")

    def encode_comment(self, comment: str) -> str:
        return f": {comment}\n\n"


class ApolloMultipartTransport(MultipartSubscriptionTransport):
    """Apollo's multipart subscriptions, under one valid Content-Type."""

    def accepts(self, accept: str) -> bool:
        return _preferred(self, accept)  # never for a query (choose_stream)

    @property
    def headers(self) -> Mapping[str, str]:
        # As Strawberry's SSE transport: no cache or proxy may hold parts back
        # (nginx buffers a response unless told X-Accel-Buffering: no).
        return {
            "Content-Type": MULTIPART_CONTENT_TYPE,
            "Cache-Control": "no-cache, no-transform",
            "X-Accel-Buffering": "no",
        }


STREAM_TRANSPORTS: Mapping[str, type[HTTPStreamTransport]] = {
    GRAPHQL_SSE_PROTOCOL: LFSSETransport,
    MULTIPART_SUBSCRIPTION_PROTOCOL: ApolloMultipartTransport,
}
