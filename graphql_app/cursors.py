"""Opaque pagination cursors: a Position, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

from graphql_app.models import Position

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PREFIX = "p1:"


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch, exact (no float rounding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def encode_cursor(position: Position) -> str:
    raw = f"{_PREFIX}{to_micros(position.created_at)}:{position.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names; ValueError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("not a cursor") from exc
    if not raw.startswith(_PREFIX):
        raise ValueError("not a cursor")
    micros, sep, todo_id = raw[len(_PREFIX) :].partition(":")
    if not sep or not todo_id or not micros.isdigit() or len(micros) > 18:
        raise ValueError("not a cursor")
    try:
        created_at = from_micros(int(micros))
    except OverflowError as exc:  # past year 9999: no todo was made then
        raise ValueError("not a cursor") from exc
    return Position(created_at=created_at, id=todo_id)
