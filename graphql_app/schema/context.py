"""The per-request context: services, the caller's identity, DataLoaders.

The access token is decoded once here, and checked against the revocations
every instance keeps in memory; no storage read happens unless a resolver
needs the user row.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from graphql_app.errors import AppError, AuthReason, ServiceUnavailable, Unauthenticated
from graphql_app.schema.dataloaders import Loaders
from graphql_app.security.tokens import TokenError, TokenExpired
from graphql_app.services import Deps
from graphql_app.services.todos import TodoService
from graphql_app.services.users import AccountService

REVOKED_MESSAGE = (
    "Access token revoked (password changed, account deleted or logged out everywhere)"
)


@dataclass
class Services:
    deps: Deps
    accounts: AccountService
    todos: TodoService

    @classmethod
    def build(cls, deps: Deps) -> Services:
        return cls(deps, AccountService(deps), TodoService(deps))


@dataclass
class Context:
    services: Services
    loaders: Loaders
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    user_id: str | None = None
    # Why the caller is anonymous: what require_user_id raises (UNAUTHENTICATED, or
    # SERVICE_UNAVAILABLE when revocations cannot be checked).
    auth_problem: AppError = field(default_factory=Unauthenticated)
    token_expires_at: datetime | None = None
    token_issued_at: float = 0.0
    # True on graphql-transport-ws, whose connection closes with 4403 when the
    # token expires; otherwise each subscription ends itself with UNAUTHENTICATED.
    expiry_closes_connection: bool = False
    # Set by Strawberry from a WebSocket's connection_init payload.
    connection_params: dict[str, Any] | None = field(default=None)

    def require_user_id(self) -> str:
        """The caller's user id; UNAUTHENTICATED without a valid access token.

        Revocation is checked again here, in memory: a WebSocket connection
        lives on after its token is revoked, and must not act on it.
        """
        if self.user_id is not None and self.services.deps.revocations.revoked(
            self.user_id, self.token_issued_at
        ):
            self.user_id = None
            self.auth_problem = Unauthenticated(REVOKED_MESSAGE, AuthReason.TOKEN_REVOKED)
        if self.user_id is None:
            raise self.auth_problem
        return self.user_id

    async def authenticate_connection(self) -> AppError | None:
        """Authenticate by a WebSocket connection_init's `Authorization`; the refusal, if any."""
        params = self.connection_params or {}
        authorization = next(
            (v for k, v in params.items() if k.lower() == "authorization" and isinstance(v, str)),
            None,
        )
        await self.authenticate(authorization)
        return self.auth_problem if self.user_id is None else None

    async def authenticate(self, authorization: str | None) -> None:
        """Take the caller's identity from an `Authorization: Bearer <token>` value.

        No storage read: revocations are kept in memory (security/revocations.py),
        read from storage once per process.
        """
        self.user_id = None
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
        deps = self.services.deps
        try:
            claims = deps.tokens.decode_access(token.strip(), deps.clock())
        except TokenExpired:
            self.auth_problem = Unauthenticated(
                "Access token expired; refresh it", AuthReason.TOKEN_EXPIRED
            )
            return
        except TokenError:
            self.auth_problem = Unauthenticated("Invalid access token", AuthReason.TOKEN_INVALID)
            return
        try:
            await deps.revocations.ready()
        except ServiceUnavailable as exc:
            self.auth_problem = exc  # fail closed: an unchecked token is not accepted
            return
        self.user_id = claims.user_id
        self.token_expires_at = claims.expires_at
        self.token_issued_at = claims.issued_at
        with contextlib.suppress(Unauthenticated):
            self.require_user_id()  # a revoked token leaves the caller anonymous
