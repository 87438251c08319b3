"""The event bus over Redis pub/sub: subscribers see the changes of every instance.

The only module of graphql_app.events that imports redis.

One channel per user (`<prefix>:todo-events:<user id>`), so a subscriber can
only ever receive its own user's events. A message carries the whole event,
the todo serialised, so no subscriber reads storage to render it.

Each process holds one pub/sub connection, shared by all its subscribers: a
channel is subscribed while at least one local subscriber of that user
exists, and one reader task fans the messages out to the local streams.

Access-token revocations travel on one channel (`<prefix>:token-revocations`)
that every instance watches (security/revocations.py).

Outages: publishing an event logs and gives up (the mutation has happened;
it must not fail); publishing a revocation raises SERVICE_UNAVAILABLE, as the
other instances would otherwise go on accepting the revoked tokens. When the
pub/sub connection breaks, every live stream ends with SERVICE_UNAVAILABLE
instead of resuming silently: events published during the outage are lost,
and a client told its stream ended knows to subscribe again and refetch.
Nothing connects before the first publish or subscribe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from graphql_app.errors import ServiceUnavailable
from graphql_app.events.base import EventStream, OnLost, OnRevoked
from graphql_app.models import Todo, TodoEvent, TodoEventKind

log = logging.getLogger("graphql_app.events")

LIVE_UPDATES_DOWN = "Live updates are unavailable; subscribe again shortly"
REVOCATION_NOT_SENT = "Could not tell every server about the revocation; try again shortly"
TIMEOUT_SECONDS = 2.0
OUTAGES = (RedisError, OSError)


def encode_event(event: TodoEvent) -> str:
    """The event as a JSON message: everything a subscriber renders."""
    todo = event.todo
    return json.dumps(
        {
            "kind": event.kind.value,
            "user_id": event.user_id,
            "todo_id": event.todo_id,
            "todo": None
            if todo is None
            else {
                "id": todo.id,
                "user_id": todo.user_id,
                "name": todo.name,
                "is_completed": todo.is_completed,
                "created_at": todo.created_at.isoformat(),
                "updated_at": todo.updated_at.isoformat(),
            },
            "matched": event.matched,
            "count": event.count,
            "at": None if event.updated_at is None else event.updated_at.isoformat(),
        },
        separators=(",", ":"),
    )


def decode_event(raw: bytes | str) -> TodoEvent:
    """The event of an `encode_event` message; ValueError (or KeyError) when malformed."""
    data: dict[str, Any] = json.loads(raw)
    todo = data["todo"]
    return TodoEvent(
        kind=TodoEventKind(data["kind"]),
        user_id=str(data["user_id"]),
        todo_id=str(data["todo_id"]),
        todo=None
        if todo is None
        else Todo(
            id=str(todo["id"]),
            user_id=str(todo["user_id"]),
            name=str(todo["name"]),
            is_completed=bool(todo["is_completed"]),
            created_at=datetime.fromisoformat(todo["created_at"]),
            updated_at=datetime.fromisoformat(todo["updated_at"]),
        ),
        # Absent from the messages of instances that predate bulk events.
        matched=None if data.get("matched") is None else bool(data["matched"]),
        count=None if data.get("count") is None else int(data["count"]),
        updated_at=None if data.get("at") is None else datetime.fromisoformat(data["at"]),
    )


def _keepalive_options() -> dict[int, int]:
    # A pub/sub connection is idle for long stretches: let TCP notice a vanished server.
    names = {"TCP_KEEPIDLE": 30, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 3}
    return {getattr(socket, n): v for n, v in names.items() if hasattr(socket, n)}


class RedisEventBus:
    """Fan-out through Redis pub/sub, across every instance sharing the server."""

    def __init__(
        self, url: str, *, key_prefix: str = "graphql_app", confirm_timeout: float = 5.0
    ) -> None:
        self._url = url
        self._channel_prefix = f"{key_prefix}:todo-events:"
        self._revocation_channel = f"{key_prefix}:token-revocations"
        self._revocation_watchers: list[tuple[OnRevoked, OnLost]] = []
        self._watching_revocations = False
        self._confirm_timeout = confirm_timeout
        self._publisher: Redis | None = None
        self._listener: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._streams: dict[str, set[EventStream]] = {}
        # SUBSCRIBE commands sent per channel and not yet confirmed, and the
        # signal that the latest one was: from then on every publish reaches us.
        self._unconfirmed: dict[str, int] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()

    def channel(self, user_id: str) -> str:
        """The Redis channel of one user's events."""
        return self._channel_prefix + user_id

    def _client(self, retries: int) -> Redis:
        retry = Retry(ExponentialBackoff(cap=0.5), retries) if retries else Retry(NoBackoff(), 0)
        return Redis.from_url(
            self._url,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            socket_keepalive=True,
            socket_keepalive_options=_keepalive_options(),
            retry=retry,
        )

    async def publish(self, event: TodoEvent) -> None:
        if self._publisher is None:
            # One retry covers a pooled connection that died with a Redis restart.
            self._publisher = self._client(retries=1)
        try:
            await self._publisher.publish(self.channel(event.user_id), encode_event(event))
        except OUTAGES as exc:
            log.warning(
                "Redis publish failed (%s): this %s event reaches no subscriber",
                type(exc).__name__,
                event.kind.value,
            )

    async def publish_revocation(self, user_id: str, cutoff: float) -> None:
        if self._publisher is None:
            self._publisher = self._client(retries=1)
        message = json.dumps({"user_id": user_id, "cutoff": cutoff}, separators=(",", ":"))
        try:
            await self._publisher.publish(self._revocation_channel, message)
        except OUTAGES as exc:
            log.warning("Redis publish of a token revocation failed (%s)", type(exc).__name__)
            raise ServiceUnavailable(REVOCATION_NOT_SENT) from None

    async def watch_revocations(self, on_revoked: OnRevoked, on_lost: OnLost) -> bool:
        channel = self._revocation_channel
        try:
            async with self._lock:
                if all(watcher is not on_revoked for watcher, _ in self._revocation_watchers):
                    self._revocation_watchers.append((on_revoked, on_lost))
                if self._watching_revocations:
                    return True
                await self._subscribe_channel(channel)
                confirmed = self._confirmed[channel]
            async with asyncio.timeout(self._confirm_timeout):
                await confirmed.wait()
        except (*OUTAGES, TimeoutError) as exc:
            log.warning("the Redis revocation feed is unavailable (%s)", type(exc).__name__)
            if isinstance(exc, OUTAGES) and self._pubsub is not None:
                await self._reset(self._pubsub)  # its connection is broken
            return False
        async with self._lock:
            # A reset while we waited clears the confirmation: not watching after all.
            self._watching_revocations = channel in self._confirmed
            return self._watching_revocations

    async def subscribe(self, user_id: str) -> EventStream:
        stream = EventStream(user_id, self._release)
        try:
            confirmed = await self._join(stream)
            async with asyncio.timeout(self._confirm_timeout):
                await confirmed.wait()
            if stream.ended:  # the connection broke while we waited
                raise ServiceUnavailable(LIVE_UPDATES_DOWN)
        except TimeoutError:
            log.warning("Redis did not confirm a subscription in %ss", self._confirm_timeout)
            await stream.aclose()
            raise ServiceUnavailable(LIVE_UPDATES_DOWN) from None
        except BaseException:  # refused, or cancelled: forget the stream either way
            await stream.aclose()
            raise
        return stream

    async def _join(self, stream: EventStream) -> asyncio.Event:
        """Add `stream`; subscribe its channel if it is the first. The confirmation to wait for."""
        channel = self.channel(stream.user_id)
        failure: Exception | None = None
        async with self._lock:
            streams = self._streams.setdefault(channel, set())
            streams.add(stream)
            if len(streams) == 1:
                try:
                    await self._subscribe_channel(channel)
                except OUTAGES as exc:
                    failure = exc
            confirmed = self._confirmed.get(channel)
        if failure is None and confirmed is not None:
            return confirmed
        log.warning("Redis subscribe failed (%s)", type(failure).__name__)
        if self._pubsub is not None:
            await self._reset(self._pubsub)  # its connection is broken: end every stream
        raise ServiceUnavailable(LIVE_UPDATES_DOWN) from failure

    async def _subscribe_channel(self, channel: str) -> None:
        if self._pubsub is None:
            if self._listener is None:
                # No silent reconnect: a broken connection must end the streams (module doc).
                self._listener = self._client(retries=0)
            self._pubsub = self._listener.pubsub()
        self._unconfirmed[channel] = self._unconfirmed.get(channel, 0) + 1
        self._confirmed[channel] = asyncio.Event()
        await self._pubsub.subscribe(channel)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(self._pubsub))

    async def _forget(self, stream: EventStream) -> None:
        """Drop `stream` (lock held); unsubscribe its channel when it was the last one."""
        channel = self.channel(stream.user_id)
        streams = self._streams.get(channel)
        if streams is None or stream not in streams:
            return
        streams.discard(stream)
        if streams:
            return
        del self._streams[channel]
        self._confirmed.pop(channel, None)
        if self._pubsub is not None and self._pubsub.connection is not None:
            # On failure the reader notices the broken connection and resets.
            with contextlib.suppress(*OUTAGES):
                await self._pubsub.unsubscribe(channel)

    async def _release(self, stream: EventStream) -> None:
        async with self._lock:
            await self._forget(stream)

    async def _read(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is not None:
                    self._dispatch(message)
        except (*OUTAGES, RuntimeError) as exc:
            log.warning(
                "lost the Redis pub/sub connection (%s): ending %d live subscription(s)",
                type(exc).__name__,
                sum(len(s) for s in self._streams.values()),
            )
            await self._reset(pubsub)

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        if message["type"] == "subscribe":
            left = self._unconfirmed.get(channel, 1) - 1
            self._unconfirmed[channel] = left
            if left <= 0:
                self._unconfirmed.pop(channel, None)
                confirmed = self._confirmed.get(channel)
                if confirmed is not None:
                    confirmed.set()
        elif message["type"] == "message" and channel == self._revocation_channel:
            try:
                revocation = json.loads(message["data"])
                user_id, cutoff = str(revocation["user_id"]), float(revocation["cutoff"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignored a malformed message on the token-revocations channel")
                return
            for on_revoked, _ in list(self._revocation_watchers):
                on_revoked(user_id, cutoff)
        elif message["type"] == "message":
            try:
                event = decode_event(message["data"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignored a malformed message on a todo-events channel")
                return
            for stream in list(self._streams.get(channel, ())):
                stream.deliver(event)

    async def _reset(self, pubsub: PubSub) -> None:
        """After a broken connection: end every stream; the next subscribe reconnects."""
        async with self._lock:
            streams = [s for group in self._streams.values() for s in group]
            self._streams.clear()
            self._unconfirmed.clear()
            for confirmed in self._confirmed.values():
                confirmed.set()  # wake waiting subscribers; they find their stream ended
            self._confirmed.clear()
            if self._pubsub is pubsub:
                self._pubsub = None
            for stream in streams:
                stream.end(ServiceUnavailable(LIVE_UPDATES_DOWN))
            lost = self._revocation_watchers if self._watching_revocations else []
            self._watching_revocations = False
        for _, on_lost in lost:
            on_lost()
        with contextlib.suppress(*OUTAGES):
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        self._revocation_watchers.clear()
        self._watching_revocations = False
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait({reader})
        async with self._lock:
            for group in self._streams.values():
                for stream in group:
                    stream.end()
            self._streams.clear()
            for confirmed in self._confirmed.values():
                confirmed.set()
            self._confirmed.clear()
            pubsub, self._pubsub = self._pubsub, None
        for resource in (pubsub, self._listener, self._publisher):
            if resource is not None:
                with contextlib.suppress(*OUTAGES):
                    await resource.aclose()
        self._listener = self._publisher = None
