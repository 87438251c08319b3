"""Fauna (FQL v4) through the `faunadb` driver: the seed's database.

Every store operation is ONE FQL query, so one round trip and one
transaction: ownership is checked inside the query (Let/If/Abort), uniqueness
comes from unique indexes ("instance not unique"), and cascades run as
Foreach inside the same query. Documents keep their own `id` (a uuid, as the
seed did), looked up through the seed's indexes `user_by_id` and
`todo_by_id`, so ids behave exactly as on the SQL backends.

The driver is synchronous (requests): calls run in a bounded thread pool,
never on the event loop. Its client constructor asks the package index for a
newer version, which fails offline; our client subclass never does.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from graphql_app.cursors import from_micros, to_micros
from graphql_app.errors import EmailTaken, ServiceUnavailable, StorageRefused, UserGone
from graphql_app.models import (
    NewSession,
    Page,
    Position,
    RotateOutcome,
    RotateResult,
    Todo,
    TodoCounts,
    User,
)

with warnings.catch_warnings():
    # faunadb 4.5.2 warns on import that the driver is deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    from faunadb import query as q
    from faunadb.client import FaunaClient
    from faunadb.errors import BadRequest, FaunaError, NotFound, Unauthorized

ALL = 100_000  # Fauna's maximum page size: "every row" for per-user sets
USER_GONE = "user gone"

COLLECTIONS = ("users", "todos", "sessions", "token_revocations")
# name -> (source collection, terms, values, unique). The first four are the seed's.
NEWEST_FIRST: list[dict[str, Any]] = [
    {"field": ["data", "created_at"], "reverse": True},
    {"field": ["data", "id"], "reverse": True},
    {"field": ["ref"]},
]
INDEXES: dict[str, tuple[str, list[str], list[dict[str, Any]] | None, bool]] = {
    "user_by_id": ("users", ["id"], None, True),
    "user_by_email": ("users", ["email"], None, True),
    "todo_by_id": ("todos", ["id"], None, True),
    "todo_by_user_id": ("todos", ["user_id"], None, False),
    "todos_by_user_newest": ("todos", ["user_id"], NEWEST_FIRST, False),
    "todos_by_user_completed_newest": ("todos", ["user_id", "is_completed"], NEWEST_FIRST, False),
    "session_by_token_hash": ("sessions", ["token_hash"], None, True),
    "sessions_by_user": ("sessions", ["user_id"], None, False),
    "sessions_by_family": ("sessions", ["family_id"], None, False),
    # Access-token revocations, oldest first: ranges by time (security/revocations.py).
    "token_revocations_by_time": (
        "token_revocations",
        [],
        [{"field": ["data", "revoked_at"]}, {"field": ["data", "user_id"]}, {"field": ["ref"]}],
        False,
    ),
}


class _OfflineFaunaClient(FaunaClient):  # type: ignore[misc]
    def check_new_version(self) -> None:
        """The stock client phones the package index here; a server must not."""


class _TimeoutAdapter(HTTPAdapter):
    """requests ignores `session.timeout`; this adapter applies one to every call."""

    def __init__(self, timeout: float, pool_maxsize: int) -> None:
        super().__init__(pool_connections=1, pool_maxsize=pool_maxsize)
        self._timeout = timeout

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


def _new_id() -> str:
    return uuid.uuid4().hex


def _user(doc: dict[str, Any]) -> User:
    d = doc["data"]
    return User(
        d["id"], d["email"], d["fullname"], d["password_hash"], from_micros(d["created_at"])
    )


def _todo(doc: dict[str, Any]) -> Todo:
    d = doc["data"]
    return Todo(
        d["id"],
        d["user_id"],
        d["name"],
        d["is_completed"],
        from_micros(d["created_at"]),
        from_micros(d["updated_at"]),
    )


def _one(index: str, *terms: Any) -> Any:
    """The first document of a unique index match, or null."""
    return q.let(
        {"m": q.match(q.index(index), *terms)},
        q.if_(q.is_nonempty(q.var("m")), q.get(q.var("m")), None),
    )


def _owned_todo(user_id: str, todo_id: str) -> Any:
    """The todo document when it exists and belongs to `user_id`; null otherwise."""
    return q.let(
        {"doc": _one("todo_by_id", todo_id)},
        q.if_(
            q.and_(
                q.not_(q.is_null(q.var("doc"))),
                q.equals(q.select(["data", "user_id"], q.var("doc"), None), user_id),
            ),
            q.var("doc"),
            None,
        ),
    )


def _when_found(document: Any, *then: Any) -> Any:
    """Bind `document` (a doc or null) as var "doc"; run `then` and answer true when it
    is a document, answer false otherwise."""
    return q.let({"doc": document}, q.if_(q.is_null(q.var("doc")), False, q.do(*then, True)))


def _refs(index: str, *terms: Any) -> Any:
    return q.paginate(q.match(q.index(index), *terms), size=ALL)


def _require_user(user_id: str, then: Any) -> Any:
    return q.if_(q.is_nonempty(q.match(q.index("user_by_id"), user_id)), then, q.abort(USER_GONE))


# The user document carries its todo counters; `migrate` fills them for users
# stored before they existed. Until then a user has none, and its counts come
# from the indexes (as before): never a wrong count, only a slower one.
_TOTAL, _COMPLETED = ["data", "todo_count"], ["data", "completed_count"]


def _counts(user: Any, user_id: Any) -> Any:
    """[all, completed] of the user document `user` (an expression)."""
    return q.if_(
        q.contains_path(_TOTAL, user),
        [q.select(_TOTAL, user), q.select(_COMPLETED, user)],
        [
            q.count(q.match(q.index("todo_by_user_id"), user_id)),
            q.count(q.match(q.index("todos_by_user_completed_newest"), user_id, True)),
        ],
    )


def _user_counts(user_id: Any) -> Any:
    """[all, completed] of the user with this id; [0, 0] when there is none."""
    return q.let(
        {"counts_of": _one("user_by_id", user_id)},
        q.if_(q.is_null(q.var("counts_of")), [0, 0], _counts(q.var("counts_of"), user_id)),
    )


def _count_of(counts: Any, is_completed: bool | None) -> Any:
    """The count of a filter from [all, completed]: all, completed or active."""
    if is_completed is None:
        return q.select(0, counts)
    if is_completed:
        return q.select(1, counts)
    both = q.var("both")
    return q.let({"both": counts}, q.subtract(q.select(0, both), q.select(1, both)))


def _move_counters(user: Any, total: Any, completed: Any) -> Any:
    """Move the counters of the user document `user` by these amounts, in this query's
    transaction (a user without counters yet keeps none)."""
    counted = q.var("counted")
    return q.let(
        {"counted": user},
        q.if_(
            q.contains_path(_TOTAL, counted),
            q.update(
                q.select("ref", counted),
                {
                    "data": {
                        "todo_count": q.add(q.select(_TOTAL, counted), total),
                        "completed_count": q.add(q.select(_COMPLETED, counted), completed),
                    }
                },
            ),
            None,
        ),
    )


def _revoke_all(index: str, term: Any, micros: int) -> Any:
    """Set revoked_at on every not-yet-revoked session of the set."""
    return q.foreach(
        lambda ref: q.let(
            {"s": q.get(ref)},
            q.if_(
                q.is_null(q.select(["data", "revoked_at"], q.var("s"), None)),
                q.update(ref, {"data": {"revoked_at": micros}}),
                None,
            ),
        ),
        _refs(index, term),
    )


class FaunaStorage:
    """The Storage Protocol on Fauna (see storage/base.py)."""

    def __init__(
        self,
        secret: str,
        domain: str,
        port: int | None,
        scheme: str = "https",
        *,
        pool_size: int = 10,
        query_timeout: float = 10.0,
    ) -> None:
        self.round_trips = 0
        self._client = _OfflineFaunaClient(
            secret=secret,
            domain=domain,
            scheme=scheme,
            port=port,
            query_timeout_ms=int(query_timeout * 1000),
            pool_connections=1,
            pool_maxsize=pool_size,
        )
        adapter = _TimeoutAdapter(query_timeout, pool_size)
        self._client.session.mount("http://", adapter)
        self._client.session.mount("https://", adapter)
        self._pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="fauna")

    @classmethod
    def from_url(
        cls, url: str, *, pool_size: int = 10, query_timeout: float = 10.0
    ) -> FaunaStorage:
        """`fauna://SECRET@HOST:PORT?scheme=http` (scheme defaults to https)."""
        parts = urlsplit(url)
        secret = unquote(parts.username or "")
        if not secret or not parts.hostname:
            raise ValueError("a fauna URL looks like fauna://SECRET@HOST:PORT?scheme=http")
        scheme = parse_qs(parts.query).get("scheme", ["https"])[0]
        return cls(
            secret,
            parts.hostname,
            parts.port,
            scheme,
            pool_size=pool_size,
            query_timeout=query_timeout,
        )

    async def _query(self, expr: Any) -> Any:
        """Run one FQL query in the driver's thread pool; map transport failures."""
        self.round_trips += 1
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._client.query, expr)
        except Unauthorized as exc:
            raise StorageRefused("the Fauna server refused the secret (401 Unauthorized)") from exc
        except (BadRequest, NotFound):
            raise
        except (FaunaError, requests.RequestException, OSError) as exc:
            # Unreachable, timed out, 5xx or a garbled answer: storage is unavailable.
            raise ServiceUnavailable() from exc

    # -- lifecycle ------------------------------------------------------------

    async def migrate(self) -> None:
        """Create the collections, then the indexes, each if missing (DDL in separate queries)."""
        for name in COLLECTIONS:
            await self._query(
                q.if_(
                    q.exists(q.collection(name)),
                    None,
                    q.create_collection({"name": name}),
                )
            )
        for name, (source, terms, values, unique) in INDEXES.items():
            params: dict[str, Any] = {
                "name": name,
                "source": q.collection(source),
                "terms": [{"field": ["data", term]} for term in terms],
                "unique": unique,
                "serialized": True,
            }
            if values is not None:
                params["values"] = values
            await self._query(q.if_(q.exists(q.index(name)), None, q.create_index(params)))

        await self._fill_counters()

    async def _fill_counters(self) -> None:
        """Give every user without todo counters its counts, a page of users per query
        (each count and its store in one transaction)."""
        after: Any = None
        while True:
            page = await self._query(
                q.let(
                    {
                        "users": q.paginate(
                            q.documents(q.collection("users")), size=100, after=after
                        )
                    },
                    q.do(
                        q.foreach(
                            lambda ref: q.let(
                                {"u": q.get(ref)},
                                q.if_(
                                    q.contains_path(_TOTAL, q.var("u")),
                                    None,
                                    q.let(
                                        {
                                            "c": _counts(
                                                q.var("u"), q.select(["data", "id"], q.var("u"))
                                            )
                                        },
                                        q.update(
                                            ref,
                                            {
                                                "data": {
                                                    "todo_count": q.select(0, q.var("c")),
                                                    "completed_count": q.select(1, q.var("c")),
                                                }
                                            },
                                        ),
                                    ),
                                ),
                            ),
                            q.select("data", q.var("users")),
                        ),
                        q.select("after", q.var("users"), None),
                    ),
                )
            )
            if page is None:
                return
            after = page

    async def ping(self) -> None:
        """A real (tiny) query, not /ping: that one answers without checking the secret."""
        await self._query(q.exists(q.collection("users")))

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.session.close()

    # -- users and sessions ---------------------------------------------------

    def _session_data(self, user_id: str, session: NewSession, now: datetime) -> dict[str, Any]:
        return {
            "id": _new_id(),
            "user_id": user_id,
            "family_id": session.family_id,
            "token_hash": session.token_hash,
            "expires_at": to_micros(session.expires_at),
            "created_at": to_micros(now),
        }

    async def create_user(
        self, email: str, fullname: str, password_hash: str, session: NewSession, now: datetime
    ) -> User:
        user_id = _new_id()
        data = {
            "id": user_id,
            "email": email,
            "fullname": fullname,
            "password_hash": password_hash,
            "created_at": to_micros(now),
            "todo_count": 0,
            "completed_count": 0,
        }
        try:
            doc = await self._query(
                q.let(
                    {"user": q.create(q.collection("users"), {"data": data})},
                    q.do(
                        q.create(
                            q.collection("sessions"),
                            {"data": self._session_data(user_id, session, now)},
                        ),
                        q.var("user"),
                    ),
                )
            )
        except BadRequest as exc:
            if _code(exc) == "instance not unique":
                raise EmailTaken() from exc
            raise
        return _user(doc)

    async def get_users(self, ids: Sequence[str]) -> list[User | None]:
        docs = await self._query(q.map_(lambda i: _one("user_by_id", i), list(ids)))
        return [_user(d) if d else None for d in docs]

    async def get_user_by_email(self, email: str) -> User | None:
        doc = await self._query(_one("user_by_email", email))
        return _user(doc) if doc else None

    async def set_password(self, user_id: str, password_hash: str, now: datetime) -> bool:
        update = q.update(q.select("ref", q.var("doc")), {"data": {"password_hash": password_hash}})
        revoke = _revoke_all("sessions_by_user", user_id, to_micros(now))
        return bool(await self._query(_when_found(_one("user_by_id", user_id), update, revoke)))

    async def delete_user(self, user_id: str) -> bool:
        def delete_all(index: str) -> Any:
            return q.foreach(q.lambda_("r", q.delete(q.var("r"))), _refs(index, user_id))

        cascade = (
            delete_all("todo_by_user_id"),
            delete_all("sessions_by_user"),
            q.delete(q.select("ref", q.var("doc"))),
        )
        return bool(await self._query(_when_found(_one("user_by_id", user_id), *cascade)))

    async def revoke_tokens(self, user_id: str, now: datetime, keep_since: datetime) -> None:
        at = to_micros(now)
        by_time = q.match(q.index("token_revocations_by_time"))
        # Range bounds are inclusive: stop one microsecond before keep_since.
        old = q.paginate(q.range(by_time, [], [to_micros(keep_since) - 1]), size=ALL)
        await self._query(
            q.do(
                q.foreach(q.lambda_("row", q.delete(q.select(2, q.var("row")))), old),
                q.create(
                    q.collection("token_revocations"),
                    {"data": {"user_id": user_id, "revoked_at": at}},
                ),
                _revoke_all("sessions_by_user", user_id, at),
                None,
            )
        )

    async def recent_revocations(self, since: datetime) -> list[tuple[str, datetime]]:
        by_time = q.match(q.index("token_revocations_by_time"))
        page = await self._query(q.paginate(q.range(by_time, [to_micros(since)], []), size=ALL))
        return [(str(row[1]), from_micros(row[0])) for row in page["data"]]

    async def create_session(self, user_id: str, session: NewSession, now: datetime) -> None:
        create = q.create(
            q.collection("sessions"), {"data": self._session_data(user_id, session, now)}
        )
        await self._guarded(_require_user(user_id, q.do(create, None)))

    async def _guarded(self, expr: Any) -> Any:
        """Run a query whose Abort(USER_GONE) means the owner no longer exists."""
        try:
            return await self._query(expr)
        except BadRequest as exc:
            if _code(exc) == "transaction aborted" and USER_GONE in str(exc):
                raise UserGone() from exc
            raise

    async def rotate_session(
        self, token_hash: str, successor: NewSession, now: datetime
    ) -> RotateResult:
        micros = to_micros(now)
        s = q.var("s")

        def field(name: str) -> Any:
            return q.select(["data", name], s, None)

        answer = await self._query(
            q.let(
                {"s": _one("session_by_token_hash", token_hash)},
                q.if_(
                    q.or_(q.is_null(s), q.not_(q.is_null(field("revoked_at")))),
                    {"outcome": "invalid"},
                    q.if_(
                        q.not_(q.is_null(field("rotated_at"))),
                        q.do(
                            _revoke_all("sessions_by_family", field("family_id"), micros),
                            {"outcome": "reused", "user_id": field("user_id")},
                        ),
                        q.if_(
                            q.lte(field("expires_at"), micros),
                            {"outcome": "invalid"},
                            q.do(
                                q.update(q.select("ref", s), {"data": {"rotated_at": micros}}),
                                q.create(
                                    q.collection("sessions"),
                                    {
                                        "data": {
                                            "id": _new_id(),
                                            "user_id": field("user_id"),
                                            "family_id": field("family_id"),
                                            "token_hash": successor.token_hash,
                                            "expires_at": to_micros(successor.expires_at),
                                            "created_at": micros,
                                        }
                                    },
                                ),
                                {"outcome": "rotated", "user_id": field("user_id")},
                            ),
                        ),
                    ),
                ),
            )
        )
        return RotateResult(RotateOutcome(answer["outcome"]), answer.get("user_id"))

    async def revoke_session(self, token_hash: str, now: datetime) -> bool:
        micros = to_micros(now)
        s = q.var("s")
        return bool(
            await self._query(
                q.let(
                    {"s": _one("session_by_token_hash", token_hash)},
                    q.if_(
                        q.and_(
                            q.not_(q.is_null(s)),
                            q.is_null(q.select(["data", "revoked_at"], s, None)),
                            q.is_null(q.select(["data", "rotated_at"], s, None)),
                            q.gt(q.select(["data", "expires_at"], s, 0), micros),
                        ),
                        q.do(q.update(q.select("ref", s), {"data": {"revoked_at": micros}}), True),
                        False,
                    ),
                )
            )
        )

    # -- todos ----------------------------------------------------------------

    async def create_todo(self, user_id: str, name: str, is_completed: bool, now: datetime) -> Todo:
        micros = to_micros(now)
        data = {
            "id": _new_id(),
            "user_id": user_id,
            "name": name,
            "is_completed": is_completed,
            "created_at": micros,
            "updated_at": micros,
        }
        doc = await self._guarded(
            q.let(
                {"user": _one("user_by_id", user_id)},
                q.if_(
                    q.is_null(q.var("user")),
                    q.abort(USER_GONE),
                    q.let(
                        {"todo": q.create(q.collection("todos"), {"data": data})},
                        q.do(
                            _move_counters(q.var("user"), 1, 1 if is_completed else 0),
                            q.var("todo"),
                        ),
                    ),
                ),
            )
        )
        return _todo(doc)

    async def get_todos(self, user_id: str, ids: Sequence[str]) -> list[Todo | None]:
        docs = await self._query(q.map_(lambda i: _owned_todo(user_id, i), list(ids)))
        return [_todo(d) if d else None for d in docs]

    async def update_todo(
        self,
        user_id: str,
        todo_id: str,
        name: str | None,
        is_completed: bool | None,
        now: datetime,
    ) -> Todo | None:
        changes: dict[str, Any] = {"updated_at": to_micros(now)}
        if name is not None:
            changes["name"] = name
        if is_completed is not None:
            changes["is_completed"] = is_completed
        update = q.update(q.select("ref", q.var("doc")), {"data": changes})
        if is_completed is not None:  # the counters move when the todo changes sides
            was = q.select(["data", "is_completed"], q.var("doc"))
            update = q.let(
                {"updated": update},
                q.do(
                    q.if_(
                        q.equals(was, is_completed),
                        None,
                        _move_counters(_one("user_by_id", user_id), 0, 1 if is_completed else -1),
                    ),
                    q.var("updated"),
                ),
            )
        doc = await self._query(
            q.let(
                {"doc": _owned_todo(user_id, todo_id)},
                q.if_(q.is_null(q.var("doc")), None, update),
            )
        )
        return _todo(doc) if doc else None

    async def delete_todo(self, user_id: str, todo_id: str) -> bool:
        delete = q.delete(q.select("ref", q.var("doc")))
        done = q.if_(q.select(["data", "is_completed"], q.var("doc")), -1, 0)
        move = _move_counters(_one("user_by_id", user_id), -1, done)
        return bool(await self._query(_when_found(_owned_todo(user_id, todo_id), move, delete)))

    async def list_todos(
        self,
        user_id: str,
        first: int,
        after: Position | None,
        is_completed: bool | None,
        *,
        with_count: bool = True,
    ) -> Page:
        terms: list[Any] = [user_id]
        index = "todos_by_user_newest"
        if is_completed is not None:
            terms.append(is_completed)
            index = "todos_by_user_completed_newest"
        entries = q.match(q.index(index), *terms)
        if after is None:
            # Elements are [created_at, id, ref]; one extra tells whether a next page exists.
            rows: Any = q.select("data", q.paginate(entries, size=first + 1))
            earlier: Any = False
        else:
            # `after` is inclusive and a cursor is a position: ask for one more and
            # drop the row that sits exactly at the position, if it still exists.
            # A previous page exists when that row, or a newer one, does.
            cursor = [to_micros(after.created_at), after.id]
            rows = q.filter_(
                lambda entry: q.not_(q.equals(q.select(1, entry), after.id)),
                q.select("data", q.var("from_cursor")),
            )
            earlier = q.or_(
                q.equals(q.select(["data", 0, 1], q.var("from_cursor"), None), after.id),
                q.is_nonempty(q.paginate(entries, size=1, before=cursor)),
            )
        answer = await self._query(
            q.let(
                {"from_cursor": q.paginate(entries, size=first + 2, after=cursor)}
                if after is not None
                else {"from_cursor": None},
                {
                    "docs": q.map_(
                        lambda entry: q.get(q.select(2, entry)), q.take(first + 1, rows)
                    ),
                    "total": _count_of(_user_counts(user_id), is_completed) if with_count else None,
                    "newer": earlier,
                },
            )
        )
        todos = [_todo(doc) for doc in answer["docs"]]
        total = answer.get("total")
        return Page(
            todos=todos[:first],
            total_count=(total or 0) if with_count else None,
            has_next_page=len(todos) > first,
            has_previous_page=bool(answer["newer"]),
        )

    async def count_todos(self, user_ids: Sequence[str]) -> list[TodoCounts]:
        counts = await self._query(
            q.map_(
                _user_counts,
                list(user_ids),
            )
        )
        return [TodoCounts(total, completed) for total, completed in counts]

    async def set_all_completed(self, user_id: str, is_completed: bool, now: datetime) -> int:
        changed = await self._counted(
            user_id,
            lambda n: (0, n if is_completed else q.subtract(0, n)),
            q.count(
                q.map_(
                    lambda entry: q.update(
                        q.select(2, entry),
                        {"data": {"is_completed": is_completed, "updated_at": to_micros(now)}},
                    ),
                    q.select(
                        "data", _refs("todos_by_user_completed_newest", user_id, not is_completed)
                    ),
                )
            ),
        )
        return int(changed)

    async def clear_completed(self, user_id: str) -> int:
        deleted = await self._counted(
            user_id,
            lambda n: (q.subtract(0, n), q.subtract(0, n)),
            q.count(
                q.map_(
                    lambda entry: q.delete(q.select(2, entry)),
                    q.select("data", _refs("todos_by_user_completed_newest", user_id, True)),
                )
            ),
        )
        return int(deleted)

    async def _counted(
        self, user_id: str, deltas: Callable[[Any], tuple[Any, Any]], work: Any
    ) -> Any:
        """Run `work` (answering how many todos it changed) and move the user's counters
        by `deltas` of that number, in one query."""
        total, completed = deltas(q.var("n"))
        return await self._query(
            q.let(
                {"n": work},
                q.do(
                    q.if_(
                        q.equals(q.var("n"), 0),
                        None,
                        _move_counters(_one("user_by_id", user_id), total, completed),
                    ),
                    q.var("n"),
                ),
            )
        )


def _code(exc: FaunaError) -> str:
    errors = getattr(exc, "errors", None) or []
    return str(errors[0].code) if errors else ""
