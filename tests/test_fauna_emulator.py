"""Tests of the FQL v4 emulator, driven through the real faunadb driver and raw HTTP.

Each docstring names the fauna-notes.md section (and example) it checks.
"""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fauna_emulator import FaunaEmulator

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # faunadb 4.5.2 warns on import (§0.2)
    import faunadb.client
    from faunadb import query as q
    from faunadb.client import FaunaClient
    from faunadb.errors import (
        BadRequest,
        ContendedTransaction,
        NotFound,
        PermissionDenied,
        Unauthorized,
        UnavailableError,
    )
    from faunadb.objects import FaunaTime, Query, Ref, SetRef

ROOT = Path(__file__).resolve().parents[1]
SECRET = "secret"  # FaunaEmulator's default secret


@pytest.fixture(autouse=True)
def _offline_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    # FaunaClient.__init__ asks PyPI for a newer version; tests are offline (§0.1).
    monkeypatch.setattr(faunadb.client.FaunaClient, "check_new_version", lambda self: None)


@pytest.fixture
def emu() -> Iterator[FaunaEmulator]:
    with FaunaEmulator() as emulator:
        yield emulator


def make_client(emu: FaunaEmulator, secret: str = SECRET, **kw: Any) -> FaunaClient:
    return FaunaClient(secret=secret, domain="127.0.0.1", scheme="http", port=emu.port, **kw)


@pytest.fixture
def client(emu: FaunaEmulator) -> FaunaClient:
    return make_client(emu)


