"""The DateTime scalar of the contract: RFC 3339 with an explicit UTC offset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

# The text of the UTC instants answered lately (a page's times are answered again
# at each read of it): isoformat is most of a DateTime's cost, a lookup a tenth of
# it. Only exact datetimes in UTC go in, so equal keys are the same instant with
# the same offset, and the same text. Emptied when full, so bounded.
_TEXTS: dict[datetime, str] = {}
MAX_TEXTS = 4096


def serialize_datetime(value: datetime) -> str:
    if type(value) is not datetime or value.tzinfo is not UTC:
        # Storage hands out UTC already; anything else is converted.
        return value.astimezone(UTC).isoformat()
    text = _TEXTS.get(value)
    if text is None:
        if len(_TEXTS) >= MAX_TEXTS:
            _TEXTS.clear()
        text = _TEXTS[value] = value.isoformat()
    return text


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
