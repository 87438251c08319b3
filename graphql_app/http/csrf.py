"""CSRF prevention as Apollo Server does it.

A browser sends a cross-origin request without a CORS preflight only when it
is "simple": GET, or POST with a `Content-Type` of text/plain,
application/x-www-form-urlencoded or multipart/form-data, and no custom
header. Such a request is refused before anything runs, unless it carries a
non-empty `X-Apollo-Operation-Name` or `Apollo-Require-Preflight` header
(which a page on another origin cannot set without a preflight that CORS
then refuses). `Content-Type: application/json`, which Apollo Client sends
on every request, GETs included, is never simple.
"""

from __future__ import annotations

from collections.abc import Mapping

SIMPLE_CONTENT_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
PREFLIGHT_HEADERS = ("x-apollo-operation-name", "apollo-require-preflight")

REFUSAL = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF)."
    " Please either specify a 'content-type' header (with a type that is not one of"
    " application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide a"
    " non-empty value for one of the following headers: x-apollo-operation-name,"
    " apollo-require-preflight"
)


def _media_type(content_type: str) -> str | None:
    essence = content_type.split(";", 1)[0].strip().lower()
    kind, slash, subtype = essence.partition("/")
    if not slash or not kind or not subtype:
        return None
    return essence


def needs_preflight(headers: Mapping[str, str]) -> bool:
    """Whether a browser would have preflighted this request (and CORS vetted it)."""
    content_type = headers.get("content-type")
    if content_type is not None:
        media_type = _media_type(content_type)
        # A type we cannot parse counts as simple, as in Apollo Server: refuse rather than guess.
        if media_type is not None and media_type not in SIMPLE_CONTENT_TYPES:
            return True
    return any(headers.get(name, "").strip() for name in PREFLIGHT_HEADERS)
