"""The DateTime scalar of the contract: RFC 3339 with an explicit UTC offset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry


def serialize_datetime(value: datetime) -> str:
    # Storage hands out UTC already; converting anyway costs a third of the call.
    return (value if value.tzinfo is UTC else value.astimezone(UTC)).isoformat()


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be a string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs an explicit UTC offset")
    return parsed


DateTime = strawberry.scalar(
    name="DateTime",
    description="An instant in time, RFC 3339 / ISO 8601 with an explicit UTC offset.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
