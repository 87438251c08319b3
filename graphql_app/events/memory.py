"""The in-process event bus: fan-out to the subscribers of this process only.

Right for exactly one process (README "Running several instances"); with more,
the Redis bus (redis.py) carries the events and revocations between them.
"""

from __future__ import annotations

from collections import defaultdict

from graphql_app.events.base import EventStream, OnLost, OnRevoked
from graphql_app.models import TodoEvent


class InProcessEventBus:
    """Fan-out to subscribers of this process only."""

    def __init__(self) -> None:
        self._streams: defaultdict[str, set[EventStream]] = defaultdict(set)
        self._revocation_watchers: list[OnRevoked] = []

    async def publish(self, event: TodoEvent) -> None:
        for stream in list(self._streams.get(event.user_id, ())):
            stream.deliver(event)

    async def subscribe(self, user_id: str) -> EventStream:
        stream = EventStream(user_id, self._release)
        self._streams[user_id].add(stream)
        return stream

    async def _release(self, stream: EventStream) -> None:
        streams = self._streams.get(stream.user_id)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._streams[stream.user_id]

    async def publish_revocation(self, user_id: str, cutoff: float) -> None:
        for on_revoked in list(self._revocation_watchers):
            on_revoked(user_id, cutoff)

    async def watch_revocations(self, on_revoked: OnRevoked, on_lost: OnLost) -> bool:
        if on_revoked not in self._revocation_watchers:
            self._revocation_watchers.append(on_revoked)
        return True

    async def close(self) -> None:
        self._revocation_watchers.clear()
        for streams in self._streams.values():
            for stream in streams:
                stream.end()
        self._streams.clear()
