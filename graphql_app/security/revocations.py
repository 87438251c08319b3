"""Access-token revocation with no storage read per request.

`changePassword`, `deleteAccount` and `logOutEverywhere` revoke every access
token of the user issued before them. Each instance keeps, in memory, the
latest revocation time of every user revoked within one access-token
lifetime (older tokens have expired anyway), and refuses a token whose `iat`
is earlier (TOKEN_REVOKED): a dictionary lookup per request.

How every instance learns of a revocation, within about a second:
- the instance that revokes writes it to storage first, then applies it and
  publishes it on the event bus (Redis pub/sub across instances);
- each instance, before it first checks a token, subscribes to the bus's
  revocation feed and then reads the revocations storage keeps (one storage
  read per process, not per request): an instance that starts late knows
  the earlier ones;
- when the feed is lost (a Redis outage), the instance reads storage again
  at most once a second until it is back, so it never trusts a stale set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from graphql_app.errors import ServiceUnavailable
from graphql_app.events import EventBus
from graphql_app.storage import Storage

log = logging.getLogger("graphql_app.revocations")

# Without the feed, storage is read again when the set is older than this.
STALE_AFTER_SECONDS = 1.0
PRUNE_FROM = 1024
# Tokens may claim an `iat` up to 60 s ahead (clock skew, security/tokens.py).
_SKEW = timedelta(seconds=60)


class Revocations:
    """The revocations of the last access-token lifetime, for every instance."""

    def __init__(
        self,
        storage: Storage,
        events: EventBus,
        access_ttl: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._storage = storage
        self._events = events
        self._keep = access_ttl + _SKEW
        self._clock = clock
        self._cutoffs: dict[str, float] = {}
        # Open subscriptions of each user, woken when a revocation of the user arrives.
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._prune_at = PRUNE_FROM
        self._live = False  # the feed is watched: the set is current
        self._loaded_at = -float("inf")  # time.monotonic() of the last storage read
        self._lock = asyncio.Lock()

    def revoked(self, user_id: str, issued_at: float) -> bool:
        """Whether a token of `user_id` issued at `issued_at` (epoch seconds) is revoked."""
        cutoff = self._cutoffs.get(user_id)
        return cutoff is not None and issued_at < cutoff

    async def ready(self) -> None:
        """Make sure the set is current: a no-op unless the feed is not (yet) watched.

        Raises ServiceUnavailable when storage cannot be read and the set is stale.
        """
        if self._live or time.monotonic() - self._loaded_at < STALE_AFTER_SECONDS:
            return
        async with self._lock:
            if self._live or time.monotonic() - self._loaded_at < STALE_AFTER_SECONDS:
                return
            # Watch first, then read: a revocation published in between is in one or both.
            live = await self._events.watch_revocations(self.apply, self._lost)
            since = self._clock() - self._keep
            for user_id, at in await self._storage.recent_revocations(since):
                self.apply(user_id, at.timestamp())
            self._loaded_at = time.monotonic()
            self._live = live

    async def warm_up(self) -> None:
        """At start-up: be ready before the first request (else that request reads)."""
        try:
            await self.ready()
        except ServiceUnavailable:
            log.warning("could not read token revocations at start-up; retrying per request")

    async def revoke(self, user_id: str) -> None:
        """Revoke every access and refresh token of `user_id` issued until now, on every
        instance.

        Stored first (an instance starting later reads it), then applied here
        before the mutation answers, then published to the other instances.
        """
        now = self._clock()
        await self._storage.revoke_tokens(user_id, now, keep_since=now - self._keep)
        self.apply(user_id, now.timestamp())
        await self._events.publish_revocation(user_id, now.timestamp())

    def apply(self, user_id: str, cutoff: float) -> None:
        """Take a revocation into account (from this instance, the feed or storage)."""
        if cutoff > self._cutoffs.get(user_id, -float("inf")):
            self._cutoffs[user_id] = cutoff
            for waiter in self._waiters.get(user_id, ()):
                waiter.set()
        self._prune()

    def waiter(self, user_id: str) -> asyncio.Event:
        """An event set whenever a newer revocation of `user_id` arrives; forget it after."""
        waiter = asyncio.Event()
        self._waiters.setdefault(user_id, set()).add(waiter)
        return waiter

    def forget_waiter(self, user_id: str, waiter: asyncio.Event) -> None:
        waiters = self._waiters.get(user_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[user_id]

    def _prune(self) -> None:
        # Entries older than a token's lifetime refuse only expired tokens: drop them,
        # whenever the set has doubled since the last pruning (amortised constant time).
        if len(self._cutoffs) < self._prune_at:
            return
        oldest = (self._clock() - self._keep).timestamp()
        self._cutoffs = {u: c for u, c in self._cutoffs.items() if c >= oldest}
        self._prune_at = max(PRUNE_FROM, 2 * len(self._cutoffs))

    def _lost(self) -> None:
        """The feed broke: revocations may be missed until storage is read again."""
        self._live = False
        self._loaded_at = -float("inf")
