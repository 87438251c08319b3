"""The DateTime scalar: RFC 3339 text with an explicit offset, in UTC, whatever it was given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from graphql_app.schema import scalars
from graphql_app.schema.scalars import parse_datetime, serialize_datetime

INSTANT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


class Moment(datetime):
    """A datetime subclass with a text of its own."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "moment"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (INSTANT, "2026-01-02T03:04:05.678901+00:00"),
        (INSTANT.replace(microsecond=0), "2026-01-02T03:04:05+00:00"),
        # The same instant elsewhere, answered (and remembered) in UTC.
        (INSTANT.astimezone(timezone(timedelta(hours=2))), "2026-01-02T03:04:05.678901+00:00"),
        (INSTANT.astimezone(timezone(timedelta(0))), "2026-01-02T03:04:05.678901+00:00"),
    ],
)
def test_a_datetime_is_answered_in_utc(value: datetime, text: str) -> None:
    for _ in range(2):  # once worked out, once remembered
        assert serialize_datetime(value) == text


def test_remembered_texts_are_only_those_of_exact_utc_datetimes() -> None:
    scalars._TEXTS.clear()
    elsewhere = INSTANT.astimezone(timezone(timedelta(hours=-5)))
    assert serialize_datetime(elsewhere) == "2026-01-02T03:04:05.678901+00:00"
    assert scalars._TEXTS == {}  # equal to INSTANT, but not its text: not remembered
    moment = Moment(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert serialize_datetime(moment) == moment.astimezone(UTC).isoformat()
    assert serialize_datetime(INSTANT) == "2026-01-02T03:04:05.678901+00:00"
    assert list(scalars._TEXTS) == [INSTANT]


def test_remembered_texts_stay_bounded() -> None:
    scalars._TEXTS.clear()
    for n in range(scalars.MAX_TEXTS + 10):
        value = INSTANT + timedelta(microseconds=n)
        assert serialize_datetime(value) == value.isoformat()
        assert len(scalars._TEXTS) <= scalars.MAX_TEXTS


def test_a_datetime_without_an_offset_is_refused() -> None:
    assert parse_datetime("2026-01-02T03:04:05Z") == INSTANT.replace(microsecond=0)
    with pytest.raises(ValueError, match="explicit UTC offset"):
        parse_datetime("2026-01-02T03:04:05")
