"""The request time limit, which ends where the first write begins.

A request whose time limit passes before it has sent a write to storage is
cancelled: nothing changed, and SERVICE_UNAVAILABLE says so truthfully. Once a
write is on its way the limit is lifted, for the rest of the request: cancelling
then could leave a committed change behind an answer that says it failed (a
SQLite write finishes on its thread whatever happens to its caller; a
PostgreSQL statement may have committed before the cancel arrives). What
follows a write is bounded on its own: storage's query timeouts, and a
constant number of event publishes, each with its own timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_limit: ContextVar[asyncio.Timeout | None] = ContextVar("request_time_limit", default=None)


@contextmanager
def limit_until_first_write(limit: asyncio.Timeout) -> Iterator[None]:
    """Within this block, `write_begins()` lifts `limit` (an entered asyncio.timeout)."""
    token = _limit.set(limit)
    try:
        yield
    finally:
        _limit.reset(token)


def outlive_request_limit() -> None:
    """In a task started by a request that runs on after it (graphql-sse's single
    connection mode): the request's limit, already exited, is not this task's."""
    _limit.set(None)


def write_begins() -> None:
    """Call right before sending a write to storage: from here the request runs to its end.

    When the limit has already passed, the write is not sent: the request ends
    with the cancellation the limit asked for.
    """
    limit = _limit.get()
    if limit is None:
        return
    if limit.expired():
        raise asyncio.CancelledError  # the limit's own cancellation, delivered here
    if limit.when() is not None:
        limit.reschedule(None)
