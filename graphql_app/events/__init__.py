"""The event bus behind the `todoEvents` subscription, and the revocation feed.

Chosen by the Redis URL, as storage is by the database URL: none, the
in-process bus (memory.py); `redis://`, `rediss://` or `unix://`, the Redis
bus (redis.py, imported only then, so only it needs the redis package), which
lets every instance's subscribers see the changes made on any instance, and
every instance learn the access-token revocations made on any other
(security/revocations.py). base.py holds what they share: the `EventBus`
Protocol and the subscriber's `EventStream`.
"""

from __future__ import annotations

from graphql_app.events.base import EventBus, EventStream

REDIS_SCHEMES = ("redis", "rediss", "unix")


def open_event_bus(redis_url: str, *, key_prefix: str) -> EventBus:
    """Build (without connecting) the bus that `redis_url` names: in-process when empty."""
    if not redis_url:
        from graphql_app.events.memory import InProcessEventBus

        return InProcessEventBus()
    scheme = redis_url.split(":", 1)[0].lower()
    if scheme in REDIS_SCHEMES:
        from graphql_app.events.redis import RedisEventBus

        return RedisEventBus(redis_url, key_prefix=key_prefix)
    raise ValueError(f"unsupported event bus URL scheme {scheme!r}")


__all__ = ["EventBus", "EventStream", "open_event_bus"]
