"""What one HTTP request did, gathered while it runs, for its log line.

The request log middleware opens a record; the GraphQL layer adds the
operations it ran, the caller's user id and the error codes it returned.
A context variable carries it, so the tasks of a batch (which copy the
context) all write to the same record.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class OperationRecord:
    name: str | None
    type: str
    error_codes: list[str] = field(default_factory=list)


@dataclass
class RequestRecord:
    """Only names, ids and codes: never variables, headers or bodies (they hold secrets)."""

    request_id: str
    user_id: str | None = None
    operations: list[OperationRecord] = field(default_factory=list)
    # Codes of refusals outside any operation (CSRF, bad JSON, body too large...).
    error_codes: list[str] = field(default_factory=list)


_record: ContextVar[RequestRecord | None] = ContextVar("request_record", default=None)


def open_record(request_id: str) -> RequestRecord:
    """Start the record of the request being served."""
    record = RequestRecord(request_id)
    _record.set(record)
    return record


def current_record() -> RequestRecord | None:
    """The record of the request being served; None outside an HTTP request."""
    return _record.get()
