"""The id of the request being served, for logs and masked errors."""

from __future__ import annotations

import os
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str | None) -> str:
    """Use the client's id when it is short and printable; make one otherwise."""
    if not value or len(value) > 128 or not value.isprintable() or not value.isascii():
        value = new_request_id()
    _request_id.set(value)
    return value


def new_request_id() -> str:
    """A random UUID (version 4) in hex, as `uuid.uuid4().hex` writes it, without
    building a UUID object for every request."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    return raw.hex()
