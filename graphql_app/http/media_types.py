"""Content negotiation for GraphQL over HTTP: which media type a response uses.

`application/graphql-response+json` (the spec's own, with meaningful status
codes) when the client prefers it, else `application/json` (always 200 for a
GraphQL result). A missing Accept header, `*/*` and `application/*` mean
`application/json`.

Streams are negotiated the same way (RFC 9110: by q-value, then by the order
the client lists them): `text/event-stream` (graphql-sse) and
`multipart/mixed;subscriptionSpec=1.0` (Apollo's multipart subscriptions).
A query or mutation streams only when the client prefers the stream to JSON;
a subscription streams whenever the client accepts a stream at all.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
EVENT_STREAM = "text/event-stream"
MULTIPART_MIXED = "multipart/mixed"

# Strawberry's names of the two HTTP stream protocols.
StreamProtocol = Literal["sse", "multipart-subscription"]
SSE: StreamProtocol = "sse"
MULTIPART_SUBSCRIPTION: StreamProtocol = "multipart-subscription"

_OFFERS = {
    GRAPHQL_RESPONSE_JSON: GRAPHQL_RESPONSE_JSON,
    APPLICATION_JSON: APPLICATION_JSON,
    "application/*": APPLICATION_JSON,
    "*/*": APPLICATION_JSON,
}
# Commas and semicolons inside a quoted parameter value do not split.
_ITEMS = re.compile(r'(?:[^,"]|"[^"]*")+')
_PARAMS = re.compile(r'(?:[^;"]|"[^"]*")+')


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One entry of an Accept header: `type/subtype`, its parameters, its q-value."""

    essence: str
    params: dict[str, str]
    quality: float


def _quality(value: str) -> float:
    try:
        return max(0.0, min(1.0, float(value)))
    except ValueError:
        return 0.0


def parse_accept(accept: str) -> list[MediaRange]:
    """The media ranges of an Accept header, in the order the client listed them."""
    ranges = []
    for item in _ITEMS.findall(accept):
        essence, *raw_params = (part.strip() for part in _PARAMS.findall(item))
        if not essence:
            continue
        params: dict[str, str] = {}
        quality = 1.0
        for param in raw_params:
            name, _, value = param.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "q":
                quality = _quality(value)
            elif name:
                params[name] = value
        ranges.append(MediaRange(essence.lower(), params, quality))
    return ranges


# Clients send few distinct Accept values: each is negotiated once (bounded, as choose_stream).
@functools.lru_cache(maxsize=256)
def negotiate(accept: str | None) -> str | None:
    """The media type to answer an `Accept` header with; None when it allows neither."""
    if accept is None or not accept.strip():
        return APPLICATION_JSON
    best: str | None = None
    best_quality = 0.0
    for media_range in parse_accept(accept):
        offer = _OFFERS.get(media_range.essence)
        # Ties go to the first listed range, as clients list their preference first.
        if offer is not None and media_range.quality > best_quality:
            best, best_quality = offer, media_range.quality
    return best


def _stream_of(media_range: MediaRange) -> StreamProtocol | None:
    if media_range.essence == EVENT_STREAM:
        return SSE
    if media_range.essence == MULTIPART_MIXED:
        # Apollo's multipart subscriptions only: a bare multipart/mixed (urql lists
        # it for @defer) or deferSpec is not a subscription stream.
        spec = media_range.params.get("subscriptionspec", "")
        boundary = media_range.params.get("boundary", "graphql")
        if spec.startswith("1.0") and boundary == "graphql":
            return MULTIPART_SUBSCRIPTION
    return None


@dataclass(frozen=True, slots=True)
class StreamChoice:
    """What an Accept header says about streams.

    `preferred`: the stream the client prefers to JSON (or the only thing it
    accepts), for any operation. `acceptable`: the best stream it accepts at
    all, for a subscription. `json`: whether it accepts a JSON response.
    """

    preferred: StreamProtocol | None
    acceptable: StreamProtocol | None
    json: bool


# Clients send few distinct Accept values: each is parsed once (bounded: any client may send any).
@functools.lru_cache(maxsize=256)
def choose_stream(accept: str | None) -> StreamChoice:
    """Rank JSON against the streams by q-value, ties going to the first listed."""
    if accept is None or not accept.strip():
        return StreamChoice(None, None, json=True)
    best_json: tuple[float, int] | None = None
    best_stream: tuple[float, int, StreamProtocol] | None = None
    for index, media_range in enumerate(parse_accept(accept)):
        if media_range.quality <= 0:
            continue
        rank = (media_range.quality, -index)
        if media_range.essence in _OFFERS:
            if best_json is None or rank > best_json:
                best_json = rank
        elif (stream := _stream_of(media_range)) is not None and (
            best_stream is None or rank > best_stream[:2]
        ):
            best_stream = (*rank, stream)
    if best_stream is None:
        return StreamChoice(None, None, json=best_json is not None)
    acceptable = best_stream[2]
    preferred = acceptable if best_json is None or best_stream[:2] > best_json else None
    # A multipart subscription stream carries subscriptions only: never for a query.
    if preferred == MULTIPART_SUBSCRIPTION:
        preferred = None
    return StreamChoice(preferred, acceptable, json=best_json is not None)
