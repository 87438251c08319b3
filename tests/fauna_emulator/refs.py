"""Ref construction: `ref(collection, id)` and the legacy string form (fauna-notes §2)."""

from __future__ import annotations

from typing import Any

from .errors import Pos, expected, invalid_argument, invalid_expression
from .values import COLLECTIONS, NATIVE_NAMES, Ref


def native(name: str, pos: Pos) -> Ref:
    if name == "classes":
        return COLLECTIONS
    if name not in NATIVE_NAMES:
        raise invalid_expression(pos, "Invalid ref.")
    return Ref(name)


def make_ref(coll: Ref, doc_id: Any, pos: Pos) -> Ref:
    """`Ref(coll, id)`: a document ref needs a numeric id (a Long), normalised to decimal."""
    if coll == COLLECTIONS or (coll.is_native and coll.id in NATIVE_NAMES):
        if not isinstance(doc_id, str):
            raise expected(pos, ["String"], doc_id)
        return Ref(doc_id, coll)
    if not coll.is_collection:
        raise expected(pos, ["Collection Ref"], coll)
    if isinstance(doc_id, int) and not isinstance(doc_id, bool) and doc_id >= 0:
        return Ref(str(doc_id), coll)
    if not isinstance(doc_id, str):
        raise expected(pos, ["Number", "String"], doc_id)
    if not doc_id.isdigit():
        raise invalid_argument(
            pos, f"Number or numeric String expected, non-numeric '{doc_id}' provided."
        )
    if int(doc_id) >= 2**63:
        raise invalid_argument(pos, f"The id provided is too large: '{doc_id}'")
    return Ref(str(int(doc_id)), coll)


def legacy_ref(text: str, pos: Pos) -> Ref:
    """`{"@ref":"collections/todos/123"}`, the one-argument `ref()` string form."""
    parts = text.split("/")
    if len(parts) == 1:
        return native(parts[0], pos)
    parent = native(parts[0], pos)
    if len(parts) == 2:
        return Ref(parts[1], parent)
    if len(parts) == 3 and parent == COLLECTIONS:
        return make_ref(Ref(parts[1], COLLECTIONS), parts[2], pos)
    raise invalid_expression(pos, "Invalid ref.")
