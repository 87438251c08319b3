"""Forms over sets, arrays and pages: match, documents, paginate, map/filter, set algebra."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import Pos, QueryError, expected, invalid_argument, invalid_ref, unsupported
from .forms_values import want
from .registry import form
from .sets import (
    DifferenceSet,
    DistinctSet,
    DocumentsSet,
    FilterSet,
    FqlSet,
    IntersectionSet,
    JoinSet,
    MatchSet,
    NativeSet,
    RangeSet,
    ReverseSet,
    UnionSet,
    paginate,
)
from .values import Lambda, Page, Ref, SetValue, freeze, type_name

if TYPE_CHECKING:
    from .evaluator import Env, Evaluator

X = dict[str, Any]

DEFAULT_PAGE_SIZE = 64
MAX_PAGE_SIZE = 100_000
MAX_QUERY_WIDTH = 100_000


def as_set(value: Any, pos: Pos) -> FqlSet:
    """A set argument; a native ref such as `collections()` reads as the set of its members."""
    if isinstance(value, FqlSet):
        return value
    if isinstance(value, Ref) and value.is_native:
        return NativeSet(value)
    if isinstance(value, Ref) and value.is_document:
        raise unsupported(pos, "A document's event set")
    raise expected(pos, ["Set"], value)


def want_lambda(value: Any, pos: Pos) -> Lambda:
    if not isinstance(value, Lambda):
        raise expected(pos, ["Lambda"], value)
    return value


# ---- building sets ----


def match_set(ev: Evaluator, index: Any, terms: list[Any], pos: Pos) -> MatchSet:
    if not (isinstance(index, Ref) and index.is_index):
        raise expected(pos, ["Index Ref"], index)
    found = ev.store.state.indexes.get(index.id)
    if found is None:
        raise invalid_ref(pos, "index", index.id)
    if found.txn == ev.txn:
        # The index document is not readable as an index until its query commits.
        raise QueryError("instance not found", f"Index '{index.id}' is not active.", pos)
    ev.require("read_index", pos)
    if not found.active:
        # A background build is running: `ast/functions/SetFunctions.scala` MatchFunction
        # answers IndexInactive (code "instance not found", status 400 by `ast/Error.scala`
        # statusCode) at `pos at "index"`, rendered "Index 'x' is not active." (Renderable.scala).
        parent = pos[:-1] if pos and pos[-1] == "match" else pos
        raise QueryError(
            "instance not found", f"Index '{index.id}' is not active.", [*parent, "index"]
        )
    for term in terms:
        if isinstance(term, dict | SetValue | Lambda | Page):
            raise invalid_argument(pos, f"Scalar expected, {type_name(term)} provided.")
    return MatchSet(index.id, terms)


@form("match", optional=("terms",))
def _match(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    index = ev.arg(x, "match", env, pos)
    terms: list[Any] = []
    if "terms" in x:
        raw = ev.arg(x, "terms", env, pos)
        terms = list(raw) if isinstance(raw, list) else [raw]
    return match_set(ev, index, terms, [*pos, "match"])


@form("documents")
def _documents(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    coll = ev.arg(x, "documents", env, pos)
    if not (isinstance(coll, Ref) and coll.is_collection):
        raise expected([*pos, "documents"], ["Collection Ref"], coll)
    if coll.id not in ev.store.state.collections:
        raise invalid_ref([*pos, "documents"], "collection", coll.id)
    ev.require("read_index", [*pos, "documents"])
    return DocumentsSet(coll.id)


def _set_args(ev: Evaluator, x: X, key: str, env: Env, pos: Pos) -> list[tuple[Any, Pos]]:
    args = ev.varargs(x, key, env, pos)
    if not args:
        raise invalid_argument([*pos, key], "Non-empty array expected.")
    return args


def _algebra(name: str, make: Callable[[list[FqlSet]], FqlSet], arrays: Callable[..., Any]) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        # Every argument is a set, or every one an array of values.
        args = _set_args(ev, x, name, env, pos)
        values = [v for v, _ in args]
        if all(isinstance(v, list) for v in values):
            return arrays(values)
        if any(isinstance(v, list) for v in values):
            raise invalid_argument(
                [*pos, name], "Arguments cannot be of different types, expected Set or Array."
            )
        return make([as_set(v, at) for v, at in args])


def _array_union(arrays: list[list[Any]]) -> list[Any]:
    out: dict[Any, Any] = {}
    for arr in arrays:
        for v in arr:
            out.setdefault(freeze(v), v)
    return list(out.values())


def _array_intersection(arrays: list[list[Any]]) -> list[Any]:
    keep = [{freeze(v) for v in arr} for arr in arrays[1:]]
    return _array_union([[v for v in arrays[0] if all(freeze(v) in k for k in keep)]])


def _array_difference(arrays: list[list[Any]]) -> list[Any]:
    drop = {freeze(v) for arr in arrays[1:] for v in arr}
    return _array_union([[v for v in arrays[0] if freeze(v) not in drop]])


_algebra("union", UnionSet, _array_union)
_algebra("intersection", IntersectionSet, _array_intersection)
_algebra("difference", DifferenceSet, _array_difference)


@form("distinct")
def _distinct(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    value = ev.arg(x, "distinct", env, pos)
    if isinstance(value, list):
        return _array_union([value])
    return DistinctSet(as_set(value, [*pos, "distinct"]))


def _bound(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


@form("range", "from", "to")
def _range(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    source = as_set(ev.arg(x, "range", env, pos), [*pos, "range"])
    start, end = (_bound(ev.arg(x, k, env, pos)) for k in ("from", "to"))
    return RangeSet(source, start, end)


@form("join", "with")
def _join(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    source = as_set(ev.arg(x, "join", env, pos), [*pos, "join"])
    target = ev.arg(x, "with", env, pos)
    at = [*pos, "with"]
    if isinstance(target, Lambda):

        def to_set(element: Any) -> FqlSet:
            return as_set(ev.apply(target, element, at), at)

        return JoinSet(source, target, to_set)
    match_set(ev, target, [], at)  # validates the index now
    return JoinSet(source, target, lambda element: match_set(ev, target, [element], at))


# ---- paginate ----


def _cursor(ev: Evaluator, x: X, key: str, env: Env, pos: Pos) -> list[Any] | None:
    if key not in x:
        return None
    value = ev.arg(x, key, env, pos)
    if value is None:
        return None
    return list(value) if isinstance(value, list) else [value]


@form(
    "paginate",
    optional=("size", "after", "before", "ts", "events", "sources"),
    exclusive=(("after", "before"),),  # both at once match no form (fauna-notes §3)
)
def _paginate(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    for option in ("ts", "events", "sources"):
        if option in x and ev.arg(x, option, env, pos) not in (None, False):
            raise unsupported([*pos, option], f"Paginate with '{option}'")
    source = as_set(ev.arg(x, "paginate", env, pos), [*pos, "paginate"])
    if isinstance(source, NativeSet):
        # Reading a schema set needs read permission on its native collection
        # (`ext/model/src/main/scala/set/IndexSet.scala` SchemaSet filteredForRead).
        root = source.ref.id in ("databases", "keys")
        ev.require("root" if root else "read", [*pos, "paginate"])
    size = DEFAULT_PAGE_SIZE
    if "size" in x:
        size = want(ev.arg(x, "size", env, pos), [*pos, "size"], int, "Integer")
        if size < 0:
            raise invalid_argument([*pos, "size"], "size must be greater than or equal to 0")
        size = min(size, MAX_PAGE_SIZE)
    after, before = _cursor(ev, x, "after", env, pos), _cursor(ev, x, "before", env, pos)
    return paginate(source, source.entries(ev), size, after, before)


# ---- collection functions over arrays and pages (a page keeps its cursors) ----


def _items(value: Any, pos: Pos) -> list[Any]:
    if isinstance(value, Page):
        return value.data
    if not isinstance(value, list):
        raise expected(pos, ["Array", "Page"], value)
    return value


def _shaped(source: Any, data: list[Any]) -> Any:
    return source.with_data(data) if isinstance(source, Page) else data


def _lambda_over(name: str, run: Callable[[Evaluator, Lambda, list[Any], Pos], list[Any]]) -> None:
    @form(name, "collection")
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        fn = want_lambda(ev.arg(x, name, env, pos), [*pos, name])
        source = ev.arg(x, "collection", env, pos)
        if name == "filter" and isinstance(source, SetValue | Ref):
            return FilterSet(as_set(source, [*pos, "collection"]), fn, [*pos, name])
        items = _items(source, [*pos, "collection"])
        _check_width(items)
        return _shaped(source, run(ev, fn, items, [*pos, name]))


def _check_width(items: list[Any]) -> None:
    """One Map/Foreach/Filter fans out over its items at once; the core refuses a query wider
    than query_max_query_width = 100_000 (`ext/config/.../CoreConfig.scala`) with
    MaxQueryWidthExceeded (`ext/repo/.../query/QueryEvalContext.scala`), answered 400
    "bad request" with no position (`api/ExceptionResponseHelpers.scala`)."""
    if len(items) > MAX_QUERY_WIDTH:
        raise QueryError(
            "bad request",
            f"Query exceeds max width. Max: {MAX_QUERY_WIDTH}, current: {len(items)}.",
            None,
        )


def _run_map(ev: Evaluator, fn: Lambda, items: list[Any], at: Pos) -> list[Any]:
    return [ev.apply(fn, v, at) for v in items]


def _run_foreach(ev: Evaluator, fn: Lambda, items: list[Any], at: Pos) -> list[Any]:
    for v in items:
        ev.apply(fn, v, at)
    return items


def _run_filter(ev: Evaluator, fn: Lambda, items: list[Any], at: Pos) -> list[Any]:
    kept = []
    for v in items:
        verdict = ev.apply(fn, v, at)
        if not isinstance(verdict, bool):
            raise expected([*at, "expr"], ["Boolean"], verdict)
        if verdict:
            kept.append(v)
    return kept


_lambda_over("map", _run_map)
_lambda_over("foreach", _run_foreach)
_lambda_over("filter", _run_filter)


def _elements(ev: Evaluator, value: Any, pos: Pos) -> list[Any]:
    if isinstance(value, list | Page):
        return _items(value, pos)
    return [e.element for e in as_set(value, pos).entries(ev)]


@form("reduce", "initial", "collection")
def _reduce(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    fn = want_lambda(ev.arg(x, "reduce", env, pos), [*pos, "reduce"])
    acc = ev.arg(x, "initial", env, pos)
    source = ev.arg(x, "collection", env, pos)
    for v in _elements(ev, source, [*pos, "collection"]):
        acc = ev.apply(fn, [acc, v], [*pos, "reduce"])
    return _shaped(source, [acc]) if isinstance(source, Page) else acc


def _slice(name: str) -> None:
    @form(name, "collection")
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        n = max(0, want(ev.arg(x, name, env, pos), [*pos, name], int, "Integer"))
        source = ev.arg(x, "collection", env, pos)
        items = _items(source, [*pos, "collection"])
        return _shaped(source, items[:n] if name == "take" else items[n:])


_slice("take")
_slice("drop")


@form("append", "collection")
def _append(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    extra = want(ev.arg(x, "append", env, pos), [*pos, "append"], list, "Array")
    base = want(ev.arg(x, "collection", env, pos), [*pos, "collection"], list, "Array")
    return [*base, *extra]


@form("prepend", "collection")
def _prepend(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    extra = want(ev.arg(x, "prepend", env, pos), [*pos, "prepend"], list, "Array")
    base = want(ev.arg(x, "collection", env, pos), [*pos, "collection"], list, "Array")
    return [*extra, *base]


@form("reverse")
def _reverse(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    value = ev.arg(x, "reverse", env, pos)
    if isinstance(value, list | Page):
        return _shaped(value, list(reversed(_items(value, pos))))
    return ReverseSet(as_set(value, [*pos, "reverse"]))


def _counting(name: str, fn: Callable[[int], Any]) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        value = ev.arg(x, name, env, pos)
        if isinstance(value, Page) and name == "count":
            return value.with_data([len(value.data)])  # page-shaped (fauna-notes §2)
        return fn(len(_elements(ev, value, [*pos, name])))


_counting("count", lambda n: n)
_counting("is_empty", lambda n: n == 0)
_counting("is_nonempty", lambda n: n > 0)


def _quantifier(name: str, fn: Callable[[list[bool]], bool]) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        items = _items(ev.arg(x, name, env, pos), [*pos, name])
        for v in items:
            want(v, [*pos, name], bool, "Boolean")
        return fn(items)


_quantifier("all", all)
_quantifier("any", any)
