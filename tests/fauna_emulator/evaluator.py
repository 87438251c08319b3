"""The FQL v4 evaluator: literals, tagged values, form dispatch, and the control forms.

Positions in errors follow the form keys, as the core's parser reports them (fauna-notes §2):
an argument under key `k` of a form at `pos` is at `pos + [k]`, array elements add their index.
The other forms live in forms_values.py, forms_sets.py and forms_db.py.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from .errors import Pos, QueryError, expected, invalid_argument, invalid_expression, invalid_form
from .refs import legacy_ref, make_ref, native
from .registry import find_form, form
from .store import Store
from .values import Lambda, Ref, SetValue, Ts

Env = dict[str, Any]

_READS = frozenset({"read", "read_index"})
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": _READS | {"write", "write_schema", "root"},
    "server": _READS | {"write", "write_schema"},
    "server-readonly": _READS,
    "client": frozenset(),
}


class Evaluator:
    """Evaluates one query (one transaction) against the store at transaction time `ts` (µs)."""

    def __init__(self, store: Store, ts: int, txn: int, role: str = "admin") -> None:
        self.store = store
        self.ts = ts
        self.txn = txn
        self.role = role

    # ---- permissions: the built-in roles of `ext/model/src/main/scala/auth/Permissions.scala` ----

    def allowed(self, action: str) -> bool:
        """Whether the key's role may `action`: read, read_index, write, write_schema or root
        (databases and keys). Admin may do all; server all but root (RootClassIDs);
        server-readonly only reads; client nothing (NullPermissions, without ABAC roles)."""
        return action in ROLE_ACTIONS.get(self.role, frozenset())

    def require(self, action: str, pos: Pos) -> None:
        if not self.allowed(action):
            # PermissionDenied: 403 by `ast/Error.scala` statusCode, description per Renderable.
            raise QueryError(
                "permission denied",
                "Insufficient privileges to perform the action.",
                pos,
                status=403,
            )

    # ---- core ----

    def eval(self, expr: Any, env: Env, pos: Pos) -> Any:
        if expr is None or isinstance(expr, bool | int | float | str):
            return expr
        if isinstance(expr, list):
            return [self.eval(e, env, [*pos, i]) for i, e in enumerate(expr)]
        if isinstance(expr, dict):
            keys = list(expr)
            if len(keys) == 1 and keys[0].startswith("@"):
                return self.tagged(keys[0], expr[keys[0]], pos)
            found = find_form(keys)
            if found is None:
                raise invalid_form(pos, keys)
            return found.handler(self, expr, env, pos)
        raise invalid_expression(pos, "Invalid expression.")

    def arg(self, x: dict[str, Any], key: str, env: Env, pos: Pos) -> Any:
        return self.eval(x[key], env, [*pos, key])

    def varargs(self, x: dict[str, Any], key: str, env: Env, pos: Pos) -> list[tuple[Any, Pos]]:
        """Arguments of a variadic form: an array literal, or one expression (maybe an array)."""
        raw = x[key]
        if isinstance(raw, list):
            return [(self.eval(e, env, [*pos, key, i]), [*pos, key, i]) for i, e in enumerate(raw)]
        value = self.eval(raw, env, [*pos, key])
        items = value if isinstance(value, list) else [value]
        return [(v, [*pos, key]) for v in items]

    def apply(self, fn: Lambda, arg: Any, pos: Pos) -> Any:
        """Call a lambda found at `pos`; its body runs at `pos + ["expr"]`."""
        env = dict(fn.env)
        if isinstance(fn.params, str):
            env[fn.params] = arg
        else:
            if not isinstance(arg, list):
                raise expected(pos, ["Array"], arg)
            if len(arg) != len(fn.params):
                raise invalid_argument(
                    pos,
                    f"Lambda expects an array with {len(fn.params)} elements. "
                    f"Array contains {len(arg)}.",
                )
            env.update(zip(fn.params, arg, strict=True))
        return self.eval(fn.body, env, [*pos, "expr"])

    # ---- tagged literals in the request (fauna-notes §1, §6.4) ----

    def tagged(self, tag: str, body: Any, pos: Pos) -> Any:
        decoders = {
            "@ref": self._ref_literal,
            "@ts": _ts_literal,
            "@date": _date_literal,
            "@bytes": _bytes_literal,
            "@obj": self._obj_literal,
            "@set": self._set_literal,
            "@query": _query_literal,
        }
        decode = decoders.get(tag)
        if decode is None:
            raise invalid_form(pos, [tag])
        return decode(body, [*pos, tag])

    def literal(self, value: Any, pos: Pos) -> Any:
        """A value inside `@obj`: plain JSON, with tags decoded but nothing evaluated."""
        if isinstance(value, list):
            return [self.literal(v, [*pos, i]) for i, v in enumerate(value)]
        if isinstance(value, dict):
            if len(value) == 1 and next(iter(value)).startswith("@"):
                tag = next(iter(value))
                return self.tagged(tag, value[tag], pos)
            return {k: self.literal(v, [*pos, k]) for k, v in value.items()}
        return value

    def _obj_literal(self, body: Any, pos: Pos) -> Any:
        if not isinstance(body, dict):
            raise invalid_expression(pos, "Invalid object.")
        return {k: self.literal(v, [*pos, k]) for k, v in body.items()}

    def _set_literal(self, body: Any, pos: Pos) -> Any:
        value = self.eval(body, {}, pos)
        if not isinstance(value, SetValue):
            raise invalid_expression(pos, "Invalid set.")
        return value

    def _ref_literal(self, body: Any, pos: Pos) -> Ref:
        if isinstance(body, str):
            return legacy_ref(body, pos)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise invalid_expression(pos, "Invalid ref.")
        if set(body) - {"id", "collection", "class"}:
            raise invalid_expression(pos, "Invalid ref.")  # scoped (database) refs
        parent = body.get("collection", body.get("class"))
        if parent is None:
            return native(body["id"], pos)
        coll = self.eval(parent, {}, pos)
        if not isinstance(coll, Ref):
            raise invalid_expression(pos, "Invalid ref.")
        return make_ref(coll, body["id"], pos)


def _ts_literal(body: Any, pos: Pos) -> Ts:
    ts = Ts.parse(body) if isinstance(body, str) else None
    if ts is None:
        raise invalid_expression(pos, "Invalid time.")
    return ts


def _date_literal(body: Any, pos: Pos) -> dt.date:
    try:
        return dt.date.fromisoformat(body)
    except (TypeError, ValueError):
        raise invalid_expression(pos, "Invalid date.") from None


def _bytes_literal(body: Any, pos: Pos) -> bytes:
    # The driver sends URL-safe base64; the core writes the standard alphabet. Accept both.
    try:
        text = str(body).replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_expression(pos, "Invalid bytes.") from None


def _query_literal(body: Any, pos: Pos) -> Lambda:
    if not isinstance(body, dict) or set(body) != {"lambda", "expr"}:
        raise invalid_expression(pos, "Invalid lambda.")
    return Lambda(_params(body["lambda"], pos), body["expr"], {})


def _params(raw: Any, pos: Pos) -> str | list[str]:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        return list(raw)
    raise invalid_expression(pos, "Invalid lambda.")


# ---- control forms ----


@form("object")
def _object(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    body = x["object"]
    if not isinstance(body, dict):
        raise invalid_expression([*pos, "object"], "Invalid object.")
    return {k: ev.eval(v, env, [*pos, "object", k]) for k, v in body.items()}


@form("let", "in")
def _let(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    bindings = x["let"]
    scope = dict(env)
    # The driver sends a list of one-key objects; the older object form binds in key order.
    if isinstance(bindings, list):
        for i, binding in enumerate(bindings):
            if not isinstance(binding, dict) or len(binding) != 1:
                raise invalid_expression([*pos, "let", i], "Invalid let binding.")
            ((name, expr),) = binding.items()
            scope[name] = ev.eval(expr, scope, [*pos, "let", i, name])
    elif isinstance(bindings, dict):
        for name, expr in bindings.items():
            scope[name] = ev.eval(expr, scope, [*pos, "let", name])
    else:
        raise invalid_expression([*pos, "let"], "Invalid let binding.")
    return ev.eval(x["in"], scope, [*pos, "in"])


@form("var")
def _var(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    name = x["var"]
    if not isinstance(name, str) or name not in env:
        raise invalid_expression(pos, f"Variable '{name}' is not defined.")
    return env[name]


@form("if", "then", "else")
def _if(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    cond = ev.arg(x, "if", env, pos)
    if not isinstance(cond, bool):
        raise expected([*pos, "if"], ["Boolean"], cond)
    key = "then" if cond else "else"
    return ev.arg(x, key, env, pos)


@form("do")
def _do(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    exprs = x["do"]
    if not isinstance(exprs, list):
        return ev.arg(x, "do", env, pos)
    if not exprs:
        raise invalid_expression([*pos, "do"], "Expression list cannot be empty.")
    result = None
    for i, e in enumerate(exprs):
        result = ev.eval(e, env, [*pos, "do", i])
    return result


@form("abort")
def _abort(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    message = ev.arg(x, "abort", env, pos)
    if not isinstance(message, str):
        raise expected([*pos, "abort"], ["String"], message)
    raise QueryError("transaction aborted", message, pos)


@form("lambda", "expr")
def _lambda(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    return Lambda(_params(x["lambda"], [*pos, "lambda"]), x["expr"], env)


@form("query")
def _query(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    fn = ev.arg(x, "query", {}, pos)  # a stored query closes over nothing
    if not isinstance(fn, Lambda):
        raise expected([*pos, "query"], ["Lambda"], fn)
    return fn


def _bools(ev: Evaluator, x: dict[str, Any], key: str, env: Env, pos: Pos, *, stop: bool) -> bool:
    # And/Or evaluate left to right and stop at the first deciding value.
    raw = x[key]
    exprs = raw if isinstance(raw, list) else [raw]
    if not exprs:
        raise invalid_argument([*pos, key], "Non-empty array expected.")
    for i, e in enumerate(exprs):
        at = [*pos, key, i] if isinstance(raw, list) else [*pos, key]
        value = ev.eval(e, env, at)
        for v in value if isinstance(value, list) and not isinstance(raw, list) else [value]:
            if not isinstance(v, bool):
                raise expected(at, ["Boolean"], v)
            if v is stop:
                return stop
    return not stop


@form("and")
def _and(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    return _bools(ev, x, "and", env, pos, stop=False)


@form("or")
def _or(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    return _bools(ev, x, "or", env, pos, stop=True)


@form("not")
def _not(ev: Evaluator, x: dict[str, Any], env: Env, pos: Pos) -> Any:
    value = ev.arg(x, "not", env, pos)
    if not isinstance(value, bool):
        raise expected([*pos, "not"], ["Boolean"], value)
    return not value


# Register the remaining forms (import for side effects, after Evaluator exists).
from . import forms_db, forms_sets, forms_values  # noqa: E402

__all__ = ["Env", "Evaluator", "forms_db", "forms_sets", "forms_values"]
