"""What every service shares, built once per process by create_app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from graphql_app.events import EventBus
from graphql_app.rate_limits import AuthRateLimits
from graphql_app.security.passwords import PasswordHasher
from graphql_app.security.revocations import Revocations
from graphql_app.security.tokens import TokenService
from graphql_app.storage import Storage

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    """What the services share: built once per process by create_app."""

    storage: Storage
    events: EventBus
    passwords: PasswordHasher
    tokens: TokenService
    clock: Clock = utc_now
    rate_limits: AuthRateLimits = field(default_factory=AuthRateLimits.disabled)
    # Built from the above: the access-token revocations every instance shares.
    revocations: Revocations = field(init=False)

    def __post_init__(self) -> None:
        self.revocations = Revocations(
            self.storage, self.events, self.tokens.access_ttl, self.clock
        )

    async def close(self) -> None:
        """Release what the process holds: connections, threads (the app's shutdown)."""
        await self.events.close()
        await self.rate_limits.close()
        await self.storage.close()
        self.passwords.close()
