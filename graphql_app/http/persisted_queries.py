"""Apollo's automatic persisted queries (APQ), in a bounded cache.

A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` without
the query; on a miss the server answers PERSISTED_QUERY_NOT_FOUND and the
client sends the query and the hash together, which the server checks and
remembers. The cache is an in-process LRU; with REDIS_URL it is shared by
every instance through Redis (keys under a prefix, with a TTL), the LRU
staying in front of it. Keys: `<REDIS_KEY_PREFIX>:apq:<sha256>`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("graphql_app.apq")

VERSION = 1
# The LRU holds at most this many characters of query text, whatever its entry count.
MAX_CACHED_CHARS = 32 * 1024 * 1024
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class PersistedQueryProblem(Exception):
    """An APQ extension the server cannot use; the message says why."""


@dataclass(frozen=True)
class PersistedQuery:
    sha256: str


def requested_persisted_query(extensions: dict[str, Any] | None) -> PersistedQuery | None:
    """The persisted query an operation's `extensions` name; None when it names none."""
    if not extensions or extensions.get("persistedQuery") is None:
        return None
    spec = extensions["persistedQuery"]
    if not isinstance(spec, dict):
        raise PersistedQueryProblem("extensions.persistedQuery must be an object")
    if spec.get("version") != VERSION:
        raise PersistedQueryProblem("Unsupported persisted query version")
    sha = spec.get("sha256Hash")
    if not isinstance(sha, str) or not _SHA256_HEX.fullmatch(sha):
        raise PersistedQueryProblem(
            "extensions.persistedQuery.sha256Hash must be a hex SHA-256 digest"
        )
    return PersistedQuery(sha.lower())


def check_hash(persisted: PersistedQuery, query: str) -> None:
    """Refuse a query whose SHA-256 is not the announced one (Apollo's message)."""
    if hashlib.sha256(query.encode("utf-8")).hexdigest() != persisted.sha256:
        raise PersistedQueryProblem("provided sha does not match query")


class QueryCache(Protocol):
    async def get(self, sha256: str) -> str | None:
        """The query text stored under this hash, if any."""

    async def put(self, sha256: str, query: str) -> None:
        """Remember a query whose hash was checked."""

    async def close(self) -> None:
        """Release connections."""


class LRUQueryCache:
    """In-process, bounded by entries and by characters; least recently used go first."""

    def __init__(self, max_entries: int, max_chars: int = MAX_CACHED_CHARS) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._chars = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, sha256: str) -> str | None:
        query = self._entries.get(sha256)
        if query is not None:
            self._entries.move_to_end(sha256)
        return query

    async def put(self, sha256: str, query: str) -> None:
        if len(query) > self.max_chars:
            return
        previous = self._entries.pop(sha256, None)
        if previous is not None:
            self._chars -= len(previous)
        self._entries[sha256] = query
        self._chars += len(query)
        while len(self._entries) > self.max_entries or self._chars > self.max_chars:
            _, evicted = self._entries.popitem(last=False)
            self._chars -= len(evicted)

    async def close(self) -> None:
        self._entries.clear()
        self._chars = 0


class RedisQueryCache:
    """Shared by every instance through Redis, with the LRU in front.

    Redis trouble never fails a request: a lookup then misses (the client
    sends the full query) and a store is skipped.
    """

    def __init__(self, redis: Redis, ttl: int, local: LRUQueryCache, key_prefix: str) -> None:
        self.redis = redis
        self.ttl = ttl
        self.local = local
        self.key_prefix = f"{key_prefix}:apq:"

    async def get(self, sha256: str) -> str | None:
        query = await self.local.get(sha256)
        if query is not None:
            return query
        try:
            stored = await self.redis.get(self.key_prefix + sha256)
        except RedisError as exc:
            log.warning("persisted query lookup failed, treating as a miss: %s", exc)
            return None
        if stored is None:
            return None
        query = stored.decode("utf-8") if isinstance(stored, bytes) else str(stored)
        await self.local.put(sha256, query)
        return query

    async def put(self, sha256: str, query: str) -> None:
        await self.local.put(sha256, query)
        try:
            await self.redis.set(self.key_prefix + sha256, query, ex=self.ttl)
        except RedisError as exc:
            log.warning("persisted query not shared through Redis: %s", exc)

    async def close(self) -> None:
        await self.local.close()
        await self.redis.aclose()


def open_query_cache(
    redis_url: str, max_entries: int, ttl: int, key_prefix: str = "graphql_app"
) -> QueryCache:
    """The APQ cache: shared through Redis when `redis_url` is set, else in-process."""
    local = LRUQueryCache(max_entries)
    if not redis_url:
        return local
    # Short socket timeouts: a stalled Redis must turn into a miss, not a stalled request.
    redis = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    return RedisQueryCache(redis, ttl, local, key_prefix)
