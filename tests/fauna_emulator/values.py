"""FQL v4 value types, their ordering and equality, and their wire (tagged JSON) encoding.

Python values stand for FQL literals: None, bool, int (Long), float (Double), str, list (Array),
dict (Object), bytes, plus the classes below. fauna-notes §1 "Response decoding" lists the tags.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

# Native (schema) collections: a ref with no collection, e.g. {"@ref":{"id":"collections"}}.
NATIVE_NAMES = frozenset(
    {
        "collections",
        "indexes",
        "functions",
        "databases",
        "keys",
        "tokens",
        "credentials",
        "roles",
        "access_providers",
    }
)


@dataclass(frozen=True)
class Ref:
    """A ref: `Ref(id)` for a native collection, `Ref(id, collection)` otherwise."""

    id: str
    collection: Ref | None = None

    @property
    def is_native(self) -> bool:
        return self.collection is None

    @property
    def is_collection(self) -> bool:
        return self.collection == COLLECTIONS

    @property
    def is_index(self) -> bool:
        return self.collection == INDEXES

    @property
    def is_function(self) -> bool:
        return self.collection == FUNCTIONS

    @property
    def is_document(self) -> bool:
        return self.collection is not None and self.collection.is_collection

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.collection is not None:
            out["collection"] = {"@ref": self.collection.body()}
        return out


COLLECTIONS = Ref("collections")
INDEXES = Ref("indexes")
FUNCTIONS = Ref("functions")
DATABASES = Ref("databases")
KEYS = Ref("keys")


def collection_ref(name: str) -> Ref:
    return Ref(name, COLLECTIONS)


def index_ref(name: str) -> Ref:
    return Ref(name, INDEXES)


def function_ref(name: str) -> Ref:
    return Ref(name, FUNCTIONS)


def database_ref(name: str) -> Ref:
    return Ref(name, DATABASES)


def doc_ref(collection: str, doc_id: str) -> Ref:
    return Ref(doc_id, collection_ref(collection))


_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Ts:
    """A timestamp (`@ts`) with nanosecond precision, as Fauna's Timestamp has."""

    ns: int

    @classmethod
    def parse(cls, text: str) -> Ts | None:
        m = _TS_RE.match(text)
        if m is None:
            return None
        y, mo, d, h, mi, s, frac, zone = m.groups()
        try:
            tz = dt.UTC
            if zone != "Z":
                sign = -1 if zone[0] == "-" else 1
                digits = zone[1:].replace(":", "")
                delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
                tz = dt.timezone(sign * delta)
            moment = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=tz)
        except ValueError:
            return None
        whole = (moment - _EPOCH) // dt.timedelta(seconds=1)
        return cls(whole * 1_000_000_000 + int((frac or "0").ljust(9, "0")))

    @property
    def micros(self) -> int:
        return self.ns // 1000

    def iso(self) -> str:
        secs, nanos = divmod(self.ns, 1_000_000_000)
        base = (_EPOCH + dt.timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%S")
        # Like the core: print only as many 3-digit groups of the fraction as are needed.
        frac = f"{nanos:09d}"
        while frac.endswith("000"):
            frac = frac[:-3]
        return f"{base}.{frac}Z" if frac else f"{base}Z"

    def date(self) -> dt.date:
        return (_EPOCH + dt.timedelta(microseconds=self.micros)).date()


@dataclass(eq=False)
class Lambda:
    """A lambda value: parameter name(s), the unevaluated body, and the bindings it closes over."""

    params: str | list[str]
    body: Any
    env: dict[str, Any] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        return {"@query": {"lambda": self.params, "expr": self.body}}


@dataclass
class Page:
    """A page from `paginate`: rendered as {"before"?, "after"?, "data"} (fauna-notes §2)."""

    data: list[Any]
    before: list[Any] | None = None
    after: list[Any] | None = None

    def with_data(self, data: list[Any]) -> Page:
        return Page(data, self.before, self.after)

    def as_object(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.before is not None:
            out["before"] = self.before
        if self.after is not None:
            out["after"] = self.after
        out["data"] = self.data
        return out


class Version(dict[str, Any]):
    """A document version ({ref, ts, data, ...}); `is_new` marks a create (the core answers 201)."""

    is_new: bool = False


class SetValue:
    """Base of the set values in sets.py; rendered as {"@set": ...} (native sets as their ref)."""

    def render_set(self) -> Any:
        raise NotImplementedError


# ---- type names, as the core's error descriptions spell them ("Number expected, ...") ----

_TYPE_NAMES: list[tuple[type, str]] = [
    (bool, "Boolean"),
    (int, "Integer"),
    (float, "Double"),
    (str, "String"),
    (bytes, "Bytes"),
    (list, "Array"),
    (dict, "Object"),
    (Ref, "Ref"),
    (Ts, "Time"),
    (dt.date, "Date"),
    (Lambda, "Lambda"),
    (Page, "Page"),
    (SetValue, "Set"),
]


def type_name(value: Any) -> str:
    if value is None:
        return "Null"
    for kind, name in _TYPE_NAMES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---- equality: Long 1 and Double 1.0 differ, as do true and 1 (Python would merge them) ----


_SCALAR_TAGS: tuple[tuple[type, str], ...] = (
    (type(None), "null"),
    (bool, "bool"),
    (int, "int"),
    (float, "dbl"),
)


def freeze(value: Any) -> Hashable:
    for kind, tag in _SCALAR_TAGS:
        if isinstance(value, kind):
            return (tag, value)
    if isinstance(value, Page):
        value = value.as_object()
    if isinstance(value, list):
        return ("arr", tuple(freeze(v) for v in value))
    if isinstance(value, dict):
        items = sorted((k, freeze(v)) for k, v in value.items() if v is not None)
        return ("obj", tuple(items))
    if isinstance(value, SetValue | Lambda):
        return ("id", id(value))
    return (type(value).__name__, value)


# ---- ordering (Fauna's LT docs): Number < Bytes < String < Array < Object < Ref < Time < Date
# < Boolean < Null. Strings compare by code point; the core uses the ICU collator, which agrees
# for ASCII apart from case order, good enough for test data. ----


def _rank(value: Any) -> int:
    if value is None:
        return 9
    if isinstance(value, bool):
        return 8
    ranks = ((int | float, 0), (bytes, 1), (str, 2), (list, 3), (dict, 4), (Ref, 5), (Ts, 6))
    for kind, rank in ranks:
        if isinstance(value, kind):
            return rank
    return 7 if isinstance(value, dt.date) else 10


def _sign(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def compare_refs(a: Ref, b: Ref) -> int:
    if a.collection != b.collection:
        if a.collection is None or b.collection is None:
            return -1 if a.collection is None else 1
        return compare_refs(a.collection, b.collection)
    # Document ids are Longs, so "101" sorts before "1000" (fauna-notes §3).
    if a.id.isdigit() and b.id.isdigit():
        return _sign(int(a.id), int(b.id))
    return _sign(a.id, b.id)


def _compare_seq(a: list[Any], b: list[Any]) -> int:
    for x, y in zip(a, b, strict=False):
        c = compare(x, y)
        if c:
            return c
    return _sign(len(a), len(b))


def _compare_same(a: Any, b: Any, rank: int) -> int:
    if rank == 3:
        return _compare_seq(a, b)
    if rank == 4:
        ka, kb = sorted(k for k in a if a[k] is not None), sorted(k for k in b if b[k] is not None)
        return _compare_seq([[k, a[k]] for k in ka], [[k, b[k]] for k in kb])
    if rank == 5:
        return compare_refs(a, b)
    if rank == 6:
        return _sign(a.ns, b.ns)
    if rank in (9, 10):
        return 0
    return _sign(a, b)


def compare(a: Any, b: Any) -> int:
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return _sign(ra, rb)
    return _compare_same(a, b, ra)


sort_key: Callable[[Any], Any] = functools.cmp_to_key(compare)


# ---- wire encoding ----


def render(value: Any) -> Any:
    """Encode a value as response JSON: tagged refs/times/sets, `@obj` only where keys need it."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, dict):
        # The core skips null fields when it writes an object.
        obj = {k: render(v) for k, v in value.items() if v is not None}
        return {"@obj": obj} if any(k.startswith("@") for k in obj) else obj
    return _render_tagged(value)


_TAGGED: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (Ref, lambda v: {"@ref": v.body()}),
    (Ts, lambda v: {"@ts": v.iso()}),
    (dt.date, lambda v: {"@date": v.isoformat()}),
    (bytes, lambda v: {"@bytes": base64.b64encode(v).decode("ascii")}),
    (Page, lambda v: render(v.as_object())),
    (Lambda, lambda v: v.render()),
    (SetValue, lambda v: v.render_set()),
)


def _render_tagged(value: Any) -> Any:
    for kind, encode in _TAGGED:
        if isinstance(value, kind):
            return encode(value)
    raise TypeError(f"cannot render {type(value).__name__}")


def strip_nulls(value: Any) -> Any:
    """Drop null fields from objects at every depth: Fauna never stores them (fauna-notes §3)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value
