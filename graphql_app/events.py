"""The event bus behind the `todoEvents` subscription.

In-process by default; a Redis-backed bus (same interface) lets every
instance's subscribers see changes made on any instance.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Protocol

from graphql_app.models import TodoEvent

QUEUE_LIMIT = 1000


class EventBus(Protocol):
    async def publish(self, event: TodoEvent) -> None:
        """Deliver `event` to every subscriber of its user."""

    def subscribe(self, user_id: str) -> AsyncIterator[TodoEvent]:
        """The events of one user's todos, from now on, until the iterator is closed."""

    async def close(self) -> None:
        """Stop delivering and release connections."""


class InProcessEventBus:
    """Fan-out to subscribers of this process only."""

    def __init__(self) -> None:
        self._queues: defaultdict[str, set[asyncio.Queue[TodoEvent]]] = defaultdict(set)

    async def publish(self, event: TodoEvent) -> None:
        for queue in list(self._queues.get(event.user_id, ())):
            if queue.qsize() < QUEUE_LIMIT:  # a stalled subscriber must not grow memory
                queue.put_nowait(event)

    async def subscribe(self, user_id: str) -> AsyncIterator[TodoEvent]:
        queue: asyncio.Queue[TodoEvent] = asyncio.Queue()
        self._queues[user_id].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            subscribers = self._queues.get(user_id)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._queues[user_id]

    async def close(self) -> None:
        self._queues.clear()
