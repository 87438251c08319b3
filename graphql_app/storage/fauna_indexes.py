"""The indexes the Fauna backend needs, compared with the ones a database already has.

migrate refuses an existing index defined otherwise (a seed database's `user_by_email`
without `unique` would silently lose uniqueness), naming each difference.
"""

from __future__ import annotations

import warnings
from typing import Any

with warnings.catch_warnings():
    # faunadb 4.5.2 warns on import that the driver is deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    from faunadb import query as q
    from faunadb.objects import Ref

# (source collection, data fields as terms, values or None, unique)
IndexSpec = tuple[str, list[str], list[dict[str, Any]] | None, bool]


def index_params(name: str, spec: IndexSpec) -> dict[str, Any]:
    """The CreateIndex parameters of the index `name` the backend needs."""
    source, terms, values, unique = spec
    params: dict[str, Any] = {
        "name": name,
        "source": q.collection(source),
        "terms": [{"field": ["data", term]} for term in terms],
        "unique": unique,
        "serialized": True,
    }
    if values is not None:
        params["values"] = values
    return params


def _fields(raw: Any) -> list[tuple[tuple[Any, ...], bool]]:
    """An index's terms or values as (path, reverse) pairs; a bare field name is a path."""
    out = []
    for item in raw or []:
        entry = item if isinstance(item, dict) else {"field": item}
        path = entry.get("field")
        path = path if isinstance(path, list) else [path]
        out.append((tuple(path), bool(entry.get("reverse", False))))
    return out


def _source_names(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    names = []
    for item in items:
        ref: Any = item.get("collection") if isinstance(item, dict) else item
        names.append(str(ref.id()) if isinstance(ref, Ref) else repr(ref))
    return names


def index_differences(name: str, spec: IndexSpec, found: dict[str, Any]) -> list[str]:
    """How an existing index's definition (its document) differs from the one the backend
    needs. Fauna's defaults: unique false, serialized true (the core's Index.DefaultData)."""
    source, _, values, unique = spec
    want = index_params(name, spec)
    checks = [
        ("source", _source_names(found.get("source")), [source]),
        ("terms", _fields(found.get("terms")), _fields(want["terms"])),
        ("values", _fields(found.get("values")), _fields(values)),
        ("unique", bool(found.get("unique", False)), unique),
        ("serialized", bool(found.get("serialized", True)), True),
    ]
    return [
        f"{key} is {_shown(have)}, needs {_shown(need)}"
        for key, have, need in checks
        if have != need
    ]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return (
            "["
            + ", ".join(
                ".".join(map(str, path)) + (" reversed" if reverse else "")
                for path, reverse in value
            )
            + "]"
        )
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def building_line(name: str) -> str:
    """The one line migrate fails with, and serve refuses to start with."""
    return (
        f"Fauna index {name} is still building (active: false); "
        "`python -m graphql_app migrate` waits for it"
    )
