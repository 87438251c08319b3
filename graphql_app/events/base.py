"""What every event bus is: the `EventBus` Protocol, a subscriber's `EventStream`, the callbacks.

The buses themselves live beside it (memory.py, redis.py); `open_event_bus`
in `graphql_app.events` picks one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from graphql_app.errors import AppError, ServiceUnavailable
from graphql_app.models import TodoEvent

OnRevoked = Callable[[str, float], None]
"""Called with (user id, cutoff in epoch seconds) for each revocation published."""
OnLost = Callable[[], None]
"""Called when a revocation watch breaks: revocations may have been missed."""

QUEUE_LIMIT = 1000
FELL_BEHIND = "Live updates fell behind; subscribe again"


class EventStream:
    """One subscriber's events, in the order they were published.

    An async iterator over a queue. Waiting for the next event may be
    cancelled (by a timeout, say) without losing an event or ending the
    stream. The stream ends when the bus closes (the iterator stops) or fails
    (the iterator raises the bus's error, e.g. SERVICE_UNAVAILABLE). A
    subscriber that falls QUEUE_LIMIT events behind is ended with an error
    rather than silently skipping events or growing memory.
    """

    def __init__(
        self, user_id: str, release: Callable[[EventStream], Awaitable[None]] | None = None
    ) -> None:
        self.user_id = user_id
        self._queue: asyncio.Queue[TodoEvent | AppError | None] = asyncio.Queue()
        self._release = release
        self._ended = False

    @property
    def ended(self) -> bool:
        return self._ended

    def deliver(self, event: TodoEvent) -> None:
        """Queue `event` for this subscriber (called by the bus)."""
        if self._ended:
            return
        if self._queue.qsize() >= QUEUE_LIMIT:
            self.end(ServiceUnavailable(FELL_BEHIND))
            return
        self._queue.put_nowait(event)

    def end(self, error: AppError | None = None) -> None:
        """End the stream after the queued events: cleanly, or with `error`."""
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(error)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> TodoEvent:
        item = await self._queue.get()
        if isinstance(item, TodoEvent):
            return item
        self._queue.put_nowait(item)  # the end stays the end for any later call
        if item is None:
            raise StopAsyncIteration
        raise item

    async def aclose(self) -> None:
        """Stop receiving; the bus forgets this subscriber."""
        self.end()
        release, self._release = self._release, None
        if release is not None:
            await release(self)


class EventBus(Protocol):
    async def publish(self, event: TodoEvent) -> None:
        """Deliver `event` to every subscriber of its user; never raises for a bus outage."""

    async def subscribe(self, user_id: str) -> EventStream:
        """A stream of one user's events, live when this returns.

        Every event published after the call returns reaches the stream.
        Raises ServiceUnavailable when the bus cannot subscribe.
        """

    async def publish_revocation(self, user_id: str, cutoff: float) -> None:
        """Tell every instance's watchers; ServiceUnavailable when the bus cannot."""

    async def watch_revocations(self, on_revoked: OnRevoked, on_lost: OnLost) -> bool:
        """Call `on_revoked` for every revocation published from now on, on any instance.

        True once watching; False (logged) when the feed is unavailable. After
        a True, `on_lost` is called if the watch breaks; watch again then.
        """

    async def close(self) -> None:
        """End every stream and release connections."""
