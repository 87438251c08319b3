"""A clock the tests move by hand (the `clock` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


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
