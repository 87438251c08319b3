"""The errors every layer raises, and the `extensions.code` each one carries.

    AppError                   INTERNAL_SERVER_ERROR
    ├── Unauthenticated        UNAUTHENTICATED (+ extensions.reason, an AuthReason)
    │   └── UserGone           (reason TOKEN_REVOKED)
    ├── BadUserInput           BAD_USER_INPUT (+ extensions.fields)
    ├── BadRequest             BAD_REQUEST: refused before any operation ran
    ├── NotFound               NOT_FOUND
    ├── Conflict               CONFLICT
    │   └── EmailTaken
    ├── RateLimited            RATE_LIMITED (+ extensions.retryAfter)
    ├── PersistedQueryNotFound PERSISTED_QUERY_NOT_FOUND
    └── ServiceUnavailable     SERVICE_UNAVAILABLE
        └── StorageRefused

Anything else that escapes a resolver is masked as INTERNAL_SERVER_ERROR
(schema/error_formatting.py, which also gives graphql-core's own errors
Apollo's GRAPHQL_PARSE_FAILED and GRAPHQL_VALIDATION_FAILED). Someone
else's todo is NOT_FOUND, never forbidden, so that its existence does not leak.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    """Every `extensions.code` a client may see (README, Errors); a str, as JSON writes it."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    BAD_REQUEST = "BAD_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


class AppError(Exception):
    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_SERVER_ERROR
    default_message: ClassVar[str] = "Internal server error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}

    @property
    def formatted(self) -> dict[str, Any]:
        """The error as a GraphQL response lists it, for refusals that never reach
        graphql-core (raised in a resolver, graphql-core copies `extensions` itself)."""
        return {"message": self.message, "extensions": self.extensions}


class AuthReason(StrEnum):
    """Why a request is UNAUTHENTICATED: what the client should do next (README, Errors).

    Names of reasons, not secrets: hence the S105 (hardcoded password) noqa.
    """

    TOKEN_MISSING = "TOKEN_MISSING"  # noqa: S105
    """No access token: log in."""
    TOKEN_INVALID = "TOKEN_INVALID"  # noqa: S105
    """Malformed, forged, of another kind or not Bearer: log in again."""
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105
    """A genuine token past its expiry: refresh it and retry."""
    TOKEN_REVOKED = "TOKEN_REVOKED"  # noqa: S105
    """Issued before a password change, log-out everywhere or account deletion: log in again."""
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    """logIn with an unknown email or a wrong password."""
    REFRESH_TOKEN_INVALID = "REFRESH_TOKEN_INVALID"  # noqa: S105
    """refreshToken with an unknown, expired or revoked refresh token: log in again."""
    REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED"  # noqa: S105
    """A refresh token used twice: its whole session is revoked (possible theft): log in again."""


class Unauthenticated(AppError):
    code = ErrorCode.UNAUTHENTICATED
    default_message = "Authentication required"

    def __init__(
        self, message: str | None = None, reason: AuthReason = AuthReason.TOKEN_MISSING
    ) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason.value}


class BadUserInput(AppError):
    code = ErrorCode.BAD_USER_INPUT
    default_message = "Invalid input"

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        super().__init__(message or "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "fields": self.fields}


class BadRequest(AppError):
    """A request refused before any operation ran: its JSON, parameters, size, CSRF
    headers, batch or persisted-query hash (Apollo Server's code for these)."""

    code = ErrorCode.BAD_REQUEST
    default_message = "Bad request"


class NotFound(AppError):
    code = ErrorCode.NOT_FOUND
    default_message = "Not found"


class Conflict(AppError):
    code = ErrorCode.CONFLICT
    default_message = "Conflict"


class RateLimited(AppError):
    code = ErrorCode.RATE_LIMITED
    default_message = "Too many requests, try again later"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": self.retry_after}


class PersistedQueryNotFound(AppError):
    """An automatic persisted query's hash the server does not know (yet): Apollo's cue
    to send the query with it. The message is the one Apollo Client matches."""

    code = ErrorCode.PERSISTED_QUERY_NOT_FOUND
    default_message = "PersistedQueryNotFound"


class ServiceUnavailable(AppError):
    code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "Storage is unavailable, try again shortly"


class StorageRefused(ServiceUnavailable):
    """Storage answered but refused our credentials: a configuration problem.

    Clients see SERVICE_UNAVAILABLE; `detail` is for the operator's log line.
    """

    def __init__(self, detail: str) -> None:
        super().__init__()
        self.detail = detail


class EmailTaken(Conflict):
    """Raised by storage when the unique email constraint refuses a write."""

    default_message = "A user with this email already exists"


ACCOUNT_GONE = "This account no longer exists"


class UserGone(Unauthenticated):
    """Raised by storage when the caller's user row no longer exists.

    Deleting an account revokes its tokens, so the reason is TOKEN_REVOKED.
    """

    default_message = ACCOUNT_GONE

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, AuthReason.TOKEN_REVOKED)
