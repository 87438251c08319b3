"""Who is calling: an access token checked, and checked again, against the revocations.

No storage read: the revocations every instance keeps in memory
(security/revocations.py) are read from storage once per process.
"""

from __future__ import annotations

from datetime import datetime

from graphql_app.errors import AuthReason, Unauthenticated
from graphql_app.security.tokens import AccessClaims, TokenError, TokenExpired
from graphql_app.services.deps import Deps

REVOKED_MESSAGE = (
    "Access token revoked (password changed, account deleted or logged out everywhere)"
)
EXPIRED_MESSAGE = "Access token expired; refresh it"


class IdentityService:
    """Access tokens in, callers out: one per process, shared by every request."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def identify(self, token: str) -> AccessClaims:
        """The caller an access token names.

        UNAUTHENTICATED with reason TOKEN_EXPIRED, TOKEN_INVALID or TOKEN_REVOKED;
        SERVICE_UNAVAILABLE when the revocations cannot be checked (fail closed:
        an unchecked token is not accepted).
        """
        deps = self.deps
        try:
            caller = deps.tokens.decode_access(token, deps.clock())
        except TokenExpired:
            raise Unauthenticated(EXPIRED_MESSAGE, AuthReason.TOKEN_EXPIRED) from None
        except TokenError:
            raise Unauthenticated("Invalid access token", AuthReason.TOKEN_INVALID) from None
        await deps.revocations.ready()
        self.check_revoked(caller)
        return caller

    def check_revoked(self, caller: AccessClaims) -> None:
        """UNAUTHENTICATED (TOKEN_REVOKED) once the caller's token is revoked, in memory.

        Checked again for each operation: a WebSocket connection lives on after
        its token is revoked, and must not act on it.
        """
        if self.deps.revocations.revoked(caller.user_id, caller.issued_at):
            raise Unauthenticated(REVOKED_MESSAGE, AuthReason.TOKEN_REVOKED)

    def seconds_until(self, expires_at: datetime) -> float:
        """Seconds until an access token that expires at `expires_at` does, by the app's clock."""
        return (expires_at - self.deps.clock()).total_seconds()
