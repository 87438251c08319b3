"""Emulator state: schema, document histories and index entries, with an undo log per query.

Every mutation goes through `_set`/`_del`, which record the old value, so `rollback` can undo a
failed query exactly (per-query atomicity, fauna-notes §3) without copying the whole state.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import Pos, QueryError, not_unique
from .values import Lambda, Ref, doc_ref, freeze

_MISSING: Any = object()

# The core builds a new index inside the creating query only when its source collections hold at
# most this many documents and versions; otherwise a task builds it in the background and the
# index stays `active: false` (`ext/model/src/main/scala/doc/Index.scala` BuildSyncSize = 128,
# applied in `ast/functions/WriteAdaptor.scala` fetchForSyncIdxBuild).
BUILD_SYNC_SIZE = 128
# A transaction's writes may total this many bytes (`ext/config/.../CoreConfig.scala`
# transaction_max_size_bytes = 16 * 1024 * 1024; `ext/repo/.../query/State.scala` throws
# TxnTooLargeException, which `api/ExceptionResponseHelpers.scala` answers as 400 bad request).
TXN_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class IndexField:
    """One entry of an index's `terms` or `values`: a field path, maybe reversed."""

    path: tuple[str | int, ...]
    reverse: bool = False


@dataclass
class CollectionDef:
    name: str
    fields: dict[str, Any]  # rendered after ref and ts: history_days, name, data...
    ts: int
    txn: int  # the query that created it


@dataclass
class IndexDef:
    name: str
    source: tuple[str, ...]
    terms: tuple[IndexField, ...]
    values: tuple[IndexField, ...]
    unique: bool
    fields: dict[str, Any]
    ts: int
    txn: int

    @property
    def active(self) -> bool:
        return bool(self.fields.get("active", True))

    @property
    def reverse_flags(self) -> tuple[bool, ...]:
        return tuple(v.reverse for v in self.values)


@dataclass
class FunctionDef:
    name: str
    body: Lambda
    fields: dict[str, Any]
    ts: int
    txn: int


@dataclass
class DatabaseDef:
    """A child database: its own schema and documents (a Store of its own)."""

    name: str
    store: Store
    fields: dict[str, Any]
    ts: int


@dataclass(frozen=True)
class KeyDef:
    """A key: its secret opens `database` (None: the database holding the key) with `role`."""

    id: str
    secret: str
    database: str | None
    role: str
    fields: dict[str, Any]
    ts: int


@dataclass(frozen=True)
class DocState:
    """A document's history: (ts, fields) versions, oldest first; fields None means deleted."""

    versions: tuple[tuple[int, dict[str, Any] | None], ...]

    @property
    def current(self) -> dict[str, Any] | None:
        return self.versions[-1][1]

    def at(self, ts: int) -> tuple[int, dict[str, Any] | None] | None:
        found = None
        for version in self.versions:
            if version[0] <= ts:
                found = version
        return found

    def written(self, ts: int, fields: dict[str, Any] | None) -> DocState:
        # Writes in one query share its ts; the last one is the version that query leaves.
        kept = tuple(v for v in self.versions if v[0] != ts)
        return DocState((*kept, (ts, fields)))


Row = tuple[tuple[Any, ...], Hashable]  # (covered values, their frozen form)


@dataclass
class State:
    collections: dict[str, CollectionDef] = field(default_factory=dict)
    indexes: dict[str, IndexDef] = field(default_factory=dict)
    functions: dict[str, FunctionDef] = field(default_factory=dict)
    databases: dict[str, DatabaseDef] = field(default_factory=dict)
    keys: dict[str, KeyDef] = field(default_factory=dict)  # by key id
    docs: dict[str, dict[str, DocState]] = field(default_factory=dict)
    # index name -> frozen terms -> doc ref -> rows; and index name -> doc ref -> its partitions
    partitions: dict[str, dict[Hashable, dict[Ref, tuple[Row, ...]]]] = field(default_factory=dict)
    doc_terms: dict[str, dict[Ref, tuple[Hashable, ...]]] = field(default_factory=dict)


def _field_values(view: Any, path: tuple[str | int, ...]) -> list[Any]:
    """The values a field path yields: an array gives one per element (fauna-notes §3)."""
    cur = view
    for step in path:
        if isinstance(step, str) and isinstance(cur, dict):
            cur = cur.get(step)
        elif isinstance(step, int) and isinstance(cur, list) and 0 <= step < len(cur):
            cur = cur[step]
        else:
            return [None]
    if isinstance(cur, list):
        return list(cur) or [None]
    return [cur]


