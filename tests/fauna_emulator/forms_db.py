"""Forms that touch the database: refs, schema (collections, indexes, functions), documents."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .errors import (
    Pos,
    QueryError,
    already_exists,
    expected,
    invalid_argument,
    invalid_ref,
    invalid_type_failure,
    not_found,
    unsupported,
    validation_failed,
)
from .forms_sets import as_set
from .forms_values import want
from .refs import make_ref
from .registry import form
from .sets import FqlSet
from .store import CollectionDef, DatabaseDef, FunctionDef, IndexDef, IndexField, KeyDef, Store
from .values import (
    COLLECTIONS,
    DATABASES,
    FUNCTIONS,
    INDEXES,
    KEYS,
    Lambda,
    Ref,
    Ts,
    Version,
    collection_ref,
    database_ref,
    function_ref,
    index_ref,
    is_number,
    strip_nulls,
)

if TYPE_CHECKING:
    from .evaluator import Env, Evaluator

X = dict[str, Any]

RESERVED_NAMES = ("events", "sets", "self", "documents", "_")


# ---- refs ----


def _named_ref(name: str, make: Any) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        return make(want(ev.arg(x, name, env, pos), [*pos, name], str, "String"))


_named_ref("collection", collection_ref)
_named_ref("index", index_ref)
_named_ref("function", function_ref)
_named_ref("database", database_ref)


def _native_set(name: str) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        if ev.arg(x, name, env, pos) is not None:
            raise unsupported([*pos, name], "A database scope")
        return Ref(name)


for _native in ("collections", "indexes", "functions"):
    _native_set(_native)


@form("ref", "id")
def _ref(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    coll = ev.arg(x, "ref", env, pos)
    if not isinstance(coll, Ref):
        raise expected([*pos, "ref"], ["Ref"], coll)
    return make_ref(coll, ev.arg(x, "id", env, pos), [*pos, "id"])


def _new_id(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    return ev.store.new_id()


form("new_id")(_new_id)
form("next_id")(_new_id)


# ---- versions as the core renders them ----


def doc_version(ref: Ref, ts: int, fields: dict[str, Any]) -> Version:
    return Version({"ref": ref, "ts": ts, **fields})


def schema_version(
    ref: Ref, definition: CollectionDef | IndexDef | FunctionDef | DatabaseDef | KeyDef
) -> Version:
    return Version({"ref": ref, "ts": definition.ts, **definition.fields})


def _ts_arg(ev: Evaluator, x: X, env: Env, pos: Pos) -> int | None:
    if "ts" not in x:
        return None
    value = ev.arg(x, "ts", env, pos)
    if isinstance(value, Ts):
        return value.micros
    if is_number(value):
        return int(value)
    raise expected([*pos, "ts"], ["Time", "Integer"], value)


def read(ev: Evaluator, ref: Ref, at: Pos, ts: int | None, strict: bool) -> Version | None:
    """The version a ref names (None if absent); `strict` makes an undefined name an error."""
    state = ev.store.state
    if ref.is_document:
        assert ref.collection is not None
        if ref.collection.id not in state.collections:
            if strict:
                raise invalid_ref(at, "collection", ref.collection.id)
            return None
        doc = ev.store.doc(ref)
        version = None if doc is None else (doc.versions[-1] if ts is None else doc.at(ts))
        if version is None or version[1] is None:
            return None
        return doc_version(ref, version[0], version[1])
    tables: dict[Ref, tuple[str, dict[str, Any]]] = {
        COLLECTIONS: ("collection", state.collections),
        INDEXES: ("index", state.indexes),
        FUNCTIONS: ("function", state.functions),
        DATABASES: ("database", state.databases),
        KEYS: ("key", state.keys),
    }
    if ref.collection not in tables:
        raise unsupported(at, "Reading this ref")
    kind, table = tables[ref.collection]
    if ref.id not in table:
        if strict:
            raise invalid_ref(at, kind, ref.id)
        return None
    return schema_version(ref, table[ref.id])


@form("get", optional=("ts",))
def _get(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    target = ev.arg(x, "get", env, pos)
    ts = _ts_arg(ev, x, env, pos)
    at = [*pos, "get"]
    if isinstance(target, FqlSet):
        if ts is not None:
            raise unsupported([*pos, "ts"], "Get of a set at a past time")
        entries = target.entries(ev)
        if not entries:
            raise not_found(pos, "Set not found.")
        target = entries[0].ref  # the first document in set order (fauna-notes §2)
    if not isinstance(target, Ref):
        raise expected(at, ["Ref", "Set"], target)
    ev.require("root" if _is_root_class(target) else "read", at)
    version = read(ev, target, at, ts, strict=True)
    if version is None:
        raise not_found(pos, "Document not found.")
    return version


@form("exists", optional=("ts",))
def _exists(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    target = ev.arg(x, "exists", env, pos)
    ts = _ts_arg(ev, x, env, pos)
    if isinstance(target, FqlSet):
        return bool(target.entries(ev))
    if not isinstance(target, Ref):
        raise expected([*pos, "exists"], ["Ref", "Set"], target)
    if target.is_native:
        return True
    if not ev.allowed("root" if _is_root_class(target) else "read"):
        return False  # canRead && exists (`ast/functions/ReadAdaptor.scala` exists)
    return read(ev, target, [*pos, "exists"], ts, strict=False) is not None


# ---- documents ----


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Update semantics: objects merge recursively, a null removes, anything else replaces."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = strip_nulls(value)
    return out


def doc_fields(
    params: dict[str, Any], at: Pos, prev: dict[str, Any] | None, merge: bool
) -> dict[str, Any]:
    """The stored fields (ttl, data) a create/update/replace leaves; other keys are ignored."""
    for key in ("credentials", "delegates"):
        if params.get(key) is not None:
            raise unsupported(at, f"A document's '{key}'")
    out = dict(prev) if merge and prev else {}
    if "ttl" in params:
        ttl = params["ttl"]
        if ttl is None:
            out.pop("ttl", None)
        elif not isinstance(ttl, Ts):
            raise invalid_type_failure(at, ["ttl"], "Time", ttl)
        else:
            out["ttl"] = ttl
    if "data" in params:
        data = params["data"]
        if data is None:
            out.pop("data", None)
        elif not isinstance(data, dict):
            raise invalid_type_failure(at, ["data"], "Object", data)
        elif merge:
            out["data"] = deep_merge(out.get("data") or {}, data)
        else:
            out["data"] = strip_nulls(data)
    return {k: out[k] for k in ("ttl", "data") if k in out}


def _writable(ev: Evaluator, coll: str, at: Pos) -> None:
    found = ev.store.state.collections.get(coll)
    if found is None:
        raise invalid_ref(at, "collection", coll)
    if found.txn == ev.txn:
        raise invalid_argument(
            at, "Cannot create a collection and a document in it in the same transaction."
        )


def _params(ev: Evaluator, x: X, env: Env, pos: Pos) -> dict[str, Any]:
    if "params" not in x:
        return {}
    params = ev.arg(x, "params", env, pos)
    if not isinstance(params, dict):
        raise expected([*pos, "params"], ["Object"], params)
    return params


def create_document(ev: Evaluator, target: Any, params: dict[str, Any], at: Pos) -> Version:
    if isinstance(target, str):
        target = collection_ref(target)
    if not isinstance(target, Ref) or not (target.is_collection or target.is_document):
        raise expected(at, ["Ref"], target)
    if target.is_collection:
        coll, doc_id = target.id, None
    else:
        assert target.collection is not None
        coll, doc_id = target.collection.id, target.id
    _writable(ev, coll, at)
    ev.require("write", at)
    if doc_id is not None:
        doc = ev.store.doc(target)
        if doc is not None and doc.current is not None:
            raise already_exists(at, "Document")
    fields = doc_fields(params, at, None, merge=False)
    ref = target if doc_id is not None else Ref(ev.store.new_id(), target)
    ev.store.write_doc(ref, fields, ev.ts, at)
    version = doc_version(ref, ev.ts, fields)
    version.is_new = True
    return version


@form("create", optional=("params",))
def _create(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    target = ev.arg(x, "create", env, pos)
    params = _params(ev, x, env, pos)
    at = [*pos, "create"]
    if isinstance(target, Ref) and target.is_native and target.id in _SCHEMA_CREATORS:
        return _SCHEMA_CREATORS[target.id](ev, params, at)
    return create_document(ev, target, params, at)


def _write(ev: Evaluator, x: X, env: Env, pos: Pos, verb: str) -> Any:
    target = ev.arg(x, verb, env, pos)
    params = _params(ev, x, env, pos)
    at = [*pos, verb]
    if not isinstance(target, Ref):
        raise expected(at, ["Ref"], target)
    if not target.is_document:
        raise unsupported(at, f"{verb.capitalize()} of a schema document")
    ev.require("write", at)
    current = read(ev, target, at, None, strict=True)
    if current is None:
        raise not_found(at, "Document not found.")
    prev = {k: v for k, v in current.items() if k not in ("ref", "ts")}
    fields = doc_fields(params, pos, prev, merge=verb == "update")
    ev.store.write_doc(target, fields, ev.ts, pos)
    return doc_version(target, ev.ts, fields)


@form("update", "params")
def _update(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    return _write(ev, x, env, pos, "update")


@form("replace", "params")
def _replace(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    return _write(ev, x, env, pos, "replace")


@form("delete")
def _delete(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    target = ev.arg(x, "delete", env, pos)
    at = [*pos, "delete"]
    if not isinstance(target, Ref) or target.is_native:
        raise expected(at, ["Ref"], target)
    ev.require("write" if target.is_document else "write_schema", at)
    if target.collection in (DATABASES, KEYS):
        return _delete_root_doc(ev, target, at)
    version = read(ev, target, at, None, strict=True)
    if version is None:
        raise not_found(pos, "Document not found.")
    if target.is_document:
        ev.store.write_doc(target, None, ev.ts, pos)
    elif target.is_collection:
        ev.store.drop_collection(target.id)
    elif target.is_index:
        ev.store.drop_index(target.id)
    else:
        ev.store.drop_function(target.id)
    return version  # the last version, as the core returns it


# ---- schema ----


def _name(ev: Evaluator, params: dict[str, Any], at: Pos) -> str:
    name = params.get("name")
    if name is None:
        raise validation_failed(at, ["name"], "value required", "Value required.")
    if not isinstance(name, str):
        raise invalid_type_failure(at, ["name"], "String", name)
    if name in RESERVED_NAMES:
        reserved = ", ".join(RESERVED_NAMES)
        raise validation_failed(
            at, ["name"], "reserved name", f"Invalid name {name}. Reserved names: {reserved}."
        )
    return name


def create_collection(ev: Evaluator, params: dict[str, Any], at: Pos) -> Version:
    ev.require("write_schema", at)
    name = _name(ev, params, at)
    if name in ev.store.state.collections:
        raise already_exists(at, "Collection")
    fields = {"history_days": 30, **strip_nulls(params)}
    fields = {"history_days": fields.pop("history_days"), "name": name, **fields}
    ev.store.put_collection(CollectionDef(name, fields, ev.ts, ev.txn))
    version = Version({"ref": collection_ref(name), "ts": ev.ts, **fields})
    version.is_new = True
    return version


def _source(ev: Evaluator, raw: Any, at: Pos) -> tuple[str, ...]:
    if raw is None:
        raise validation_failed(at, ["source"], "value required", "Value required.")
    names = []
    for item in raw if isinstance(raw, list) else [raw]:
        ref = item
        if isinstance(item, dict):
            if set(item) - {"collection"}:
                raise unsupported(at, "An index source with field bindings")
            ref = item.get("collection")
        if not (isinstance(ref, Ref) and ref.is_collection):
            raise invalid_type_failure(at, ["source"], "Ref", ref)
        found = ev.store.state.collections.get(ref.id)
        if found is None:
            raise invalid_ref(at, "collection", ref.id)
        if found.txn == ev.txn:
            # An index cannot be created in the query that creates its source collection.
            raise validation_failed(at, ["source"], "invalid reference", "Cannot read reference.")
        names.append(ref.id)
    return tuple(names)


def _fields(raw: Any, key: str, at: Pos) -> tuple[tuple[IndexField, ...], list[dict[str, Any]]]:
    """Parse `terms` or `values`: [{field: path, reverse?}]; also return them as rendered."""
    if raw is None:
        return (), []
    if not isinstance(raw, list):
        raise invalid_type_failure(at, [key], "Array", raw)
    parsed, shown = [], []
    for entry in raw:
        if not isinstance(entry, dict) or "field" not in entry or set(entry) - {"field", "reverse"}:
            if isinstance(entry, dict) and "binding" in entry:
                raise unsupported(at, "An index binding")
            raise validation_failed(at, [key], "value required", "Value required.")
        path = entry["field"] if isinstance(entry["field"], list) else [entry["field"]]
        if not path or not all(isinstance(p, str | int) and not isinstance(p, bool) for p in path):
            raise invalid_type_failure(at, [key], "Array", entry["field"])
        if key == "terms" and (path == ["ts"] or "reverse" in entry):
            raise validation_failed(at, [key], "invalid field", "Field not allowed.")
        reverse = entry.get("reverse") is True
        parsed.append(IndexField(tuple(path), reverse))
        shown.append({"field": path, **({"reverse": reverse} if "reverse" in entry else {})})
    return tuple(parsed), shown


def create_index(ev: Evaluator, params: dict[str, Any], at: Pos) -> Version:
    ev.require("write_schema", at)
    name = _name(ev, params, at)
    if name in ev.store.state.indexes:
        raise already_exists(at, "Index")
    source = _source(ev, params.get("source"), at)
    terms, shown_terms = _fields(params.get("terms"), "terms", at)
    values, shown_values = _fields(params.get("values"), "values", at)
    unique = params.get("unique", False)
    serialized = params.get("serialized", True)
    for key, flag in (("unique", unique), ("serialized", serialized)):
        if not isinstance(flag, bool):
            raise invalid_type_failure(at, [key], "Boolean", flag)
    # Built in this query when the sources are small, else in the background (store.py).
    active = not ev.store.needs_background_build(source)
    fields: dict[str, Any] = {"active": active, "serialized": serialized, "name": name}
    if "unique" in params:
        fields["unique"] = unique
    fields["source"] = params["source"]
    if shown_terms:
        fields["terms"] = shown_terms
    if shown_values:
        fields["values"] = shown_values
    if params.get("data") is not None:
        fields["data"] = strip_nulls(params["data"])
    fields["partitions"] = 1 if terms else 8  # as Fauna reports them (fauna-notes §3)
    index = IndexDef(name, source, terms, values, unique, fields, ev.ts, ev.txn)
    ev.store.put_index(index)
    fields = dict(fields)  # the rendered version keeps this query's `active`
    version = Version({"ref": index_ref(name), "ts": ev.ts, **fields})
    version.is_new = True
    return version


def create_function(ev: Evaluator, params: dict[str, Any], at: Pos) -> Version:
    ev.require("write_schema", at)
    name = _name(ev, params, at)
    if name in ev.store.state.functions:
        raise already_exists(at, "Function")
    body = params.get("body")
    if not isinstance(body, Lambda):
        raise invalid_type_failure(at, ["body"], "Query", body)
    if params.get("role") is not None:
        raise unsupported(at, "A function role")
    fields = {"name": name, "body": body, **strip_nulls({"data": params.get("data")})}
    ev.store.put_function(FunctionDef(name, body, fields, ev.ts, ev.txn))
    version = Version({"ref": function_ref(name), "ts": ev.ts, **fields})
    version.is_new = True
    return version


def create_database(ev: Evaluator, params: dict[str, Any], at: Pos) -> Version:
    """A child database with its own schema and documents; only an admin key may."""
    ev.require("root", at)
    name = _name(ev, params, at)
    if name in ev.store.state.databases:
        raise already_exists(at, "Database")
    fields = {"name": name, **strip_nulls({"data": params.get("data")})}
    child = DatabaseDef(name, Store(ev.store.clock), fields, ev.ts)
    ev.store.put_database(child)
    version = Version({"ref": database_ref(name), "ts": ev.ts, **fields})
    version.is_new = True
    return version


KEY_ROLES = ("admin", "server", "server-readonly", "client")


def create_key(ev: Evaluator, params: dict[str, Any], at: Pos) -> Version:
    """A key for this database or a child (`database`), with a built-in role. The secret is
    returned once, as the core does; it is shown as `fn` + random text."""
    ev.require("root", at)
    role = params.get("role")
    if role not in KEY_ROLES:
        raise validation_failed(at, ["role"], "invalid value", f"Invalid role {role!r}.")
    db = params.get("database")
    if db is not None:
        if not (isinstance(db, Ref) and db.collection == DATABASES):
            raise invalid_type_failure(at, ["database"], "Ref", db)
        if db.id not in ev.store.state.databases:
            raise invalid_ref(at, "database", db.id)
    key_id = ev.store.new_id()
    secret = "fn" + secrets.token_urlsafe(30).replace("-", "A").replace("_", "B")
    fields: dict[str, Any] = {"role": role}
    if db is not None:
        fields["database"] = db
    key = KeyDef(key_id, secret, db.id if db is not None else None, role, fields, ev.ts)
    ev.store.put_key(key)
    version = Version(
        {
            "ref": Ref(key_id, KEYS),
            "ts": ev.ts,
            **fields,
            "secret": secret,
            "hashed_secret": "$2a$05$" + secrets.token_hex(26),
        }
    )
    version.is_new = True
    return version


def _is_root_class(ref: Ref) -> bool:
    return ref.collection in (DATABASES, KEYS)


def _delete_root_doc(ev: Evaluator, ref: Ref, at: Pos) -> Version:
    ev.require("root", at)
    if ref.collection == DATABASES:
        found = ev.store.state.databases.get(ref.id)
        if found is None:
            raise invalid_ref(at, "database", ref.id)
        ev.store.drop_database(ref.id)
        return Version({"ref": ref, "ts": found.ts, **found.fields})
    key = ev.store.state.keys.get(ref.id)
    if key is None:
        raise not_found(at, "Key not found.")
    ev.store.drop_key(ref.id)
    return Version({"ref": ref, "ts": key.ts, **key.fields})


_SCHEMA_CREATORS = {
    "collections": create_collection,
    "indexes": create_index,
    "functions": create_function,
    "databases": create_database,
    "keys": create_key,
}


def _schema_form(name: str, native: str) -> None:
    @form(name)
    def handler(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
        params = ev.arg(x, name, env, pos)
        if not isinstance(params, dict):
            raise expected([*pos, name], ["Object"], params)
        return _SCHEMA_CREATORS[native](ev, params, [*pos, name])


_schema_form("create_collection", "collections")
_schema_form("create_class", "collections")
_schema_form("create_index", "indexes")
_schema_form("create_function", "functions")
_schema_form("create_database", "databases")
_schema_form("create_key", "keys")


@form("call", optional=("arguments",))
def _call(ev: Evaluator, x: X, env: Env, pos: Pos) -> Any:
    target = ev.arg(x, "call", env, pos)
    if isinstance(target, str):
        target = function_ref(target)
    if not (isinstance(target, Ref) and target.is_function):
        raise expected([*pos, "call"], ["Function Ref"], target)
    fn = ev.store.state.functions.get(target.id)
    if fn is None:
        raise invalid_ref([*pos, "call"], "function", target.id)
    args = ev.arg(x, "arguments", env, pos) if "arguments" in x else []
    try:
        return ev.apply(fn.body, args, [])
    except QueryError as err:
        raise QueryError(
            "call error", "Calling the function resulted in an error.", pos, cause=[err]
        ) from err


__all__ = ["as_set", "create_document"]
