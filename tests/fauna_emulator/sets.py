"""Set values (match, documents, union, ...) and `paginate` over them (fauna-notes §3).

A set materialises as a sorted list of entries; an entry is the covered values plus the ref of
the document it came from. Sets are small in tests, so this favours clarity over laziness.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import Pos, expected
from .store import Store
from .values import (
    Lambda,
    Page,
    Ref,
    SetValue,
    collection_ref,
    compare,
    freeze,
    index_ref,
    render,
)


class SetContext(Protocol):
    """What sets need from the evaluator: the state and lambda application."""

    store: Store

    def apply(self, fn: Lambda, arg: Any, pos: Pos) -> Any: ...


@dataclass(frozen=True)
class Entry:
    values: tuple[Any, ...]
    ref: Ref
    reverse: tuple[bool, ...] = ()

    @property
    def element(self) -> Any:
        """The ref with no covered values, a bare value with one, an array with several."""
        if not self.values:
            return self.ref
        return self.values[0] if len(self.values) == 1 else list(self.values)

    @property
    def cursor(self) -> list[Any]:
        return [*self.values, self.ref]

    @property
    def key(self) -> Hashable:
        return (freeze(list(self.values)), self.ref)


def compare_cursor(entry: Entry, cursor: list[Any], *, prefix: bool = False) -> int:
    """Order an entry against a cursor (values ++ [ref]), honouring each value's `reverse`.

    A shorter cursor is a prefix that sorts before every entry it prefixes, so `after: ["b"]`
    starts at the first "b" and `before: ["b"]` stops before it. With `prefix`, the entry is
    cut to the cursor's length first, so a `range` bound ["b"] matches every "b" entry.
    """
    items = entry.cursor[: len(cursor)] if prefix else entry.cursor
    for i, (mine, theirs) in enumerate(zip(items, cursor, strict=False)):
        c = compare(mine, theirs)
        if i < len(entry.reverse) and entry.reverse[i]:
            c = -c
        if c:
            return c
    return (len(items) > len(cursor)) - (len(items) < len(cursor))


def _order(a: Entry, b: Entry) -> int:
    return compare_cursor(a, b.cursor)


def _sorted(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=functools.cmp_to_key(_order))


class FqlSet(SetValue):
    def entries(self, ctx: SetContext) -> list[Entry]:
        raise NotImplementedError

    def compare(self, entry: Entry, cursor: list[Any]) -> int:
        return compare_cursor(entry, cursor)

    def render_set(self) -> Any:
        return {"@set": self.contents()}

    def contents(self) -> Any:
        raise NotImplementedError


@dataclass(eq=False)
class MatchSet(FqlSet):
    index: str
    terms: list[Any]

    def entries(self, ctx: SetContext) -> list[Entry]:
        index = ctx.store.state.indexes.get(self.index)
        if index is None:
            return []
        rows = ctx.store.partition(self.index, self.terms)
        flags = index.reverse_flags
        return _sorted([Entry(vals, ref, flags) for ref, rs in rows.items() for vals, _ in rs])

    def contents(self) -> Any:
        out: dict[str, Any] = {"match": render(index_ref(self.index))}
        if self.terms:
            out["terms"] = render(self.terms[0] if len(self.terms) == 1 else self.terms)
        return out


@dataclass(eq=False)
class DocumentsSet(FqlSet):
    collection: str

    def entries(self, ctx: SetContext) -> list[Entry]:
        return _sorted([Entry((), ref) for ref, _ in ctx.store.live_docs(self.collection)])

    def contents(self) -> Any:
        return {"documents": render(collection_ref(self.collection))}


@dataclass(eq=False)
class NativeSet(FqlSet):
    """`collections()`, `indexes()`, `functions()`: a native ref used as the set of its members."""

    ref: Ref

    def entries(self, ctx: SetContext) -> list[Entry]:
        return _sorted([Entry((), r) for r in ctx.store.schema_refs(self.ref.id)])

    def render_set(self) -> Any:
        return render(self.ref)  # the core renders schema sets as the bare ref


def _inner(sets: list[FqlSet]) -> Any:
    return sets[0].render_set() if len(sets) == 1 else [s.render_set() for s in sets]


@dataclass(eq=False)
class UnionSet(FqlSet):
    sets: list[FqlSet]

    def entries(self, ctx: SetContext) -> list[Entry]:
        seen: dict[Hashable, Entry] = {}
        for s in self.sets:
            for e in s.entries(ctx):
                seen.setdefault(e.key, e)
        return _sorted(list(seen.values()))

    def contents(self) -> Any:
        return {"union": _inner(self.sets)}


@dataclass(eq=False)
class IntersectionSet(FqlSet):
    sets: list[FqlSet]

    def entries(self, ctx: SetContext) -> list[Entry]:
        first, *rest = [s.entries(ctx) for s in self.sets]
        keys = [{e.key for e in r} for r in rest]
        return [e for e in first if all(e.key in k for k in keys)]

    def contents(self) -> Any:
        return {"intersection": _inner(self.sets)}


@dataclass(eq=False)
class DifferenceSet(FqlSet):
    sets: list[FqlSet]

    def entries(self, ctx: SetContext) -> list[Entry]:
        first, *rest = [s.entries(ctx) for s in self.sets]
        dropped = {e.key for r in rest for e in r}
        return [e for e in first if e.key not in dropped]

    def contents(self) -> Any:
        return {"difference": _inner(self.sets)}


@dataclass(eq=False)
class DistinctSet(FqlSet):
    source: FqlSet

    def entries(self, ctx: SetContext) -> list[Entry]:
        seen: dict[Hashable, Entry] = {}
        for e in self.source.entries(ctx):
            seen.setdefault(freeze(e.element), e)
        return list(seen.values())

    def contents(self) -> Any:
        return {"distinct": self.source.render_set()}


@dataclass(eq=False)
class ReverseSet(FqlSet):
    source: FqlSet

    def entries(self, ctx: SetContext) -> list[Entry]:
        return list(reversed(self.source.entries(ctx)))

    def compare(self, entry: Entry, cursor: list[Any]) -> int:
        return -self.source.compare(entry, cursor)

    def contents(self) -> Any:
        return {"reverse": self.source.render_set()}


@dataclass(eq=False)
class RangeSet(FqlSet):
    """`range(set, from, to)`: both bounds inclusive, compared on the covered values."""

    source: FqlSet
    start: list[Any]
    end: list[Any]

    def entries(self, ctx: SetContext) -> list[Entry]:
        return [
            e
            for e in self.source.entries(ctx)
            if compare_cursor(e, self.start, prefix=True) >= 0
            and compare_cursor(e, self.end, prefix=True) <= 0
        ]

    def contents(self) -> Any:
        out: dict[str, Any] = {"range": self.source.render_set()}
        for key, bound in (("from", self.start), ("to", self.end)):
            if bound:
                out[key] = render(bound[0] if len(bound) == 1 else bound)
        return out


@dataclass(eq=False)
class FilterSet(FqlSet):
    source: FqlSet
    fn: Lambda
    pos: Pos

    def entries(self, ctx: SetContext) -> list[Entry]:
        kept = []
        for e in self.source.entries(ctx):
            verdict = ctx.apply(self.fn, e.element, self.pos)
            if not isinstance(verdict, bool):
                raise expected(self.pos, ["Boolean"], verdict)
            if verdict:
                kept.append(e)
        return kept

    def contents(self) -> Any:
        return {"filter": self.fn.render(), "collection": self.source.render_set()}


@dataclass(eq=False)
class JoinSet(FqlSet):
    """`join(set, index)` matches each element in the index; `join(set, lambda)` maps to sets."""

    source: FqlSet
    target: Ref | Lambda
    to_set: Callable[[Any], FqlSet]

    def entries(self, ctx: SetContext) -> list[Entry]:
        parts = [self.to_set(e.element) for e in self.source.entries(ctx)]
        return UnionSet(parts).entries(ctx) if parts else []

    def contents(self) -> Any:
        return {"join": self.source.render_set(), "with": render(self.target)}


def paginate(
    s: FqlSet,
    entries: list[Entry],
    size: int,
    after: list[Any] | None,
    before: list[Any] | None,
) -> Page:
    """One page, with the cursor rules of fauna-notes §3 "Pagination".

    Forward: read size+1 from `after` (inclusive); the extra entry's cursor is the next `after`,
    and the incoming cursor is `before`. Backward: the size entries just below `before`
    (exclusive), ascending; `before` is the smallest one's cursor if more lie below it, and the
    incoming cursor is `after`.
    """
    if size == 0:
        return Page([], before, after)
    if before is not None:
        end = next((i for i, e in enumerate(entries) if s.compare(e, before) >= 0), len(entries))
        start = max(0, end - size)
        below = entries[start].cursor if start > 0 else None
        return Page([e.element for e in entries[start:end]], below, before)
    start = 0
    if after is not None:
        start = next((i for i, e in enumerate(entries) if s.compare(e, after) >= 0), len(entries))
    stop = start + size
    nxt = entries[stop].cursor if stop < len(entries) else None
    return Page([e.element for e in entries[start:stop]], after, nxt)
