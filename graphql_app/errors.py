"""The errors every layer raises, and the `extensions.code` each one carries.

    AppError
    ├── Unauthenticated        UNAUTHENTICATED
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


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"
    default_message = "Authentication required"


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


class UserGone(Unauthenticated):
    """Raised by storage when the caller's user row no longer exists."""

    default_message = "This account no longer exists"
