"""The errors every layer raises, and the `extensions.code` each one carries.

    AppError
    ├── Unauthenticated        UNAUTHENTICATED (+ extensions.reason, an AuthReason)
    ├── Forbidden              FORBIDDEN
    ├── BadUserInput           BAD_USER_INPUT (+ extensions.fields)
    ├── NotFound               NOT_FOUND
    ├── Conflict               CONFLICT
    ├── RateLimited            RATE_LIMITED (+ extensions.retryAfter)
    ├── PersistedQueryNotFound PERSISTED_QUERY_NOT_FOUND
    └── ServiceUnavailable     SERVICE_UNAVAILABLE

Anything else that escapes a resolver is masked as INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class AppError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    default_message: ClassVar[str] = "Internal server error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}


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
    code = "UNAUTHENTICATED"
    default_message = "Authentication required"

    def __init__(
        self, message: str | None = None, reason: AuthReason = AuthReason.TOKEN_MISSING
    ) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason.value}


class Forbidden(AppError):
    code = "FORBIDDEN"
    default_message = "Forbidden"


class BadUserInput(AppError):
    code = "BAD_USER_INPUT"
    default_message = "Invalid input"

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        super().__init__(message or "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "fields": self.fields}


class NotFound(AppError):
    code = "NOT_FOUND"
    default_message = "Not found"


class Conflict(AppError):
    code = "CONFLICT"
    default_message = "Conflict"


class RateLimited(AppError):
    code = "RATE_LIMITED"
    default_message = "Too many requests, try again later"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": self.retry_after}


class PersistedQueryNotFound(AppError):
    code = "PERSISTED_QUERY_NOT_FOUND"
    default_message = "PersistedQueryNotFound"


class ServiceUnavailable(AppError):
    code = "SERVICE_UNAVAILABLE"
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
