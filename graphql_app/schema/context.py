"""The per-request context: the request's services, the caller's identity and address.

The `Authorization` value is read here (HTTP header, or a WebSocket's
connection_init payload); the token itself is checked by the identity service
(services/identity.py), against the revocations every instance keeps in
memory: no storage read happens unless a resolver needs the user row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from graphql_app.errors import AppError, AuthReason, Unauthenticated
from graphql_app.security.tokens import AccessClaims
from graphql_app.services import Services

UNKNOWN_CLIENT = "unknown"


def client_address(request: Request | WebSocket | None) -> str:
    """The client's IP address: the ASGI peer's.

    Behind trusted proxies (FORWARDED_ALLOW_IPS), uvicorn's ProxyHeadersMiddleware
    has already put the client's address there, from X-Forwarded-For.
    """
    peer = request.client if request is not None else None
    return peer.host if peer is not None and peer.host else UNKNOWN_CLIENT


@dataclass
class Context:
    services: Services
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    # The client's IP address, which the rate-limited services take (client_address).
    client: str = UNKNOWN_CLIENT
    # The caller's verified access token; None: anonymous, or the token was revoked since.
    caller: AccessClaims | None = None
    # When that token expires; kept after a revocation: a WebSocket connection still
    # closes then (http/websocket.py).
    token_expires_at: datetime | None = None
    # Why the caller is anonymous: what require_user_id raises (UNAUTHENTICATED, or
    # SERVICE_UNAVAILABLE when revocations cannot be checked).
    auth_problem: AppError = field(default_factory=Unauthenticated)
    # True on graphql-transport-ws, whose connection closes with 4403 when the
    # token expires; otherwise each subscription ends itself with UNAUTHENTICATED.
    expiry_closes_connection: bool = False
    # Set by Strawberry from a WebSocket's connection_init payload.
    connection_params: dict[str, Any] | None = field(default=None)

    @property
    def user_id(self) -> str | None:
        """The caller's user id; None when anonymous (observability logs it)."""
        return self.caller.user_id if self.caller is not None else None

    def read_afresh(self) -> None:
        """Start an operation on a WebSocket connection, whose context lives as long
        as the connection: its reads go to storage, not to what earlier operations'
        DataLoaders hold (a page read, then changed, then read again)."""
        self.services = self.services.renewed()

    def require_caller(self) -> AccessClaims:
        """The caller's access token; UNAUTHENTICATED without a valid one.

        Revocation is checked again here, in memory: a WebSocket connection
        lives on after its token is revoked, and must not act on it.
        """
        if self.caller is not None:
            try:
                self.services.identity.check_revoked(self.caller)
            except Unauthenticated as exc:
                self.caller = None
                self.auth_problem = exc
        if self.caller is None:
            raise self.auth_problem
        return self.caller

    def require_user_id(self) -> str:
        """The caller's user id; UNAUTHENTICATED without a valid access token."""
        return self.require_caller().user_id

    def seconds_left(self) -> float | None:
        """Seconds until the access token expires, by the app's clock; None: no token."""
        if self.token_expires_at is None:
            return None
        return self.services.identity.seconds_until(self.token_expires_at)

    async def authenticate_connection(self) -> AppError | None:
        """Authenticate by a WebSocket connection_init's `Authorization`; the refusal, if any."""
        params = self.connection_params or {}
        authorization = next(
            (v for k, v in params.items() if k.lower() == "authorization" and isinstance(v, str)),
            None,
        )
        await self.authenticate(authorization)
        return self.auth_problem if self.caller is None else None

    async def authenticate(self, authorization: str | None) -> None:
        """Take the caller's identity from an `Authorization: Bearer <token>` value."""
        self.caller = None
        scheme, _, token = (authorization or "").strip().partition(" ")
        if not scheme:
            self.auth_problem = Unauthenticated(reason=AuthReason.TOKEN_MISSING)
            return
        if scheme.lower() != "bearer":
            self.auth_problem = Unauthenticated(
                "Authorization must be 'Bearer <token>'", AuthReason.TOKEN_INVALID
            )
            return
        if not token.strip():
            self.auth_problem = Unauthenticated(
                "Authorization 'Bearer' has no token", AuthReason.TOKEN_MISSING
            )
            return
        try:
            self.caller = await self.services.identity.identify(token.strip())
        except AppError as exc:  # UNAUTHENTICATED, or SERVICE_UNAVAILABLE: fail closed
            self.auth_problem = exc
            return
        self.token_expires_at = self.caller.expires_at
