"""Pure forms on values: comparison, math, strings, select, objects, types, time."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import Pos, QueryError, expected, invalid_argument
from .registry import form
from .values import (
    Lambda,
    Page,
    Ref,
    SetValue,
    Ts,
    Version,
    compare,
    freeze,
    is_number,
    type_name,
)

if TYPE_CHECKING:
    from .evaluator import Env, Evaluator

X = dict[str, Any]


def want(value: Any, pos: Pos, kind: type | tuple[type, ...], name: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise expected(pos, [name], value)
    return value


def want_number(value: Any, pos: Pos) -> int | float:
    if not is_number(value):
        raise expected(pos, ["Number"], value)
    return value  # type: ignore[no-any-return]


# ---- comparison ----


@form("equals")
def _equals(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    frozen = [freeze(v) for v, _ in ev.varargs(x, "equals", env, pos)]
    return all(f == frozen[0] for f in frozen)


def _chain(name: str, ok: Callable[[int], bool]) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        values = [v for v, _ in ev.varargs(x, name, env, pos)]
        return all(ok(compare(a, b)) for a, b in itertools.pairwise(values))


_chain("lt", lambda c: c < 0)
_chain("lte", lambda c: c <= 0)
_chain("gt", lambda c: c > 0)
_chain("gte", lambda c: c >= 0)


# ---- math ----


def _divide(a: int | float, b: int | float, pos: Pos) -> int | float:
    if b == 0:
        raise invalid_argument(pos, "Illegal division by zero.")
    if isinstance(a, int) and isinstance(b, int):
        q = abs(a) // abs(b)  # Long division truncates toward zero
        return q if (a >= 0) == (b >= 0) else -q
    return a / b


def _modulo(a: int | float, b: int | float, pos: Pos) -> int | float:
    if b == 0:
        raise invalid_argument(pos, "Illegal division by zero.")
    return math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else a - b * int(a / b)


_FOLDS: dict[str, Callable[[Any, Any, Pos], Any]] = {
    "add": lambda a, b, _: a + b,
    "subtract": lambda a, b, _: a - b,
    "multiply": lambda a, b, _: a * b,
    "divide": _divide,
    "modulo": _modulo,
    "max": lambda a, b, _: b if compare(b, a) > 0 else a,
    "min": lambda a, b, _: b if compare(b, a) < 0 else a,
}


def _fold(name: str) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        args = ev.varargs(x, name, env, pos)
        if not args:
            raise invalid_argument([*pos, name], "Non-empty array expected.")
        acc = want_number(*args[0])
        for value, at in args[1:]:
            acc = _FOLDS[name](acc, want_number(value, at), at)
        return acc


for _name in _FOLDS:
    _fold(_name)


@form("abs")
def _abs(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    return abs(want_number(ev.arg(x, "abs", env, pos), [*pos, "abs"]))


def _numbers(ev: Evaluator, x: X, key: str, env: Env, pos: Pos) -> list[int | float]:
    values = ev.arg(x, key, env, pos)
    items = values.data if isinstance(values, Page) else values
    want(items, [*pos, key], list, "Array")
    return [want_number(v, [*pos, key]) for v in items]


@form("sum")
def _sum(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    return sum(_numbers(ev, x, "sum", env, pos))


@form("mean")
def _mean(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    nums = _numbers(ev, x, "mean", env, pos)
    if not nums:
        raise invalid_argument([*pos, "mean"], "Non-empty array expected.")
    return sum(nums) / len(nums)


# ---- strings ----


def _string_fn(name: str, fn: Callable[[str], Any]) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        return fn(want(ev.arg(x, name, env, pos), [*pos, name], str, "String"))


_string_fn("lowercase", str.lower)
_string_fn("uppercase", str.upper)
_string_fn("trim", str.strip)
_string_fn("ltrim", str.lstrip)
_string_fn("rtrim", str.rstrip)
_string_fn("casefold", str.casefold)
_string_fn("length", len)


@form("concat", optional=("separator",))
def _concat(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    sep = ev.arg(x, "separator", env, pos) if "separator" in x else ""
    want(sep, [*pos, "separator"], str, "String")
    return sep.join(want(v, at, str, "String") for v, at in ev.varargs(x, "concat", env, pos))


def _search_fn(name: str, fn: Callable[[str, str], bool]) -> None:
    @form(name, "search")
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        text = want(ev.arg(x, name, env, pos), [*pos, name], str, "String")
        return fn(text, want(ev.arg(x, "search", env, pos), [*pos, "search"], str, "String"))


_search_fn("startswith", str.startswith)
_search_fn("endswith", str.endswith)
_search_fn("containsstr", str.__contains__)


@form("substring", optional=("start", "length"))
def _substring(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    text = want(ev.arg(x, "substring", env, pos), [*pos, "substring"], str, "String")
    start = 0
    if "start" in x:
        start = want(ev.arg(x, "start", env, pos), [*pos, "start"], int, "Integer")
    if start < 0:
        start = max(0, len(text) + start)
    if "length" not in x:
        return text[start:]
    length = want(ev.arg(x, "length", env, pos), [*pos, "length"], int, "Integer")
    return text[start : start + max(length, 0)]


@form("replacestr", "find", "replace")
def _replacestr(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    text, find, repl = (
        want(ev.arg(x, k, env, pos), [*pos, k], str, "String")
        for k in ("replacestr", "find", "replace")
    )
    return text.replace(find, repl)


# ---- conversions ----


def _to_string(value: Any, pos: Pos) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if is_number(value):
        return repr(value)
    if isinstance(value, Ts):
        return value.iso()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise _cast(value, "String", pos)


def _cast(value: Any, target: str, pos: Pos) -> QueryError:
    return invalid_argument(pos, f"Cannot cast {type_name(value)} to {target}.")


def _to_integer(value: Any, pos: Pos) -> int:
    if is_number(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return int(float(value))
            except ValueError:
                raise _cast(value, "Integer", pos) from None
    raise _cast(value, "Integer", pos)


def _to_double(value: Any, pos: Pos) -> float:
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise _cast(value, "Double", pos) from None
    raise _cast(value, "Double", pos)


def _to_number(value: Any, pos: Pos) -> int | float:
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return _to_double(value, pos)
    if is_number(value):
        return value  # type: ignore[no-any-return]
    raise _cast(value, "Number", pos)


def _conversion(name: str, fn: Callable[[Any, Pos], Any]) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        return fn(ev.arg(x, name, env, pos), [*pos, name])


_conversion("to_string", _to_string)
_conversion("to_integer", _to_integer)
_conversion("to_double", _to_double)
_conversion("to_number", _to_number)


# ---- type predicates ----

_IS: dict[str, Callable[[Any], bool]] = {
    "is_null": lambda v: v is None,
    "is_number": is_number,
    "is_integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "is_double": lambda v: isinstance(v, float),
    "is_boolean": lambda v: isinstance(v, bool),
    "is_string": lambda v: isinstance(v, str),
    "is_array": lambda v: isinstance(v, list),
    "is_object": lambda v: isinstance(v, dict),
    "is_ref": lambda v: isinstance(v, Ref),
    "is_set": lambda v: isinstance(v, SetValue),
    "is_doc": lambda v: isinstance(v, Version) or (isinstance(v, Ref) and v.is_document),
    "is_timestamp": lambda v: isinstance(v, Ts),
    "is_date": lambda v: isinstance(v, dt.date),
    "is_bytes": lambda v: isinstance(v, bytes),
    "is_lambda": lambda v: isinstance(v, Lambda),
    "is_collection": lambda v: isinstance(v, Ref) and v.is_collection,
    "is_index": lambda v: isinstance(v, Ref) and v.is_index,
    "is_function": lambda v: isinstance(v, Ref) and v.is_function,
}


def _predicate(name: str) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        return _IS[name](ev.arg(x, name, env, pos))


for _name in _IS:
    _predicate(_name)


# ---- select and friends ----

_MISSING: Any = object()


def _step(cur: Any, key: Any) -> Any:
    """One path step; `_MISSING` when there is nothing there (null counts as absent)."""
    if isinstance(cur, Page):
        cur = cur.as_object()
    if isinstance(cur, Ref):
        cur = {"id": cur.id, "collection": cur.collection}
    if isinstance(key, str) and isinstance(cur, dict):
        found = cur.get(key)
    elif isinstance(key, int) and isinstance(cur, list) and 0 <= key < len(cur):
        found = cur[key]
    else:
        return _MISSING
    return _MISSING if found is None else found


def _path(ev: Evaluator, x: X, key: str, env: Env, pos: Pos) -> list[Any]:
    raw = ev.arg(x, key, env, pos)
    path = raw if isinstance(raw, list) else [raw]
    for p in path:
        if not isinstance(p, str | int) or isinstance(p, bool):
            raise expected([*pos, key], ["Integer", "String"], p)
    return path


def walk(value: Any, path: list[Any]) -> Any:
    for key in path:
        value = _step(value, key)
        if value is _MISSING:
            break
    return value


@form("select", "from", optional=("default", "all"))
def _select(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    path = _path(ev, x, "select", env, pos)
    found = walk(ev.arg(x, "from", env, pos), path)
    if found is not _MISSING:
        return found
    if "default" in x:
        return ev.arg(x, "default", env, pos)  # evaluated only when needed
    shown = ",".join(str(p) for p in path)
    raise QueryError(
        "value not found", f"Value not found at path [{shown}].", [*pos, "from"], status=404
    )


def _select_all(value: Any, path: list[Any]) -> list[Any]:
    if not path:
        return [value]
    if isinstance(value, list) and isinstance(path[0], str):
        return [found for v in value for found in _select_all(v, path)]
    nxt = _step(value, path[0])
    return [] if nxt is _MISSING else _select_all(nxt, path[1:])


@form("select_all", "from", optional=("default",))
def _select_all_form(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    path = _path(ev, x, "select_all", env, pos)
    found = _select_all(ev.arg(x, "from", env, pos), path)
    if not found and "default" in x:
        return ev.arg(x, "default", env, pos)
    return found


@form("contains_path", "in")
def _contains_path(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    path = _path(ev, x, "contains_path", env, pos)
    return walk(ev.arg(x, "in", env, pos), path) is not _MISSING


@form("contains_field", "in")
def _contains_field(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    name = want(ev.arg(x, "contains_field", env, pos), [*pos, "contains_field"], str, "String")
    return _step(ev.arg(x, "in", env, pos), name) is not _MISSING


@form("contains_value", "in")
def _contains_value(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    needle = freeze(ev.arg(x, "contains_value", env, pos))
    where = ev.arg(x, "in", env, pos)
    if isinstance(where, Page):
        where = where.data
    items = where.values() if isinstance(where, dict) else where
    if not isinstance(items, list) and not isinstance(where, dict):
        raise expected([*pos, "in"], ["Array", "Object"], where)
    return any(freeze(v) == needle for v in items)


# ---- objects ----


@form("merge", "with", optional=("lambda",))
def _merge(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    out = dict(want(ev.arg(x, "merge", env, pos), [*pos, "merge"], dict, "Object"))
    others = ev.arg(x, "with", env, pos)
    resolver = ev.arg(x, "lambda", env, pos) if "lambda" in x else None
    if resolver is not None and not isinstance(resolver, Lambda):
        raise expected([*pos, "lambda"], ["Lambda"], resolver)
    for other in others if isinstance(others, list) else [others]:
        for key, value in want(other, [*pos, "with"], dict, "Object").items():
            new = value
            if resolver is not None and key in out:
                new = ev.apply(resolver, [key, out[key], value], [*pos, "lambda"])
            if new is None:
                out.pop(key, None)  # merging a null removes the key
            else:
                out[key] = new
    return out


@form("to_array")
def _to_array(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    obj = want(ev.arg(x, "to_array", env, pos), [*pos, "to_array"], dict, "Object")
    return [[k, v] for k, v in obj.items()]


@form("to_object")
def _to_object(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    pairs = want(ev.arg(x, "to_object", env, pos), [*pos, "to_object"], list, "Array")
    out = {}
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            raise expected([*pos, "to_object"], ["Array"], pair)
        out[pair[0]] = pair[1]
    return out


# ---- time ----

_UNIT_NS = {
    "nanosecond": 1,
    "microsecond": 1_000,
    "millisecond": 1_000_000,
    "second": 1_000_000_000,
    "minute": 60_000_000_000,
    "hour": 3_600_000_000_000,
    "half day": 43_200_000_000_000,
    "day": 86_400_000_000_000,
}


def _unit(ev: Evaluator, x: X, env: Env, pos: Pos) -> int:
    raw = want(ev.arg(x, "unit", env, pos), [*pos, "unit"], str, "String")
    unit = raw.lower()
    ns = _UNIT_NS.get(unit) or _UNIT_NS.get(unit.removesuffix("s"))
    if ns is None:
        raise invalid_argument([*pos, "unit"], f"Invalid time unit '{raw}'.")
    return ns


def _parse_time(text: str, pos: Pos) -> Ts:
    ts = Ts.parse(text)
    if ts is None:
        raise invalid_argument(pos, f"Cannot cast '{text}' to a time.")
    return ts


@form("now")
def _now(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    return Ts(ev.ts * 1000)


@form("time")
def _time(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    text = want(ev.arg(x, "time", env, pos), [*pos, "time"], str, "String")
    return Ts(ev.ts * 1000) if text == "now" else _parse_time(text, [*pos, "time"])


@form("epoch", "unit")
def _epoch(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    n = want(ev.arg(x, "epoch", env, pos), [*pos, "epoch"], int, "Integer")
    return Ts(n * _unit(ev, x, env, pos))


def _shift(sign: int) -> Callable[[Evaluator, X, Env, Pos], Any]:
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        key = "time_add" if sign > 0 else "time_subtract"
        base = ev.arg(x, key, env, pos)
        offset = want(ev.arg(x, "offset", env, pos), [*pos, "offset"], int, "Integer")
        step = _unit(ev, x, env, pos)
        if isinstance(base, Ts):
            return Ts(base.ns + sign * offset * step)
        if isinstance(base, dt.date) and step % _UNIT_NS["day"] == 0:
            return base + dt.timedelta(days=sign * offset * step // _UNIT_NS["day"])
        raise expected([*pos, key], ["Time", "Date"], base)

    return handler


form("time_add", "offset", "unit")(_shift(1))
form("time_subtract", "offset", "unit")(_shift(-1))


@form("time_diff", "other", "unit")
def _time_diff(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    start = want(ev.arg(x, "time_diff", env, pos), [*pos, "time_diff"], Ts, "Time")
    finish = want(ev.arg(x, "other", env, pos), [*pos, "other"], Ts, "Time")
    diff = finish.ns - start.ns
    step = _unit(ev, x, env, pos)
    return diff // step if diff >= 0 else -(-diff // step)


def _ts_of(value: Any, pos: Pos) -> Ts:
    if isinstance(value, Ts):
        return value
    if isinstance(value, dt.date):
        days = (value - dt.date(1970, 1, 1)).days
        return Ts(days * _UNIT_NS["day"])
    if isinstance(value, str):
        return _parse_time(value, pos)
    if is_number(value):
        return Ts(int(value) * 1000)  # a number is microseconds since the epoch
    raise expected(pos, ["Time", "Date", "String"], value)


def _time_part(name: str, fn: Callable[[Ts], Any]) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        return fn(_ts_of(ev.arg(x, name, env, pos), [*pos, name]))


_time_part("to_time", lambda t: t)
_time_part("to_micros", lambda t: t.ns // 1_000)
_time_part("to_millis", lambda t: t.ns // 1_000_000)
_time_part("to_seconds", lambda t: t.ns // 1_000_000_000)
_time_part("to_date", lambda t: t.date())


@form("date")
def _date(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    text = want(ev.arg(x, "date", env, pos), [*pos, "date"], str, "String")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise invalid_argument([*pos, "date"], f"Cannot cast '{text}' to a date.") from None
