"""A clock the tests move by hand (the `clock` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt


class Clock:
    """A clock the tests move by hand: time travel instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        # Each reading advances 1 µs, like a real clock: creation times stay distinct.
        self.now += timedelta(microseconds=1)
        return self.now

    def travel(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def leave_until_expiry(clock: Clock, access_token: str, seconds: float) -> None:
    """Set the clock `seconds` before the access token expires (by its `exp` claim,
    whole seconds: the token's lifetime is up to a second short of the TTL)."""
    expires = jwt.decode(access_token, options={"verify_signature": False})["exp"]
    clock.now = datetime.fromtimestamp(expires - seconds, UTC)
