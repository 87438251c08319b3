"""Rate limits on the auth mutations, per client IP and per account (the `limits` package).

- AUTH_RATE_LIMIT: every logIn, createUser and refreshToken operation from
  one client IP (one budget for the three).
- LOGIN_ACCOUNT_RATE_LIMIT: failed logIns per account (normalised email,
  stored only as a hash) and client IP; once spent, even the right password
  is refused from that IP until the window moves on, which is what stops
  password guessing. Counted per IP so that one attacker's failures cannot
  lock the owner out: the owner's right password from another IP gets in.
- LOGIN_ACCOUNT_CEILING: failed logIns per account across every IP; once
  spent, every log-in to the account is refused, so guessing spread over
  many addresses is capped too (at the price of locking the owner out while
  such an attack lasts).

Counting happens per operation in the services, so aliases and batched
operations each count. The client IP is passed in by the caller: the ASGI
peer's address, which behind trusted proxies (FORWARDED_ALLOW_IPS) uvicorn's
ProxyHeadersMiddleware has taken from X-Forwarded-For (schema/context.py).

The store is process memory, or Redis when REDIS_URL is set, so that every
instance shares the budgets. While Redis is unreachable the limits fall back
to process memory (logged) rather than either refusing every log-in or
dropping the protection.

Moving window, not fixed window: a fixed window lets a guesser spend the
budget twice around a window boundary; for budgets this small the moving
window's cost (one timestamp per hit) is nothing, and it is exact.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any, Literal

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from graphql_app.errors import RateLimited

log = logging.getLogger("graphql_app.rate_limits")

TIMEOUT_SECONDS = 2.0


async def _run(
    limiter: MovingWindowRateLimiter,
    operation: Literal["hit", "test"],
    item: RateLimitItem,
    ids: tuple[str, ...],
) -> bool:
    if operation == "hit":
        return await limiter.hit(item, *ids)
    return await limiter.test(item, *ids)


def _account_key(email: str) -> str:
    # Emails are personal data: the store (maybe a shared Redis) only sees a digest.
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _limits_url(redis_url: str) -> str:
    scheme, _, rest = redis_url.partition("://")
    scheme = {"unix": "redis+unix"}.get(scheme.lower(), scheme.lower())
    return f"async+{scheme}://{rest}"


class AuthRateLimits:
    """The two budgets; an empty notation turns one off. Connects to Redis on first use."""

    def __init__(
        self,
        per_ip: str,
        per_account: str,
        *,
        per_account_ceiling: str = "",
        redis_url: str = "",
        key_prefix: str = "graphql_app",
    ) -> None:
        self.per_ip: list[RateLimitItem] = parse_many(per_ip) if per_ip else []
        self.per_account: list[RateLimitItem] = parse_many(per_account) if per_account else []
        self.per_account_ceiling: list[RateLimitItem] = (
            parse_many(per_account_ceiling) if per_account_ceiling else []
        )
        self._fallback = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        self._pool: Any = None
        if redis_url and (self.per_ip or self.per_account or self.per_account_ceiling):
            from redis.asyncio import ConnectionPool

            # Our own pool (limits' storage has no close) so that close() releases it.
            self._pool = ConnectionPool.from_url(
                redis_url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
            )
            storage = storage_from_string(
                _limits_url(redis_url),
                implementation="redispy",
                key_prefix=f"{key_prefix}:limits",
                wrap_exceptions=True,
                connection_pool=self._pool,
            )
            self._shared = MovingWindowRateLimiter(storage)
        self._shared_down = False

    @classmethod
    def disabled(cls) -> AuthRateLimits:
        """No limits at all."""
        return cls("", "")

    async def hit_client(self, client: str) -> None:
        """Count one auth operation of the client (its IP); RATE_LIMITED when over budget."""
        ids = ("auth-ip", client)
        for item in self.per_ip:
            if not await self._call("hit", item, ids):
                raise RateLimited(await self._retry_after(item, ids))

    def _account_budgets(
        self, email: str, client: str
    ) -> list[tuple[list[RateLimitItem], tuple[str, ...]]]:
        """The failed-log-in budgets of an account: this client's, and everyone's."""
        account = _account_key(email)
        return [
            (self.per_account, ("login-account-ip", account, client)),
            (self.per_account_ceiling, ("login-account", account)),
        ]

    async def check_account(self, email: str, client: str) -> None:
        """RATE_LIMITED when this client has no failed log-ins left on this account, or
        the account none left from all clients together."""
        for items, ids in self._account_budgets(email, client):
            for item in items:
                if not await self._call("test", item, ids):
                    raise RateLimited(await self._retry_after(item, ids))

    async def record_failed_login(self, email: str, client: str) -> None:
        """Spend one failed log-in of this account, from this client."""
        for items, ids in self._account_budgets(email, client):
            for item in items:
                await self._call("hit", item, ids)

    async def _call(
        self, operation: Literal["hit", "test"], item: RateLimitItem, ids: tuple[str, ...]
    ) -> bool:
        if self._shared is not None:
            try:
                allowed = await _run(self._shared, operation, item, ids)
            except StorageError as exc:
                if not self._shared_down:
                    log.warning(
                        "rate-limit store unreachable (%s): limiting per instance meanwhile",
                        type(exc.storage_error).__name__,
                    )
                self._shared_down = True
            else:
                if self._shared_down:
                    log.warning("rate-limit store reachable again: limits are shared")
                self._shared_down = False
                return allowed
        return await _run(self._fallback, operation, item, ids)

    async def _retry_after(self, item: RateLimitItem, ids: tuple[str, ...]) -> int:
        limiter = self._fallback
        if self._shared is not None and not self._shared_down:
            limiter = self._shared
        try:
            stats = await limiter.get_window_stats(item, *ids)
            reset_at = stats.reset_time
        except StorageError:
            reset_at = time.time() + item.get_expiry()
        return max(1, math.ceil(reset_at - time.time()))

    async def close(self) -> None:
        """Release the Redis connections."""
        if self._pool is not None:
            await self._pool.disconnect()
