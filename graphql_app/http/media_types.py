"""Content negotiation for GraphQL over HTTP: which media type a response uses.

`application/graphql-response+json` (the spec's own, with meaningful status
codes) when the client prefers it, else `application/json` (always 200 for a
GraphQL result). A missing Accept header, `*/*` and `application/*` mean
`application/json`.
"""

from __future__ import annotations

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"

_OFFERS = {
    GRAPHQL_RESPONSE_JSON: GRAPHQL_RESPONSE_JSON,
    APPLICATION_JSON: APPLICATION_JSON,
    "application/*": APPLICATION_JSON,
    "*/*": APPLICATION_JSON,
}


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0
    return 1.0


def negotiate(accept: str | None) -> str | None:
    """The media type to answer an `Accept` header with; None when it allows neither."""
    if accept is None or not accept.strip():
        return APPLICATION_JSON
    best: str | None = None
    best_quality = 0.0
    for part in accept.split(","):
        media_range, *params = part.split(";")
        offer = _OFFERS.get(media_range.strip().lower())
        quality = _quality(params)
        # Ties go to the first listed range, as clients list their preference first.
        if offer is not None and quality > best_quality:
            best, best_quality = offer, quality
    return best
