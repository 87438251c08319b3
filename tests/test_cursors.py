"""Cursors: every position survives the round trip; anything else is BAD_USER_INPUT, never a 500."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from graphql_app.cursors import decode_cursor, encode_cursor, to_micros
from graphql_app.models import Position
from tests.support.graphql_client import TODOS_PAGE, GraphQLClient, sign_up

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def forged(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@settings(max_examples=300, deadline=None)
@given(
    created_at=st.datetimes(min_value=EPOCH.replace(tzinfo=None), timezones=st.just(UTC)),
    todo_id=st.text(alphabet=st.characters(codec="utf-8"), min_size=1),
)
def test_every_position_survives_the_round_trip(created_at: datetime, todo_id: str) -> None:
    """Up to the last microsecond of year 9999 (18 digits), and whatever the id holds.

    Mutants graphql_app.cursors.x_decode_cursor__mutmut_19 (the id cut at its last
    colon), 27 (18-digit times refused) and 33 (the id dropped).
    """
    position = Position(created_at=created_at, id=todo_id)
    assert decode_cursor(encode_cursor(position)) == position


def test_the_latest_position_has_18_digits() -> None:
    latest = datetime.max.replace(tzinfo=UTC)
    assert len(str(to_micros(latest))) == 18
    assert decode_cursor(encode_cursor(Position(latest, "z"))).created_at == latest


async def test_forged_cursors_are_bad_user_input(gql: GraphQLClient) -> None:
    """A cursor the server could not have made is refused, naming `after`.

    Mutants graphql_app.cursors.x_decode_cursor__mutmut_21 (`and` before the length:
    "12a" accepted, a 500), 22 and 23 (a cursor without an id accepted). 19 digits are
    refused twice over, by their length and by from_micros (OverflowError): `> 19`
    (mutmut_28) is in tests/mutation_equivalent.txt.
    """
    ada = await sign_up(gql, "forged-cursor@example.com")
    for raw in (
        "p1:1000000000000000000:id",  # 19 digits: after year 9999
        "p1:12a:id",
        "p1:123:",  # no id
        "p1::id",  # no time
        "p1:123",  # no separator
        "p1:-5:id",
        "p2:123:id",
    ):
        result = await gql(TODOS_PAGE, {"first": 5, "after": forged(raw)}, token=ada.token)
        assert result.status == 200, raw
        assert result.codes == ["BAD_USER_INPUT"], (raw, result.body)
        assert list(result.errors[0]["extensions"]["fields"]) == ["after"]
