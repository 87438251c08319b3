"""The GraphiQL page and its assets, served by the server itself.

No CDN: the assets (vendored by scripts/vendor_graphiql.sh, licences in
static/graphiql/vendor/LICENSES/) come from this server, so GraphiQL works
offline and under a strict Content-Security-Policy: no inline script or
style, no eval, nothing from elsewhere.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/graphiql"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # GraphiQL's stylesheet embeds its fonts and icons as data: URLs.
        "font-src 'self' data:",
        "img-src 'self' data:",
        # 'self' covers ws:// and wss:// to this host too (subscriptions).
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


@cache
def _template() -> str:
    return (STATIC_DIR / "graphiql.html").read_text(encoding="utf-8")


def graphiql_page(request: Request) -> HTMLResponse:
    """The GraphiQL page for the endpoint `request` reached, with its CSP."""
    root = html.escape(request.scope.get("root_path", ""))
    page = (
        _template()
        .replace("{assets}", root + ASSETS_PATH)
        .replace("{endpoint}", html.escape(request.url.path))
    )
    return HTMLResponse(page, headers=SECURITY_HEADERS)


def graphiql_assets() -> StaticFiles:
    """The ASGI app serving GraphiQL's scripts and stylesheets (mount it at ASSETS_PATH)."""
    return StaticFiles(directory=STATIC_DIR / "graphiql")
