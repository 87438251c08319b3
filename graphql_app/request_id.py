"""The id of the request being served, for logs and masked errors."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str | None) -> str:
    """Use the client's id when it is short and printable; make one otherwise."""
    if not value or len(value) > 128 or not value.isprintable() or not value.isascii():
        value = uuid.uuid4().hex
    _request_id.set(value)
    return value