def raw(
    emu: FaunaEmulator,
    body: Any = None,
    *,
    method: str = "POST",
    path: str = "/",
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    auth: bool = True,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP exchange outside the driver: (status, lower-cased headers, decoded JSON)."""
    conn = http.client.HTTPConnection(emu.host, emu.port, timeout=10)
    sent = {"Content-Type": "application/json;charset=utf-8", "X-FaunaDB-API-Version": "4"}
    if auth:
        sent["Authorization"] = "Bearer secret"
    sent.update(headers or {})
    payload = data if data is not None else json.dumps(body).encode()
    try:
        conn.request(method, path, body=payload, headers=sent)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8")
        got = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    return resp.status, got, json.loads(text)


def error_of(exc: pytest.ExceptionInfo[Any]) -> tuple[str, str, list[Any] | None]:
    err = exc.value.errors[0]
    return err.code, err.description, err.position


def users_schema(client: FaunaClient, unique: bool = True) -> None:
    client.query(q.create_collection({"name": "users"}))
    client.query(
        q.create_index(
            {
                "name": "users_by_email",
                "source": q.collection("users"),
                "terms": [{"field": ["data", "email"]}],
                "unique": unique,
            }
        )
    )


def user(email: str) -> Any:
    return q.create(q.collection("users"), {"data": {"email": email}})


def count_users(client: FaunaClient) -> int:
    return int(client.query(q.count(q.documents(q.collection("users")))))


def titles_schema(client: FaunaClient, titles: list[Any], values: list[Any] | None = None) -> None:
    """Collection `todos` with docs titled `titles` (ids 1..n) and index `by_title`."""
    client.query(q.create_collection({"name": "todos"}))
    client.query(
        q.create_index(
            {
                "name": "by_title",
                "source": q.collection("todos"),
                "values": values or [{"field": ["data", "title"]}, {"field": ["ref"]}],
            }
        )
    )
    client.query(
        q.do(
            *[
                q.create(q.ref(q.collection("todos"), str(i + 1)), {"data": {"title": t}})
                for i, t in enumerate(titles)
            ]
        )
    )


def todo(i: int | str) -> Ref:
    return Ref(str(i), Ref("todos", Ref("collections")))


# ---- wire protocol (§1, §6.1-3) ----


def test_ping(client: FaunaClient, emu: FaunaEmulator) -> None:
    """§1 Other calls: GET /ping answers {"resource":"Scope write is OK"}."""
    assert client.ping() == "Scope write is OK"
    status, _, body = raw(emu, method="GET", path="/ping?scope=all", data=b"")
    assert (status, body) == (200, {"resource": "Scope all is OK"})


def test_wrong_secret_is_unauthorized(emu: FaunaEmulator) -> None:
    """§1 status table (401 → Unauthorized) and protocol errors: 401 with no position."""
    with pytest.raises(Unauthorized):
        make_client(emu, secret="wrong").query(1)
    status, headers, body = raw(emu, 1, auth=False)
    assert status == 401
    assert body == {"errors": [{"code": "unauthorized", "description": "Unauthorized"}]}
    assert headers["www-authenticate"] == 'Basic realm="Unauthorized"'


def test_basic_auth_is_accepted(emu: FaunaEmulator) -> None:
    """§4 "Secrets go as Bearer or Basic": Basic base64("secret:") authenticates too."""
    token = base64.b64encode(b"secret:").decode()
    status, _, body = raw(emu, 7, auth=False, headers={"Authorization": f"Basic {token}"})
    assert (status, body) == (200, {"resource": 7})


@pytest.mark.parametrize(
    ("method", "path", "data", "auth"),
    [
        ("POST", "/", b"1", True),
        ("GET", "/ping", b"", False),
        ("POST", "/", b"{not json", True),
        ("POST", "/", b"", True),
        ("POST", "/", b"1", False),
        ("POST", "/", b'{"frobnicate":1}', True),
        ("GET", "/nowhere", b"", True),
        ("PUT", "/", b"1", True),
        ("FROB", "/", b"", True),
    ],
)
def test_every_answer_is_json(
    emu: FaunaEmulator, method: str, path: str, data: bytes, auth: bool
) -> None:
    """§0.5 and §6.2: the driver parses JSON before the status, so every answer is JSON with
    Content-Type application/json;charset=utf-8 and an X-Txn-Time header."""
    _, headers, body = raw(emu, method=method, path=path, data=data, auth=auth)
    assert headers["content-type"] == "application/json;charset=utf-8"
    assert int(headers["x-txn-time"]) > 0
    assert "resource" in body or body["errors"][0]["code"]


def test_txn_time_header_increases(emu: FaunaEmulator, client: FaunaClient) -> None:
    """§1 "X-Txn-Time: <µs> response header ... on every v4 response, errors included"."""
    times = [int(raw(emu, i)[1]["x-txn-time"]) for i in range(5)]
    times.append(int(raw(emu, {"frobnicate": 1})[1]["x-txn-time"]))
    assert times == sorted(set(times))
    client.query(1)
    assert client.get_last_txn_time() >= times[-1]


def test_create_answers_201_other_results_200(emu: FaunaEmulator) -> None:
    """§1 status table: "the core returns 201 when the top-level result is a newly created
    document"; anything else is 200."""
    assert raw(emu, {"create_collection": {"object": {"name": "todos"}}})[0] == 201
    status, _, body = raw(emu, {"create": {"collection": "todos"}, "params": {"object": {}}})
    assert status == 201
    ref = body["resource"]["ref"]
    assert raw(emu, {"get": ref})[0] == 200
    assert raw(emu, {"update": ref, "params": {"object": {}}})[0] == 200
    assert raw(emu, {"do": [{"create": {"collection": "todos"}}, 1]})[0] == 200


def test_unicode_round_trips(client: FaunaClient, emu: FaunaEmulator) -> None:
    """§0.6: requests are ASCII with escapes; answers are UTF-8 and must keep non-ASCII text."""
    assert client.query(q.concat(["héllo ", "wörld ✓"])) == "héllo wörld ✓"


def test_api_version_and_query_timeout_headers(emu: FaunaEmulator) -> None:
    """§3 "API version": invalid X-FaunaDB-API-Version → 400 bad request; X-Query-Timeout
    must be 1..600000 ms."""
    assert raw(emu, 1, headers={"X-FaunaDB-API-Version": "4"})[0] == 200
    status, _, body = raw(emu, 1, headers={"X-FaunaDB-API-Version": "banana"})
    assert (status, body["errors"][0]["code"]) == (400, "bad request")
    for good in ("1", "600000"):
        assert raw(emu, 1, headers={"X-Query-Timeout": good})[0] == 200
    for bad in ("0", "600001", "soon"):
        status, _, body = raw(emu, 1, headers={"X-Query-Timeout": bad})
        assert (status, body["errors"][0]["code"]) == (400, "bad request")
    assert make_client(emu, query_timeout_ms=5000).query(q.add(1, 2)) == 3


# ---- transactions: uniqueness and rollback (§3, §6.5) ----


def test_unique_violation_inside_one_transaction(client: FaunaClient) -> None:
    """§3 "Unique indexes": two creates with the same email in one `do` fail with 400
    "instance not unique" / "document is not unique.", and nothing of that query persists."""
    users_schema(client)
    with pytest.raises(BadRequest) as exc:
        client.query(q.do(user("a@x.io"), user("a@x.io")))
    assert error_of(exc) == ("instance not unique", "document is not unique.", ["do", 1, "create"])
    assert count_users(client) == 0


def test_unique_create_delete_create_in_one_transaction(client: FaunaClient) -> None:
    """§3 "Unique indexes": create → delete → create of the same unique value in one
    transaction succeeds (IndexSpec)."""
    users_schema(client)
    doc = client.query(
        q.let(
            {"first": user("a@x.io")},
            q.do(q.delete(q.select("ref", q.var("first"))), user("a@x.io")),
        )
    )
    assert doc["data"] == {"email": "a@x.io"}
    assert count_users(client) == 1


def test_unique_across_queries_and_on_update(client: FaunaClient) -> None:
    """§2 error bodies: a duplicate from create has position ["create"]; from update it is the
    position of the call itself ([] at top level)."""
    users_schema(client)
    client.query(user("a@x.io"))
    other = client.query(user("b@x.io"))
    with pytest.raises(BadRequest) as exc:
        client.query(user("a@x.io"))
    assert error_of(exc)[0::2] == ("instance not unique", ["create"])
    with pytest.raises(BadRequest) as exc:
        client.query(q.update(other["ref"], {"data": {"email": "a@x.io"}}))
    assert error_of(exc)[0::2] == ("instance not unique", [])
    assert client.query(q.get(other["ref"]))["data"] == {"email": "b@x.io"}


def test_unique_covers_terms_and_values_together(client: FaunaClient) -> None:
    """§3 "Unique indexes": uniqueness is on terms + values combined; ["ref"] in values makes
    every tuple distinct (the documented pitfall)."""
    client.query(q.create_collection({"name": "users"}))
    client.query(
        q.create_index(
            {
                "name": "email_ref",
                "source": q.collection("users"),
                "terms": [{"field": ["data", "email"]}],
                "values": [{"field": ["ref"]}],
                "unique": True,
            }
        )
    )
    client.query(q.do(user("a@x.io"), user("a@x.io")))
    assert count_users(client) == 2


def test_abort_rolls_back_every_write(client: FaunaClient) -> None:
    """§3 "Every query is one transaction" and §2: abort → 400 "transaction aborted" with the
    given description; the create before it does not persist."""
    users_schema(client)
    with pytest.raises(BadRequest) as exc:
        client.query(q.do(user("a@x.io"), q.abort("nope")))
    assert error_of(exc) == ("transaction aborted", "nope", ["do", 1])
    assert count_users(client) == 0


def test_failing_get_rolls_back_an_update(client: FaunaClient) -> None:
    """§3 "Any error aborts all pending writes of that query": update then a failing get."""
    users_schema(client)
    ref = client.query(user("a@x.io"))["ref"]
    with pytest.raises(NotFound):
        client.query(
            q.do(
                q.update(ref, {"data": {"email": "z@x.io"}}),
                q.get(q.ref(q.collection("users"), "1")),
            )
        )
    assert client.query(q.get(ref))["data"] == {"email": "a@x.io"}
    assert client.query(q.exists(q.match(q.index("users_by_email"), "z@x.io"))) is False


def test_later_expressions_see_earlier_writes(client: FaunaClient) -> None:
    """§3: "Inside a query, later expressions see earlier writes" and all writes share one ts."""
    users_schema(client)
    result = client.query(
        q.let(
            {"a": user("a@x.io"), "b": user("b@x.io")},
            {
                "found": q.select(
                    ["data", "email"], q.get(q.match(q.index("users_by_email"), "b@x.io"))
                ),
                "same_ts": q.equals(q.select("ts", q.var("a")), q.select("ts", q.var("b"))),
                "count": q.count(q.documents(q.collection("users"))),
            },
        )
    )
    assert result == {"found": "b@x.io", "same_ts": True, "count": 2}


# ---- sets, ordering, pagination (§3) ----


def test_index_orders_by_values_then_numeric_ref(client: FaunaClient) -> None:
    """§3 "Set elements and ordering": values tuple first, then ref; "101" sorts before "1000"
    because ids compare as Longs."""
    client.query(q.create_collection({"name": "todos"}))
    client.query(
        q.create_index(
            {
                "name": "by_title",
                "source": q.collection("todos"),
                "values": [{"field": ["data", "title"]}, {"field": ["ref"]}],
            }
        )
    )
    for doc_id, title in [("1000", "a"), ("101", "a"), ("7", "b"), ("99", "a")]:
        client.query(q.create(q.ref(q.collection("todos"), doc_id), {"data": {"title": title}}))
    page = client.query(q.paginate(q.match(q.index("by_title"))))
    assert page == {"data": [["a", todo(99)], ["a", todo(101)], ["a", todo(1000)], ["b", todo(7)]]}
    refs = client.query(q.paginate(q.documents(q.collection("todos"))))["data"]
    assert refs == [todo(7), todo(99), todo(101), todo(1000)]


def test_reverse_values(client: FaunaClient) -> None:
    """§3 "Index definition": values entries may carry reverse: true."""
    titles_schema(
        client,
        ["b", "a", "c"],
        values=[{"field": ["data", "title"], "reverse": True}, {"field": ["ref"]}],
    )
    page = client.query(q.paginate(q.match(q.index("by_title")), size=2))
    assert page["data"] == [["c", todo(3)], ["b", todo(1)]]
    rest = client.query(q.paginate(q.match(q.index("by_title")), after=page["after"]))
    assert rest["data"] == [["a", todo(2)]]


def test_mixed_types_follow_fauna_type_order(client: FaunaClient) -> None:
    """§3 "Values compare by Fauna's CBOR ordering" (type precedence from Fauna's LT docs:
    Number < String < Array < Object < Ref < Time < Boolean < Null); null sorts last. The
    array [1] is indexed per element, so it sorts as the number 1."""
    titles_schema(client, [True, "a", 2, None, 1.5, [1], {"k": 1}, q.time("now")])
    data = client.query(q.paginate(q.match(q.index("by_title"))))["data"]
    values = [row[0] for row in data]
    assert values[:5] == [1, 1.5, 2, "a", {"k": 1}]
    assert isinstance(values[5], FaunaTime)
    assert values[6:] == [True, None]


def test_elements_ref_scalar_or_array(client: FaunaClient) -> None:
    """§3 "Set elements": the ref with no values, a bare scalar with one, an array with
    several."""
    titles_schema(client, ["x"])
    client.query(
        q.create_index(
            {
                "name": "just_title",
                "source": q.collection("todos"),
                "values": [{"field": ["data", "title"]}],
            }
        )
    )
    client.query(q.create_index({"name": "all_todos", "source": q.collection("todos")}))
    assert client.query(q.paginate(q.match(q.index("all_todos"))))["data"] == [todo(1)]
    assert client.query(q.paginate(q.match(q.index("just_title"))))["data"] == ["x"]
    assert client.query(q.paginate(q.match(q.index("by_title"))))["data"] == [["x", todo(1)]]


def test_array_field_gives_one_entry_per_element_and_null_terms_none(client: FaunaClient) -> None:
    """§3 "Index definition": an array field gives one entry per element; no entry is stored
    if all terms are null."""
    client.query(q.create_collection({"name": "posts"}))
    client.query(
        q.create_index(
            {
                "name": "by_tag",
                "source": q.collection("posts"),
                "terms": [{"field": ["data", "tags"]}],
            }
        )
    )
    post = client.query(q.create(q.collection("posts"), {"data": {"tags": ["a", "b"]}}))
    client.query(q.create(q.collection("posts"), {"data": {"title": "untagged"}}))
    for tag in ("a", "b"):
        assert client.query(q.paginate(q.match(q.index("by_tag"), tag)))["data"] == [post["ref"]]
    assert client.query(q.paginate(q.match(q.index("by_tag"), None)))["data"] == []


def test_paginate_after_walks_every_element_once(client: FaunaClient) -> None:
    """§3 "Pagination": size 2 over 5 docs via `after`; `after` is the cursor (values ++ [ref])
    of the first element of the next page, and a later page echoes it as `before`."""
    titles_schema(client, ["e", "d", "c", "b", "a"])
    seen, cursor, pages = [], None, 0
    while True:
        page = client.query(q.paginate(q.match(q.index("by_title")), size=2, after=cursor))
        if cursor is not None:
            assert page["before"] == cursor
            assert page["data"][0] + [page["data"][0][1]] == cursor
        seen += page["data"]
        pages += 1
        cursor = page.get("after")
        if cursor is None:
            break
    assert [title for title, _ in seen] == ["a", "b", "c", "d", "e"]
    assert pages == 3


def test_paginate_before_walks_backward(client: FaunaClient) -> None:
    """§3 "Pagination": backward pages hold the items just below `before` (exclusive), in
    ascending order; `before` is the smallest one's cursor while more lie below."""
    titles_schema(client, ["a", "b", "c", "d", "e"])
    last = client.query(q.paginate(q.match(q.index("by_title")), size=2, after=["d"]))
    assert [t for t, _ in last["data"]] == ["d", "e"]
    page = client.query(q.paginate(q.match(q.index("by_title")), size=2, before=last["before"]))
    assert [t for t, _ in page["data"]] == ["b", "c"]
    assert page["after"] == last["before"]
    first = client.query(q.paginate(q.match(q.index("by_title")), size=2, before=page["before"]))
    assert [t for t, _ in first["data"]] == ["a"]
    assert "before" not in first
    assert first["after"] == page["before"]


def test_after_inclusive_before_exclusive(client: FaunaClient) -> None:
    """§3 "Pagination": `after` is inclusive, `before` is exclusive."""
    titles_schema(client, ["a", "b", "c", "d"])
    cursor = ["c", todo(3), todo(3)]
    after = client.query(q.paginate(q.match(q.index("by_title")), after=cursor))
    before = client.query(q.paginate(q.match(q.index("by_title")), before=cursor))
    assert [t for t, _ in after["data"]] == ["c", "d"]
    assert [t for t, _ in before["data"]] == ["a", "b"]


def test_size_plus_one_read(client: FaunaClient) -> None:
    """§3 "Pagination": forward reads size+1; `after` appears only if the extra item exists;
    a one-page result is just {"data": [...]}; size=0 gives empty data."""
    titles_schema(client, ["a", "b", "c", "d"])
    s = q.match(q.index("by_title"))
    assert set(client.query(q.paginate(s, size=4))) == {"data"}
    three = client.query(q.paginate(s, size=3))
    assert three["after"] == ["d", todo(4), todo(4)]
    assert client.query(q.paginate(s, size=2, after=["c"])) == {
        "before": ["c"],
        "data": [["c", todo(3)], ["d", todo(4)]],
    }
    assert client.query(q.paginate(s, size=0))["data"] == []


def test_after_and_before_together_is_invalid_expression(emu: FaunaEmulator) -> None:
    """§3: "Sending both `after` and `before` matches no form, giving 400 invalid expression"."""
    status, _, body = raw(
        emu, {"paginate": {"documents": {"collection": "x"}}, "after": [], "before": []}
    )
    assert status == 400
    assert body["errors"][0]["code"] == "invalid expression"


def test_default_and_maximum_page_size(client: FaunaClient) -> None:
    """§3 "Pagination": default size 64, maximum 100,000 (larger sizes are clamped)."""
    client.query(q.create_collection({"name": "todos"}))
    client.query(
        q.map_(lambda i: q.create(q.collection("todos"), {"data": {"i": i}}), list(range(70)))
    )
    docs = q.documents(q.collection("todos"))
    assert len(client.query(q.paginate(docs))["data"]) == 64
    assert len(client.query(q.paginate(docs, size=10**9))["data"]) == 70


def test_paginate_of_an_array_is_an_error(client: FaunaClient) -> None:
    """§3/§2: paginate takes a set; an array is the wrong type (400 invalid argument)."""
    with pytest.raises(BadRequest) as exc:
        client.query(q.paginate([1, 2]))
    assert error_of(exc)[0] == "invalid argument"


def test_get_of_match_and_empty_set(client: FaunaClient) -> None:
    """§2 "get(match(index, term))": the first document in index order; an empty set is
    404 "Set not found."; exists gives false instead."""
    users_schema(client)
    created = client.query(user("a@x.io"))
    assert client.query(q.get(q.match(q.index("users_by_email"), "a@x.io"))) == created
    with pytest.raises(NotFound) as exc:
        client.query(q.get(q.match(q.index("users_by_email"), "b@x.io")))
    assert error_of(exc) == ("instance not found", "Set not found.", [])
    assert client.query(q.exists(q.match(q.index("users_by_email"), "b@x.io"))) is False


def test_set_functions_over_pages_arrays_and_sets(client: FaunaClient) -> None:
    """§2 Page result: map/filter/count over a page keep the cursors; count(set) is an int;
    set algebra over match sets."""
    titles_schema(client, ["a", "b", "c"])
    client.query(q.create_index({"name": "all_todos", "source": q.collection("todos")}))
    s = q.match(q.index("by_title"))
    mapped = client.query(q.map_(lambda t, r: t, q.paginate(s, size=2)))
    assert mapped == {"after": ["c", todo(3), todo(3)], "data": ["a", "b"]}
    assert client.query(q.count(q.paginate(s, size=2)))["data"] == [2]
    assert client.query(q.count(s)) == 3
    kept = client.query(q.filter_(lambda t, r: q.not_(q.equals(t, "b")), q.paginate(s)))
    assert kept["data"] == [["a", todo(1)], ["c", todo(3)]]
    all_todos = q.match(q.index("all_todos"))
    one = q.match(q.index("all_todos"))  # the same set, to exercise intersection
    assert client.query(q.count(q.union(all_todos, one))) == 3
    assert client.query(q.count(q.intersection(all_todos, one))) == 3
    assert client.query(q.count(q.difference(all_todos, one))) == 0
    assert client.query(q.paginate(q.range(s, "b", "b")))["data"] == [["b", todo(2)]]
    assert client.query(q.is_nonempty(s)) is True
    assert client.query(q.is_empty([])) is True
    assert client.query(q.reverse([1, 2, 3])) == [3, 2, 1]
    assert client.query(q.take(2, [1, 2, 3])) == [1, 2]
    assert client.query(q.drop(2, [1, 2, 3])) == [3]
    assert client.query(q.append([4], [1])) == [1, 4]
    assert client.query(q.prepend([0], [1])) == [0, 1]
    assert isinstance(client.query(s), SetRef)


# ---- error bodies and statuses (§2 "Error bodies") ----


def test_unknown_form_is_invalid_expression(emu: FaunaEmulator) -> None:
    """§2: "Unknown function or keys: 400 invalid expression, No form/function found, or
    invalid argument keys: { … }"; dispatch is by the exact key set (§6.4)."""
    status, _, body = raw(emu, {"frobnicate": 1})
    assert status == 400
    assert body["errors"] == [
        {
            "position": [],
            "code": "invalid expression",
            "description": "No form/function found, or invalid argument keys: { frobnicate }.",
        }
    ]
    status, _, body = raw(emu, {"add": [1, 2], "bogus": 3})
    assert (status, body["errors"][0]["code"]) == (400, "invalid expression")


def test_unbound_variable(client: FaunaClient) -> None:
    """§2: unbound var → 400 invalid expression "Variable 'x' is not defined."."""
    with pytest.raises(BadRequest) as exc:
        client.query(q.var("x"))
    assert error_of(exc)[:2] == ("invalid expression", "Variable 'x' is not defined.")


def test_get_of_missing_document_is_404(client: FaunaClient) -> None:
    """§2: get of a missing ref → 404 {"position":[],"code":"instance not found",
    "description":"Document not found."}; update gives position ["update"]."""
    client.query(q.create_collection({"name": "todos"}))
    with pytest.raises(NotFound) as exc:
        client.query(q.get(q.ref(q.collection("todos"), "123")))
    assert error_of(exc) == ("instance not found", "Document not found.", [])
    with pytest.raises(NotFound) as exc:
        client.query(q.update(q.ref(q.collection("todos"), "123"), {"data": {}}))
    assert error_of(exc)[2] == ["update"]
    assert client.query(q.exists(q.ref(q.collection("todos"), "123"))) is False


def test_select_missing_path_is_value_not_found(client: FaunaClient) -> None:
    """§2: select on a missing path with no default → 404 "value not found",
    "Value not found at path [a,b]." at ["from"]; a default is returned instead."""
    with pytest.raises(NotFound) as exc:
        client.query(q.select(["a", "b"], {"a": {"c": 1}}))
    assert error_of(exc) == ("value not found", "Value not found at path [a,b].", ["from"])
    assert client.query(q.select(["a", "b"], {"a": {}}, "dflt")) == "dflt"
    assert client.query(q.select(["a", 1], {"a": [5, 6]})) == 6
    assert client.query(q.select(["a", "c"], {"a": {"c": 1}}, None)) == 1


def test_duplicate_schema_names_already_exist(client: FaunaClient) -> None:
    """§2: duplicate collection or index name → 400 "instance already exists" at
    ["create_collection"] / ["create_index"]."""
    users_schema(client)
    with pytest.raises(BadRequest) as exc:
        client.query(q.create_collection({"name": "users"}))
    assert error_of(exc)[0::2] == ("instance already exists", ["create_collection"])
    with pytest.raises(BadRequest) as exc:
        client.query(q.create_index({"name": "users_by_email", "source": q.collection("users")}))
    assert error_of(exc)[0::2] == ("instance already exists", ["create_index"])


def test_create_with_existing_id_already_exists(client: FaunaClient) -> None:
    """§2: "create with an existing id: 400 instance already exists, Document already exists.";
    a non-numeric id is "invalid argument"."""
    client.query(q.create_collection({"name": "todos"}))
    client.query(q.create(q.ref(q.collection("todos"), "5"), {}))
    with pytest.raises(BadRequest) as exc:
        client.query(q.create(q.ref(q.collection("todos"), "5"), {}))
    assert error_of(exc) == ("instance already exists", "Document already exists.", ["create"])
    with pytest.raises(BadRequest) as exc:
        client.query(q.ref(q.collection("todos"), "x"))
    assert error_of(exc)[:2] == (
        "invalid argument",
        "Number or numeric String expected, non-numeric 'x' provided.",
    )


def test_undefined_collection_is_invalid_ref(client: FaunaClient) -> None:
    """§2: collection("nope") used → 400 "invalid ref" (not 404); exists() is false."""
    with pytest.raises(BadRequest) as exc:
        client.query(q.create(q.collection("nope"), {}))
    assert error_of(exc)[:2] == ("invalid ref", "Ref refers to undefined collection 'nope'")
    assert client.query(q.exists(q.collection("nope"))) is False
    assert client.query(q.exists(q.index("nope"))) is False


def test_collection_and_document_in_one_transaction_fail(client: FaunaClient) -> None:
    """§3 "Also used by schema bootstrap": a collection cannot be created and have documents
    written in the same transaction; the whole query rolls back."""
    with pytest.raises(BadRequest) as exc:
        client.query(
            q.do(q.create_collection({"name": "todos"}), q.create(q.collection("todos"), {}))
        )
    assert error_of(exc)[0] == "invalid argument"
    assert client.query(q.exists(q.collection("todos"))) is False


def test_index_cannot_be_used_in_its_creating_transaction(client: FaunaClient) -> None:
    """§3 "Also used by schema bootstrap": an index cannot be used in the transaction that
    creates it; in the next query it is active and already covers existing documents."""
    users_schema(client, unique=False)
    client.query(user("a@x.io"))
    with pytest.raises(BadRequest) as exc:
        client.query(
            q.do(
                q.create_index({"name": "u2", "source": q.collection("users")}),
                q.paginate(q.match(q.index("u2"))),
            )
        )
    assert error_of(exc)[:2] == ("instance not found", "Index 'u2' is not active.")
    assert client.query(q.exists(q.index("u2"))) is False
    index = client.query(q.create_index({"name": "u2", "source": q.collection("users")}))
    assert (index["active"], index["partitions"]) == (True, 8)
    assert len(client.query(q.paginate(q.match(q.index("u2"))))["data"]) == 1


# ---- documents (§3 "Documents") ----


def test_null_fields_dropped_update_merges_replace_replaces(client: FaunaClient) -> None:
    """§3 "Documents": null fields are never stored; update deep-merges and a null removes;
    replace replaces data entirely."""
    client.query(q.create_collection({"name": "todos"}))
    doc = client.query(
        q.create(q.collection("todos"), {"data": {"a": 1, "b": None, "n": {"x": 1, "y": None}}})
    )
    assert doc["data"] == {"a": 1, "n": {"x": 1}}
    updated = client.query(q.update(doc["ref"], {"data": {"a": None, "n": {"z": 2}, "l": [1]}}))
    assert updated["data"] == {"n": {"x": 1, "z": 2}, "l": [1]}
    replaced = client.query(q.replace(doc["ref"], {"data": {"only": True}}))
    assert replaced["data"] == {"only": True}
    deleted = client.query(q.delete(doc["ref"]))
    assert deleted == replaced
    assert client.query(q.exists(doc["ref"])) is False


def test_get_and_exists_at_a_past_ts(client: FaunaClient) -> None:
    """§2 "get(r, ts=5)" / "exists(r[,ts])": reads see the version as of that timestamp."""
    client.query(q.create_collection({"name": "todos"}))
    first = client.query(q.create(q.collection("todos"), {"data": {"v": 1}}))
    client.query(q.update(first["ref"], {"data": {"v": 2}}))
    client.query(q.delete(first["ref"]))
    assert client.query(q.get(first["ref"], first["ts"]))["data"] == {"v": 1}
    assert client.query(q.exists(first["ref"], first["ts"] - 1)) is False
    assert client.query(q.exists(first["ref"])) is False


def test_ts_is_integer_microseconds_of_the_transaction(emu: FaunaEmulator) -> None:
    """§3 "Every query is one transaction": documents render `ts` as an int in µs, equal to
    the transaction time sent in X-Txn-Time."""
    raw(emu, {"create_collection": {"object": {"name": "todos"}}})
    _, headers, body = raw(emu, {"create": {"collection": "todos"}})
    ts = body["resource"]["ts"]
    assert isinstance(ts, int)
    assert ts == int(headers["x-txn-time"])
    assert abs(ts - time.time() * 1_000_000) < 60_000_000


def test_wire_encoding_of_refs_times_and_obj(emu: FaunaEmulator) -> None:
    """§1 "Document ref on the wire", index refs, @ts, and @obj only for keys starting with @."""
    raw(emu, {"create_collection": {"object": {"name": "todos"}}})
    _, _, body = raw(emu, {"create": {"ref": {"collection": "todos"}, "id": "101"}})
    assert body["resource"]["ref"] == {
        "@ref": {
            "id": "101",
            "collection": {"@ref": {"id": "todos", "collection": {"@ref": {"id": "collections"}}}},
        }
    }
    _, _, body = raw(emu, {"index": "x"})
    assert body["resource"] == {"@ref": {"id": "x", "collection": {"@ref": {"id": "indexes"}}}}
    _, _, body = raw(emu, {"object": {"@k": 1, "t": {"@ts": "2020-01-02T03:04:05Z"}}})
    assert body["resource"] == {"@obj": {"@k": 1, "t": {"@ts": "2020-01-02T03:04:05Z"}}}
    _, _, body = raw(emu, {"@ref": "collections/todos/101"})
    assert body["resource"]["@ref"]["id"] == "101"


def test_schema_documents(client: FaunaClient) -> None:
    """§3 "Ref ids" and "Index definition": create_collection returns {ref, ts, history_days,
    name}; create_index returns the index document with partitions 1 with terms."""
    coll = client.query(q.create_collection({"name": "todos"}))
    assert set(coll) == {"ref", "ts", "history_days", "name"}
    assert coll["ref"] == Ref("todos", Ref("collections"))
    index = client.query(
        q.create_index(
            {"name": "t", "source": q.collection("todos"), "terms": [{"field": ["data", "o"]}]}
        )
    )
    assert index["ref"] == Ref("t", Ref("indexes"))
    assert (index["active"], index["partitions"], index["serialized"]) == (True, 1, True)
    assert client.query(q.get(q.index("t"))) == index
    assert client.query(q.exists(q.collection("todos"))) is True
    names = client.query(q.paginate(q.collections()))["data"]
    assert names == [Ref("todos", Ref("collections"))]


def test_new_ids_are_large_increasing_numeric_strings(client: FaunaClient) -> None:
    """§3 "Ref ids": new ids are snowflake-like decimal strings, usually 18 digits."""
    ids = [client.query(q.new_id()) for _ in range(5)]
    assert all(i.isdigit() and len(i) >= 18 for i in ids)
    assert [int(i) for i in ids] == sorted({int(i) for i in ids})


# ---- values and control (§2) ----


def test_let_lambda_and_control_forms(client: FaunaClient, emu: FaunaEmulator) -> None:
    """§2 JSON table: let (list form, and the older object form), lambda with destructuring,
    if/do, and/or/not, comparisons, strings and arithmetic."""
    assert client.query(q.let({"x": 1, "y": q.add(q.var("x"), 2)}, q.var("y"))) == 3
    assert raw(emu, {"let": {"x": 2}, "in": {"var": "x"}})[2] == {"resource": 2}
    assert client.query(
        q.map_(q.lambda_(["a", "b"], q.multiply(q.var("a"), q.var("b"))), [[2, 3], [4, 5]])
    ) == [6, 20]
    assert client.query(q.if_(q.lt(1, 2, 3), "yes", q.abort("never"))) == "yes"
    assert client.query(q.and_(True, q.or_(False, True), q.not_(False))) is True
    assert client.query(q.do(1, 2)) == 2
    assert client.query(q.equals(1, 1.0)) is False
    assert client.query(q.concat(["a", "b"], "-")) == "a-b"
    assert client.query(q.lowercase(q.trim("  AB "))) == "ab"
    assert client.query(q.length("abc")) == 3
    assert client.query(q.to_string(5)) == "5"
    assert client.query(q.to_integer("42")) == 42
    assert client.query(q.subtract(10, 2, 3)) == 5
    assert client.query(q.merge({"a": 1, "b": 2}, {"b": None, "c": 3})) == {"a": 1, "c": 3}
    assert client.query(q.contains_path(["a", "b"], {"a": {"b": 1}})) is True
    assert client.query(q.is_null(None)) is True
    assert client.query(q.select_all(["a", "b"], [{"a": {"b": 1}}, {"a": {"b": 2}}])) == [1, 2]


def test_time_functions(client: FaunaClient, emu: FaunaEmulator) -> None:
    """§2 "timestamps": now() is a @ts at the transaction time; epoch/time_add/to_micros."""
    _, headers, body = raw(emu, {"to_micros": {"now": None}})
    assert body["resource"] == int(headers["x-txn-time"])
    assert isinstance(client.query(q.time("now")), FaunaTime)
    assert client.query(q.epoch(1_500_000, "microseconds")) == FaunaTime("1970-01-01T00:00:01.500Z")
    assert (
        client.query(q.to_micros(q.time_add(q.to_time("2020-01-01T00:00:00Z"), 1, "day")))
        == 1_577_923_200_000_000
    )


def test_user_defined_function(client: FaunaClient) -> None:
    """call/function: a UDF's body is a stored query; errors inside surface as "call error"."""
    fn = client.query(q.create_function({"name": "double", "body": q.query(lambda x: q.add(x, x))}))
    assert isinstance(fn["body"], Query)
    assert client.query(q.call(q.function("double"), 21)) == 42
    client.query(q.create_function({"name": "boom", "body": q.query(lambda x: q.abort("no"))}))
    with pytest.raises(BadRequest) as exc:
        client.query(q.call(q.function("boom"), 1))
    assert error_of(exc)[0] == "call error"
    assert exc.value.errors[0].cause[0].code == "transaction aborted"


# ---- test controls ----


def test_delay_does_not_block_a_concurrent_request(emu: FaunaEmulator) -> None:
    """`delay` slows each request without holding the state lock (ThreadingHTTPServer).

    While the first query sleeps in the emulator, a second one still arrives
    and is served: proven by the request counter, not by a stopwatch.
    """
    emu.delay = 2.0
    results: list[Any] = []

    def run(i: int) -> None:
        results.append(make_client(emu).query(q.add(i, 1)))

    first = threading.Thread(target=run, args=(0,))
    first.start()
    wait_until(lambda: emu.requests == 1)
    second = threading.Thread(target=run, args=(1,))
    second.start()
    wait_until(lambda: emu.requests == 2)
    assert first.is_alive()  # the second request arrived while the first still slept
    first.join(10)
    second.join(10)
    assert sorted(results) == [1, 2]


def wait_until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    """Poll `condition` (a bounded wait, so a broken emulator fails instead of hanging)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def test_fail_with_status_simulates_an_outage(emu: FaunaEmulator, client: FaunaClient) -> None:
    """§1 status table: 503 → UnavailableError (with a JSON body, §0.5)."""
    emu.fail_with_status = 503
    with pytest.raises(UnavailableError):
        client.query(1)
    emu.fail_with_status = None
    assert client.query(1) == 1


def test_request_counter_and_reset(emu: FaunaEmulator, client: FaunaClient) -> None:
    """`requests` counts POST / round trips; `reset()` drops all data."""
    client.query(q.create_collection({"name": "todos"}))
    client.ping()
    assert emu.requests == 1
    emu.reset_requests()
    client.query(q.do(1, 2, 3))
    assert emu.requests == 1
    emu.delay = 60.0  # the injected delay applies to queries (POST /) only
    pinged = threading.Thread(target=client.ping)
    pinged.start()
    pinged.join(10)
    assert not pinged.is_alive()
    emu.delay = 0
    emu.reset()
    assert client.query(q.exists(q.collection("todos"))) is False


def test_stop_makes_the_port_unreachable(emu: FaunaEmulator, client: FaunaClient) -> None:
    """stop() also closes kept-alive connections, so a pooled driver connection fails."""
    assert client.query(1) == 1
    emu.stop()
    with pytest.raises(Exception, match=r"(?i)connect|refused|reset|aborted"):
        client.query(1)
    emu.start()  # restarts on the same port
    assert make_client(emu).query(2) == 2


def test_main_serves_in_the_foreground() -> None:
    """`python -m tests.fauna_emulator --port N --secret S` for end-to-end tests."""
    with subprocess.Popen(
        [sys.executable, "-m", "tests.fauna_emulator", "--port", "0", "--secret", "s3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            port = int(line.rsplit(":", 1)[1])
            c = FaunaClient(secret="s3", domain="127.0.0.1", scheme="http", port=port)
            assert c.query(q.add(1, 1)) == 2
        finally:
            proc.terminate()
        assert proc.wait(timeout=10) == 0


# ---- the core's operational behaviour (issue 12; each cites the core source it follows) ----


def _fill(client: FaunaClient, count: int) -> None:
    client.query(q.create_collection({"name": "things"}))
    client.query(
        q.foreach(
            q.lambda_("i", q.create(q.collection("things"), {"data": {"n": q.var("i")}})),
            list(range(count)),
        )
    )


@pytest.mark.parametrize(("count", "active"), [(128, True), (129, False)])
def test_index_builds_in_the_background_above_128_documents(
    emu: FaunaEmulator, client: FaunaClient, count: int, active: bool
) -> None:
    """doc/Index.scala BuildSyncSize = 128: a larger source builds in the background, and
    SetFunctions.scala answers Match on it with IndexInactive (400 "instance not found")."""
    _fill(client, count)
    created = client.query(
        q.create_index(
            {"name": "by_n", "source": q.collection("things"), "terms": [{"field": ["data", "n"]}]}
        )
    )
    assert created["active"] is active
    assert client.query(q.select("active", q.get(q.index("by_n")))) is active
    if active:
        assert emu.building_indexes() == []
        return
    assert emu.building_indexes() == ["by_n"]
    with pytest.raises(BadRequest) as inactive:
        client.query(q.paginate(q.match(q.index("by_n"), 3)))
    error = inactive.value.errors[0]
    assert (error.code, error.description) == ("instance not found", "Index 'by_n' is not active.")
    assert error.position == ["paginate", "index"]
    assert emu.finish_index_builds() == ["by_n"]
    assert len(client.query(q.paginate(q.match(q.index("by_n"), 3)))["data"]) == 1
    assert client.query(q.select("active", q.get(q.index("by_n")))) is True


def test_versions_count_towards_the_synchronous_build_limit(client: FaunaClient) -> None:
    """WriteAdaptor.scala fetchForSyncIdxBuild: over 128 versions also build in the background."""
    _fill(client, 100)
    client.query(
        q.map_(
            q.lambda_("r", q.update(q.var("r"), {"data": {"m": 1}})),
            q.paginate(q.documents(q.collection("things")), size=40),
        )
    )
    created = client.query(q.create_index({"name": "all_things", "source": q.collection("things")}))
    assert created["active"] is False


def test_contend_next_answers_the_cores_409_and_applies_nothing(
    emu: FaunaEmulator, client: FaunaClient
) -> None:
    """APIResponse.scala TransactionContentionNoInfo: 409 "contended transaction"."""
    client.query(q.create_collection({"name": "things"}))
    emu.contend_next(2)
    for _ in range(2):
        with pytest.raises(ContendedTransaction) as contended:
            client.query(q.create(q.collection("things"), {"data": {"n": 1}}))
        error = contended.value.errors[0]
        assert error.code == "contended transaction"
        assert error.description == (
            "Transaction was aborted due to detection of concurrent modification."
        )
    assert client.query(q.count(q.documents(q.collection("things")))) == 0
    client.query(q.create(q.collection("things"), {"data": {"n": 1}}))
    assert client.query(q.count(q.documents(q.collection("things")))) == 1


def test_serialized_is_kept_and_defaults_to_true(client: FaunaClient) -> None:
    """doc/Index.scala DefaultData: SerialField -> Some(true)."""
    client.query(q.create_collection({"name": "things"}))
    client.query(q.create_index({"name": "a", "source": q.collection("things")}))
    client.query(
        q.create_index({"name": "b", "source": q.collection("things"), "serialized": False})
    )
    assert client.query([q.select("serialized", q.get(q.index(n))) for n in "ab"]) == [True, False]


def test_a_transaction_over_16_mib_is_refused(client: FaunaClient) -> None:
    """CoreConfig.scala transaction_max_size_bytes = 16 MiB; State.scala TxnTooLargeException,
    answered 400 "bad request" by ExceptionResponseHelpers.scala; nothing is written."""
    client.query(q.create_collection({"name": "things"}))
    big = "x" * (4 * 1024 * 1024)
    client.query(
        q.do(*(q.create(q.collection("things"), {"data": {"s": big}}) for _ in range(3)), None)
    )
    with pytest.raises(BadRequest) as refused:
        client.query(
            q.do(*(q.create(q.collection("things"), {"data": {"s": big}}) for _ in range(5)), None)
        )
    error = refused.value.errors[0]
    assert error.code == "bad request"
    assert error.description.startswith("Transaction exceeded limit: got ")
    assert error.description.endswith("bytes, limit 16777216 bytes")
    assert client.query(q.count(q.documents(q.collection("things")))) == 3


def test_a_query_wider_than_100000_is_refused(client: FaunaClient) -> None:
    """CoreConfig.scala query_max_query_width = 100_000; QueryEvalContext.scala refuses wider."""
    assert len(client.query(q.map_(q.lambda_("x", q.var("x")), list(range(100_000))))) == 100_000
    with pytest.raises(BadRequest) as refused:
        client.query(q.map_(q.lambda_("x", q.var("x")), list(range(100_001))))
    assert refused.value.errors[0].code == "bad request"
    assert refused.value.errors[0].description == (
        "Query exceeds max width. Max: 100000, current: 100001."
    )


def test_scoped_secrets_and_keys_open_child_databases(
    emu: FaunaEmulator, client: FaunaClient
) -> None:
    """auth/AuthScope.scala: `secret:db:role`; a key's role per auth/Permissions.scala."""
    client.query(q.create_database({"name": "appdb"}))
    server = make_client(emu, f"{SECRET}:appdb:server")
    server.query(q.create_collection({"name": "things"}))
    server.query(q.create(q.collection("things"), {"data": {"n": 1}}))
    assert client.query(q.exists(q.collection("things"))) is False  # not in the root database
    key = client.query(q.create_key({"database": q.database("appdb"), "role": "server"}))
    assert make_client(emu, key["secret"]).query(q.count(q.documents(q.collection("things")))) == 1
    for secret in (f"{SECRET}:nodb:server", "not-a-key", f"{key['secret']}:appdb:admin"):
        with pytest.raises(Unauthorized):
            make_client(emu, secret).query(1)
    with pytest.raises(PermissionDenied):
        make_client(emu, key["secret"]).query(q.create_key({"role": "admin"}))


def test_a_client_key_is_denied_with_403(emu: FaunaEmulator, client: FaunaClient) -> None:
    """auth/Permissions.scala NullPermissions; 403 by ast/Error.scala statusCode; Exists
    answers canRead && exists (ReadAdaptor.scala), false rather than an error."""
    client.query(q.create_collection({"name": "things"}))
    denied = make_client(emu, f"{SECRET}:client")
    assert denied.query(q.exists(q.collection("things"))) is False
    for expr in (
        q.get(q.collection("things")),
        q.create(q.collection("things"), {"data": {}}),
        q.paginate(q.indexes()),
        q.create_collection({"name": "more"}),
    ):
        with pytest.raises(PermissionDenied) as refused:
            denied.query(expr)
        error = refused.value.errors[0]
        assert (error.code, error.description) == (
            "permission denied",
            "Insufficient privileges to perform the action.",
        )