def index_rows(
    index: IndexDef, ref: Ref, fields: dict[str, Any], ts: int
) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """The (terms, values) entries a document version puts into an index."""
    view = {"ref": ref, "ts": ts, **fields}
    term_opts = [_field_values(view, f.path) for f in index.terms]
    value_opts = [_field_values(view, f.path) for f in index.values]
    rows: dict[Hashable, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
    for terms in itertools.product(*term_opts):
        # No entry when every term is null, or every covered value is null.
        if index.terms and all(t is None for t in terms):
            continue
        for values in itertools.product(*value_opts):
            if index.values and all(v is None for v in values):
                continue
            rows.setdefault((freeze(list(terms)), freeze(list(values))), (terms, values))
    return list(rows.values())


class Clock:
    """Transaction times and document ids, shared by a database and its children."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_ts = 0
        self._last_id = 0

    def next_txn_ts(self) -> int:
        with self._lock:
            self.last_ts = max(time.time_ns() // 1000, self.last_ts + 1)
            return self.last_ts

    def new_id(self) -> str:
        """A snowflake-like id: milliseconds << 18 plus a sequence, 18 digits (fauna-notes §3)."""
        with self._lock:
            self._last_id = max((time.time_ns() // 1_000_000) << 18, self._last_id + 1)
            return str(self._last_id)


class Store:
    def __init__(self, clock: Clock | None = None) -> None:
        self.state = State()
        self._undo: list[tuple[dict[Any, Any], Any, Any]] = []
        self.clock = clock or Clock()
        self._txn_bytes = 0

    # ---- clocks: not rolled back, like the real ones ----

    def next_txn_ts(self) -> int:
        return self.clock.next_txn_ts()

    @property
    def last_txn_ts(self) -> int:
        return self.clock.last_ts or time.time_ns() // 1000

    def new_id(self) -> str:
        return self.clock.new_id()

    # ---- transactions ----

    def begin(self) -> None:
        self._undo.clear()
        self._txn_bytes = 0

    def commit(self) -> None:
        self._undo.clear()

    def count_write(self, size: int) -> None:
        """Add one write's bytes to the transaction; past 16 MiB the query fails as the core's."""
        self._txn_bytes += size
        if self._txn_bytes > TXN_MAX_BYTES:
            raise QueryError(
                "bad request",
                f"Transaction exceeded limit: got {self._txn_bytes} bytes, "
                f"limit {TXN_MAX_BYTES} bytes",
                None,  # an exception-level answer: no position (ExceptionResponseHelpers)
            )

    def rollback(self) -> None:
        while self._undo:
            container, key, old = self._undo.pop()
            if old is _MISSING:
                container.pop(key, None)
            else:
                container[key] = old

    def reset(self) -> None:
        self.state = State()
        self._undo.clear()

    def _set(self, container: dict[Any, Any], key: Any, value: Any) -> None:
        self._undo.append((container, key, container.get(key, _MISSING)))
        container[key] = value

    def _del(self, container: dict[Any, Any], key: Any) -> None:
        if key in container:
            self._undo.append((container, key, container[key]))
            del container[key]

    # ---- schema ----

    def put_collection(self, coll: CollectionDef) -> None:
        self._set(self.state.collections, coll.name, coll)
        self._set(self.state.docs, coll.name, {})

    def drop_collection(self, name: str) -> None:
        for index in list(self.state.indexes.values()):
            if name in index.source:
                self.drop_index(index.name)
        self._del(self.state.collections, name)
        self._del(self.state.docs, name)

    def needs_background_build(self, source: tuple[str, ...]) -> bool:
        """More than BUILD_SYNC_SIZE live documents, or versions of them, in the sources."""
        docs = versions = 0
        for coll in source:
            for doc in self.state.docs.get(coll, {}).values():
                if doc.current is not None:
                    docs += 1
                    versions += len(doc.versions)
        return docs > BUILD_SYNC_SIZE or versions > BUILD_SYNC_SIZE

    def finish_builds(self) -> list[str]:
        """Mark every index still building as active (the build task's end); their names."""
        done = []
        for index in self.state.indexes.values():
            if not index.active:
                index.fields["active"] = True
                done.append(index.name)
        return done

    def put_index(self, index: IndexDef) -> None:
        """Create an index and fill it now. An index the core would build in the background is
        filled too (the emulator has no task queue) but stays `active: false`, so Match refuses
        it until `finish_builds`, which is when the core's build task would end."""
        self._set(self.state.indexes, index.name, index)
        self._set(self.state.partitions, index.name, {})
        self._set(self.state.doc_terms, index.name, {})
        for coll in index.source:
            for doc_id, doc in self.state.docs.get(coll, {}).items():
                if doc.current is not None:
                    ref = doc_ref(coll, doc_id)
                    self._index_doc(index, ref, doc.current, doc.versions[-1][0], None)

    def drop_index(self, name: str) -> None:
        for container in (self.state.indexes, self.state.partitions, self.state.doc_terms):
            self._del(container, name)

    def put_database(self, db: DatabaseDef) -> None:
        self._set(self.state.databases, db.name, db)

    def drop_database(self, name: str) -> None:
        self._del(self.state.databases, name)

    def put_key(self, key: KeyDef) -> None:
        self._set(self.state.keys, key.id, key)

    def drop_key(self, key_id: str) -> None:
        self._del(self.state.keys, key_id)

    def put_function(self, fn: FunctionDef) -> None:
        self._set(self.state.functions, fn.name, fn)

    def drop_function(self, name: str) -> None:
        self._del(self.state.functions, name)

    # ---- documents ----

    def doc(self, ref: Ref) -> DocState | None:
        assert ref.collection is not None
        return self.state.docs.get(ref.collection.id, {}).get(ref.id)

    def live_docs(self, coll: str) -> Iterator[tuple[Ref, DocState]]:
        for doc_id, doc in self.state.docs.get(coll, {}).items():
            if doc.current is not None:
                yield doc_ref(coll, doc_id), doc

    def write_doc(self, ref: Ref, fields: dict[str, Any] | None, ts: int, pos: Pos) -> None:
        """Write (or delete, with None) a document version and maintain every index on it.

        Unique indexes are checked here, as each write happens, so earlier writes of the same
        query count (fauna-notes §3 "Unique indexes").
        """
        assert ref.collection is not None
        docs = self.state.docs[ref.collection.id]
        self.count_write(len(repr(fields)) if fields is not None else 16)
        prev = docs.get(ref.id)
        state = prev.written(ts, fields) if prev else DocState(((ts, fields),))
        self._set(docs, ref.id, state)
        for index in self.state.indexes.values():
            if ref.collection.id in index.source:
                self._unindex_doc(index, ref)
                if fields is not None:
                    self._index_doc(index, ref, fields, ts, pos if index.unique else None)

    def _unindex_doc(self, index: IndexDef, ref: Ref) -> None:
        doc_terms = self.state.doc_terms[index.name]
        for terms_key in doc_terms.get(ref, ()):
            self._del(self.state.partitions[index.name][terms_key], ref)
        self._del(doc_terms, ref)

    def _index_doc(
        self, index: IndexDef, ref: Ref, fields: dict[str, Any], ts: int, unique_pos: Pos | None
    ) -> None:
        partitions = self.state.partitions[index.name]
        grouped: dict[Hashable, list[Row]] = {}
        for terms, values in index_rows(index, ref, fields, ts):
            grouped.setdefault(freeze(list(terms)), []).append((values, freeze(list(values))))
        for terms_key, rows in grouped.items():
            if terms_key not in partitions:
                self._set(partitions, terms_key, {})
            partition = partitions[terms_key]
            if unique_pos is not None:
                self._check_unique(partition, ref, rows, unique_pos)
            self._set(partition, ref, tuple(rows))
        self._set(self.state.doc_terms[index.name], ref, tuple(grouped))

    @staticmethod
    def _check_unique(
        partition: dict[Ref, tuple[Row, ...]], ref: Ref, rows: list[Row], pos: Pos
    ) -> None:
        # Uniqueness covers terms + values together: same partition and same values tuple.
        wanted = {frozen for _, frozen in rows}
        for other, other_rows in partition.items():
            if other != ref and any(frozen in wanted for _, frozen in other_rows):
                raise not_unique(pos)

    def partition(self, index: str, terms: list[Any]) -> dict[Ref, tuple[Row, ...]]:
        return self.state.partitions.get(index, {}).get(freeze(terms), {})

    def schema_refs(self, native: str) -> list[Ref]:
        tables: dict[str, dict[str, Any]] = {
            "collections": self.state.collections,
            "indexes": self.state.indexes,
            "functions": self.state.functions,
            "databases": self.state.databases,
            "keys": self.state.keys,
        }
        return [Ref(name, Ref(native)) for name in tables.get(native, {})]


__all__ = [
    "BUILD_SYNC_SIZE",
    "Clock",
    "CollectionDef",
    "DatabaseDef",
    "DocState",
    "FunctionDef",
    "IndexDef",
    "IndexField",
    "KeyDef",
    "Store",
    "index_rows",
]
