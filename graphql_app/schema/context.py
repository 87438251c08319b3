"""The per-request context: services, the caller's identity, DataLoaders.

The access token is decoded once here; no storage read happens unless a
resolver needs the user row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from graphql_app.errors import AuthReason, Unauthenticated
from graphql_app.schema.dataloaders import Loaders
from graphql_app.security.tokens import TokenError, TokenExpired
from graphql_app.services import Deps
from graphql_app.services.todos import TodoService
from graphql_app.services.users import AccountService


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
    # Why the caller is anonymous: what require_user_id raises.
    auth_problem: Unauthenticated = field(default_factory=Unauthenticated)
    token_expires_at: datetime | None = None
    # True on graphql-transport-ws, whose connection closes with 4403 when the
    # token expires; otherwise each subscription ends itself with UNAUTHENTICATED.
    expiry_closes_connection: bool = False
    # Set by Strawberry from a WebSocket's connection_init payload.
    connection_params: dict[str, Any] | None = field(default=None)

    def require_user_id(self) -> str:
        """The caller's user id; UNAUTHENTICATED without a valid access token."""
        if self.user_id is None:
            raise self.auth_problem
        return self.user_id

    def authenticate_connection(self) -> Unauthenticated | None:
        """Authenticate by a WebSocket connection_init's `Authorization`; the refusal, if any."""
        params = self.connection_params or {}
        authorization = next(
            (v for k, v in params.items() if k.lower() == "authorization" and isinstance(v, str)),
            None,
        )
        self.authenticate(authorization)
        return self.auth_problem if self.user_id is None else None

    def authenticate(self, authorization: str | None) -> None:
        """Take the caller's identity from an `Authorization: Bearer <token>` value."""
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
        self.user_id = claims.user_id
        self.token_expires_at = claims.expires_at
