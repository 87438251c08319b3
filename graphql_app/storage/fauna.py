"""Fauna (FQL v4) through the `faunadb` driver: the seed's database.

Every store operation is ONE FQL query, so one round trip and one
transaction: ownership is checked inside the query (Let/If/Abort), uniqueness
comes from unique indexes ("instance not unique"). The exception is a cascade
over a set larger than one page (cascade_page_size): it runs one bounded
query per page (see `_cascade`), each its own transaction. Documents keep
their own `id` (a uuid, as the seed did), looked up through the seed's
indexes `user_by_id` and `todo_by_id`, so ids behave exactly as on the SQL
backends.

A query the core answers 409 (still contended after its own retries) is sent
again after a jittered backoff, within the storage call's time limit.

The driver is synchronous (requests): calls run in a bounded thread pool,
never on the event loop. Its client constructor asks the package index for a
newer version, which fails offline; our client subclass never does.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
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
from graphql_app.storage.base import cut_page, new_id
from graphql_app.storage.fauna_indexes import (
    IndexSpec,
    building_line,
    index_differences,
    index_params,
)

with warnings.catch_warnings():
    # faunadb 4.5.2 warns on import that the driver is deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    from faunadb import query as q
    from faunadb.client import FaunaClient
    from faunadb.errors import (
        BadRequest,
        ContendedTransaction,
        FaunaError,
        NotFound,
        PermissionDenied,
        Unauthorized,
    )

log = logging.getLogger(__name__)

ALL = 100_000  # Fauna's maximum page size: the revocation window's rows in one read
USER_GONE = "user gone"
CASCADE_PAGE_SIZE = 1000  # rows one cascade query touches; well under the core's 100,000 width
INDEX_BUILD_TIMEOUT = 600.0  # seconds migrate waits for background index builds
# Backoff between attempts of a 409-contended query: full jitter, doubling from BASE up to CAP.
RETRY_BASE, RETRY_CAP = 0.02, 1.0
# Where create_user's query creates the user document: a uniqueness error there is the email's.
USER_CREATE_POSITION = ["let", 0, "user", "create"]

COLLECTIONS = ("users", "todos", "sessions", "token_revocations")
# name -> (source collection, terms, values, unique). The first four are the seed's.
NEWEST_FIRST: list[dict[str, Any]] = [
    {"field": ["data", "created_at"], "reverse": True},
    {"field": ["data", "id"], "reverse": True},
    {"field": ["ref"]},
]
INDEXES: dict[str, IndexSpec] = {
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


def _page(index: str, terms: list[Any], size: int, after: Any = None) -> Any:
    return q.paginate(q.match(q.index(index), *terms), size=size, after=after)


def _next(page: Any) -> Any:
    """The cursor of the page after `page`, or null when it was the last."""
    return q.select("after", page, None)


def _require_user(user_id: str, then: Any) -> Any:
    return q.if_(q.is_nonempty(q.match(q.index("user_by_id"), user_id)), then, q.abort(USER_GONE))


# The user document carries its todo counters; `migrate` fills them for users
# stored before they existed. Until then a user has none, and its counts come
# from the indexes (as before): never a wrong count, only a slower one.
_TOTAL, _COMPLETED = ["data", "todo_count"], ["data", "completed_count"]


def _index_counts(user_id: Any) -> Any:
    """[all, completed] of a user, counted from the indexes: O(todos)."""
    return [
        q.count(q.match(q.index("todo_by_user_id"), user_id)),
        q.count(q.match(q.index("todos_by_user_completed_newest"), user_id, True)),
    ]


def _counts(user: Any, user_id: Any) -> Any:
    """[all, completed] of the user document `user` (an expression)."""
    return q.if_(
        q.contains_path(_TOTAL, user),
        [q.select(_TOTAL, user), q.select(_COMPLETED, user)],
        _index_counts(user_id),
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


def _revoke_page(index: str, term: Any, micros: int, size: int, after: Any = None) -> Any:
    """Set revoked_at on the not-yet-revoked sessions of one page of the set; answer the
    next page's cursor (null after the last page)."""
    return q.let(
        {"revoke_page": _page(index, [term], size, after)},
        q.do(
            q.foreach(
                lambda ref: q.let(
                    {"s": q.get(ref)},
                    q.if_(
                        q.is_null(q.select(["data", "revoked_at"], q.var("s"), None)),
                        q.update(ref, {"data": {"revoked_at": micros}}),
                        None,
                    ),
                ),
                q.select("data", q.var("revoke_page")),
            ),
            _next(q.var("revoke_page")),
        ),
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
        cascade_page_size: int = CASCADE_PAGE_SIZE,
        index_build_timeout: float = INDEX_BUILD_TIMEOUT,
    ) -> None:
        self.round_trips = 0
        self.query_timeout = query_timeout
        self.cascade_page_size = cascade_page_size
        self.index_build_timeout = index_build_timeout
        self.progress: Callable[[str], None] = log.info  # migrate's waiting lines
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
        """`fauna://SECRET@HOST:PORT?scheme=http&build_timeout=600`.

        SECRET is everything before the last "@", percent-decoded, so a scoped secret
        `key:appdb:server` may be written as is or as `key%3Aappdb%3Aserver`. scheme
        defaults to https; build_timeout is how long migrate waits for index builds."""
        parts = urlsplit(url)
        userinfo, at, hostport = parts.netloc.rpartition("@")
        secret = unquote(userinfo)
        host = urlsplit(f"//{hostport}")
        if not at or not secret or not host.hostname:
            raise ValueError("a fauna URL looks like fauna://SECRET@HOST:PORT?scheme=http")
        query = parse_qs(parts.query)
        scheme = query.get("scheme", ["https"])[0]
        build_timeout = float(query.get("build_timeout", [INDEX_BUILD_TIMEOUT])[0])
        return cls(
            secret,
            host.hostname,
            host.port,
            scheme,
            pool_size=pool_size,
            query_timeout=query_timeout,
            index_build_timeout=build_timeout,
        )

    async def _query(self, expr: Any) -> Any:
        """Run one FQL query in the driver's thread pool; map transport failures.

        A 409 (the core gave up on a contended transaction after its own retries) is
        retried with full-jitter backoff while the call's time limit allows; nothing of
        a 409-answered query was applied, so sending it again is safe."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.query_timeout
        attempt = 0
        while True:
            self.round_trips += 1
            try:
                return await loop.run_in_executor(self._pool, self._client.query, expr)
            except ContendedTransaction as exc:
                pause = _jitter.uniform(0, min(RETRY_CAP, RETRY_BASE * 2**attempt))
                attempt += 1
                if loop.time() + pause >= deadline:
                    raise ServiceUnavailable() from exc
                await asyncio.sleep(pause)
            except Unauthorized as exc:
                raise StorageRefused(
                    "the Fauna server refused the secret (401 Unauthorized)"
                ) from exc
            except PermissionDenied as exc:
                # A client-role key, or a key whose role may not do what the backend needs.
                raise StorageRefused(
                    "the Fauna server refused the secret (403 permission denied)"
                ) from exc
            except BadRequest as exc:
                if _code(exc) == "instance not found" and "is not active" in str(exc):
                    raise ServiceUnavailable() from exc  # an index build is still running
                raise
            except NotFound:
                raise
            except (FaunaError, requests.RequestException, OSError) as exc:
                # Unreachable, timed out, 5xx or a garbled answer: storage is unavailable.
                raise ServiceUnavailable() from exc

    # -- lifecycle ------------------------------------------------------------

    async def migrate(self) -> None:
        """Create the collections, then the indexes, each if missing (DDL in separate
        queries: an index cannot be created with its source collection). An existing index
        must match what the backend needs, or migrate refuses, naming the difference. Then
        wait, within index_build_timeout, until every index is active (the core builds an
        index over more than 128 documents in the background), and fill the todo counters
        of users stored before them."""
        await self._query(
            q.do(
                *(
                    q.if_(q.exists(q.collection(c)), None, q.create_collection({"name": c}))
                    for c in COLLECTIONS
                ),
                None,
            )
        )
        found = await self._query(
            [q.if_(q.exists(q.index(n)), q.get(q.index(n)), None) for n in INDEXES]
        )
        problems = [
            f"Fauna index {name} differs from what graphql_app needs: "
            + ", ".join(differences)
            + f'; delete or rename it (Delete(Index("{name}"))) and run migrate again,'
            " which creates it as needed"
            for name, doc in zip(INDEXES, found, strict=True)
            if doc is not None and (differences := index_differences(name, INDEXES[name], doc))
        ]
        if problems:
            raise StorageRefused(" | ".join(problems))
        missing = [n for n, doc in zip(INDEXES, found, strict=True) if doc is None]
        if missing:
            await self._query(
                q.do(*(q.create_index(index_params(n, INDEXES[n])) for n in missing), None)
            )
        await self._wait_for_builds()  # the counters are counted through the indexes
        await self._fill_counters(every=False)

    async def _index_states(self) -> list[bool | None]:
        """Each index's `active` flag (None when it does not exist), in one query. It also
        reads the indexes set, which a key without permission is refused (403)."""
        states = await self._query(
            q.do(
                q.paginate(q.indexes(), size=1),
                [
                    q.if_(q.exists(q.index(n)), q.select("active", q.get(q.index(n)), True), None)
                    for n in INDEXES
                ],
            )
        )
        return list(states)

    async def _wait_for_builds(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        pause = 0.05
        while True:
            states = await self._index_states()
            building = [n for n, active in zip(INDEXES, states, strict=True) if active is False]
            if not building:
                return
            waited = loop.time() - started
            if waited >= self.index_build_timeout:
                raise StorageRefused(building_line(building[0]))
            self.progress(
                f"waiting for Fauna to build index {', '.join(building)} "
                f"({waited:.0f} s of {self.index_build_timeout:.0f} s)"
            )
            await asyncio.sleep(min(pause, max(0.0, self.index_build_timeout - waited)))
            pause = min(pause * 2, 2.0)

    async def recount_todos(self) -> int:
        return await self._fill_counters(every=True)

    async def _fill_counters(self, *, every: bool) -> int:
        """Count the todos of every user (`every`), or of every user without counters,
        from the indexes and store the counts: a page of users per query, each count
        and its store in one transaction. How many users were counted."""
        after: Any = None
        filled = 0

        # An explicit lambda: the driver would take every local name of a Python
        # function for a parameter.
        user, ref = q.var("u"), q.var("ref")
        count = q.let(
            {"c": _index_counts(q.select(["data", "id"], user))},
            q.update(
                ref,
                {
                    "data": {
                        "todo_count": q.select(0, q.var("c")),
                        "completed_count": q.select(1, q.var("c")),
                    }
                },
            ),
        )
        skip = False if every else q.contains_path(_TOTAL, user)
        fill = q.lambda_("ref", q.let({"u": q.get(ref)}, q.if_(skip, None, count)))

        while True:
            answer = await self._query(
                q.let(
                    {
                        "users": q.paginate(
                            q.documents(q.collection("users")), size=100, after=after
                        )
                    },
                    {
                        "filled": q.count(
                            q.filter_(
                                lambda done: q.not_(q.is_null(done)),
                                q.map_(fill, q.select("data", q.var("users"))),
                            )
                        ),
                        "after": q.select("after", q.var("users"), None),
                    },
                )
            )
            filled += int(answer["filled"])
            after = answer.get("after")
            if after is None:
                return filled

    async def ping(self) -> None:
        """A real (tiny) query, not /ping: that one answers without checking the secret.
        An index still building makes storage not ready (serve refuses to start)."""
        states = await self._index_states()
        for name, active in zip(INDEXES, states, strict=True):
            if active is False:
                raise StorageRefused(building_line(name))

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.session.close()

    # -- users and sessions ---------------------------------------------------

    def _session_data(self, user_id: str, session: NewSession, now: datetime) -> dict[str, Any]:
        return {
            "id": new_id(),
            "user_id": user_id,
            "family_id": session.family_id,
            "token_hash": session.token_hash,
            "expires_at": to_micros(session.expires_at),
            "created_at": to_micros(now),
        }

    async def create_user(
        self, email: str, fullname: str, password_hash: str, session: NewSession, now: datetime
    ) -> User:
        user_id = new_id()
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
            # Only the user document's create is the email; a clash elsewhere (a session's
            # token hash) is not the caller's email being taken.
            if _code(exc) == "instance not unique" and _position(exc) == USER_CREATE_POSITION:
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
        """The new hash and the first page of revocations in one query, later pages after."""
        micros, size = to_micros(now), self.cascade_page_size
        update = q.update(q.select("ref", q.var("doc")), {"data": {"password_hash": password_hash}})
        answer = await self._query(
            q.let(
                {"doc": _one("user_by_id", user_id)},
                q.if_(
                    q.is_null(q.var("doc")),
                    {"found": False},
                    q.do(
                        update,
                        {
                            "found": True,
                            "after": _revoke_page("sessions_by_user", user_id, micros, size),
                        },
                    ),
                ),
            )
        )
        await self._revoke_rest("sessions_by_user", user_id, micros, answer.get("after"))
        return bool(answer["found"])

    async def _revoke_rest(self, index: str, term: Any, micros: int, after: Any) -> None:
        """Revoke the pages of a session set after the first, one query each."""
        while after is not None:
            after = await self._query(
                _revoke_page(index, term, micros, self.cascade_page_size, after)
            )

    async def delete_user(self, user_id: str) -> bool:
        """Delete a page of the user's todos and sessions per query; the query that finds
        both sets within one page also deletes the user, so nothing is left behind, even
        rows created while the cascade ran. Each query is its own transaction: a failure
        midway leaves the account in place with fewer rows, and deleting it again finishes."""
        size = self.cascade_page_size
        found_user = False
        while True:
            answer = await self._query(
                q.let(
                    {"doc": _one("user_by_id", user_id)},
                    q.if_(
                        q.is_null(q.var("doc")),
                        {"found": False},
                        q.let(
                            {
                                "todos": _page("todo_by_user_id", [user_id], size),
                                "sessions": _page("sessions_by_user", [user_id], size),
                            },
                            q.do(
                                q.foreach(
                                    q.lambda_("r", q.delete(q.var("r"))),
                                    q.select("data", q.var("todos")),
                                ),
                                q.foreach(
                                    q.lambda_("r", q.delete(q.var("r"))),
                                    q.select("data", q.var("sessions")),
                                ),
                                q.if_(
                                    q.and_(
                                        q.is_null(_next(q.var("todos"))),
                                        q.is_null(_next(q.var("sessions"))),
                                    ),
                                    q.do(
                                        q.delete(q.select("ref", q.var("doc"))),
                                        {"found": True, "done": True},
                                    ),
                                    {"found": True, "done": False},
                                ),
                            ),
                        ),
                    ),
                )
            )
            if not answer["found"]:
                return found_user  # gone: not found at first, or deleted by a racing call
            found_user = True
            if answer["done"]:
                return True

    async def revoke_tokens(self, user_id: str, now: datetime, keep_since: datetime) -> None:
        at = to_micros(now)
        by_time = q.match(q.index("token_revocations_by_time"))
        # Range bounds are inclusive: stop one microsecond before keep_since.
        old = q.paginate(q.range(by_time, [], [to_micros(keep_since) - 1]), size=ALL)
        after = await self._query(
            q.do(
                q.foreach(q.lambda_("row", q.delete(q.select(2, q.var("row")))), old),
                q.create(
                    q.collection("token_revocations"),
                    {"data": {"user_id": user_id, "revoked_at": at}},
                ),
                _revoke_page("sessions_by_user", user_id, at, self.cascade_page_size),
            )
        )
        await self._revoke_rest("sessions_by_user", user_id, at, after)

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
                        {
                            "outcome": "reused",
                            "user_id": field("user_id"),
                            "family_id": field("family_id"),
                            "after": _revoke_page(
                                "sessions_by_family",
                                field("family_id"),
                                micros,
                                self.cascade_page_size,
                            ),
                        },
                        q.if_(
                            q.lte(field("expires_at"), micros),
                            {"outcome": "invalid"},
                            q.do(
                                q.update(q.select("ref", s), {"data": {"rotated_at": micros}}),
                                q.create(
                                    q.collection("sessions"),
                                    {
                                        "data": {
                                            "id": new_id(),
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
        if answer["outcome"] == "reused":
            await self._revoke_rest(
                "sessions_by_family", answer["family_id"], micros, answer.get("after")
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
            "id": new_id(),
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
        entries = _todo_entries(user_id, is_completed)
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
        count, newer = answer.get("total"), bool(answer["newer"])
        return cut_page(todos, first, count, newer, backward=False, with_count=with_count)

    async def list_todos_before(
        self,
        user_id: str,
        last: int,
        before: Position | None,
        is_completed: bool | None,
        *,
        with_count: bool = True,
    ) -> Page:
        entries = _todo_entries(user_id, is_completed)
        if before is None:
            # The end of the list: the first entries of the reversed set, oldest first.
            rows: Any = q.reverse(q.select("data", q.paginate(q.reverse(entries), size=last + 1)))
            later: Any = False
        else:
            # `before` is exclusive, so the position's own row is left out; the
            # page comes back ascending (newest first), as the list runs. A next
            # page exists when a todo sits at the position or after it.
            cursor = [to_micros(before.created_at), before.id]
            rows = q.select("data", q.paginate(entries, size=last + 1, before=cursor))
            later = q.is_nonempty(q.paginate(entries, size=1, after=cursor))
        answer = await self._query(
            {
                "docs": q.map_(lambda entry: q.get(q.select(2, entry)), rows),
                "total": _count_of(_user_counts(user_id), is_completed) if with_count else None,
                "later": later,
            }
        )
        todos = [_todo(doc) for doc in answer["docs"]]
        count, later = answer.get("total"), bool(answer["later"])
        return cut_page(todos, last, count, later, backward=True, with_count=with_count)

    async def count_todos(self, user_ids: Sequence[str]) -> list[TodoCounts]:
        counts = await self._query(
            q.map_(
                _user_counts,
                list(user_ids),
            )
        )
        return [TodoCounts(total, completed) for total, completed in counts]

    async def _cascade(
        self,
        user_id: str,
        terms: list[Any],
        change: Callable[[Any], Any],
        deltas: Callable[[Any], tuple[Any, Any]],
    ) -> int:
        """Apply `change` to the todos of todos_by_user_completed_newest[terms], one page
        per query, until none is left; answers how many were changed. `change` takes an
        element's ref and must move it out of the set (update its is_completed, or delete
        it), so each query starts from the set's head again. Each page moves the user's
        counters by `deltas` of its count, in its own transaction."""
        size, changed = self.cascade_page_size, 0
        total, completed = deltas(q.var("n"))
        while True:
            answer = await self._query(
                q.let(
                    {"page": _page("todos_by_user_completed_newest", terms, size)},
                    q.let(
                        {
                            "n": q.count(
                                q.map_(
                                    lambda entry: q.do(change(q.select(2, entry)), True),
                                    q.select("data", q.var("page")),
                                )
                            )
                        },
                        q.do(
                            q.if_(
                                q.equals(q.var("n"), 0),
                                None,
                                _move_counters(_one("user_by_id", user_id), total, completed),
                            ),
                            {"done": q.var("n"), "more": q.not_(q.is_null(_next(q.var("page"))))},
                        ),
                    ),
                )
            )
            changed += int(answer["done"])
            if not answer["more"] or not answer["done"]:
                return changed

    async def set_all_completed(self, user_id: str, is_completed: bool, now: datetime) -> int:
        changes = {"data": {"is_completed": is_completed, "updated_at": to_micros(now)}}
        return await self._cascade(
            user_id,
            [user_id, not is_completed],
            lambda ref: q.update(ref, changes),
            lambda n: (0, n if is_completed else q.subtract(0, n)),
        )

    async def clear_completed(self, user_id: str) -> int:
        return await self._cascade(
            user_id,
            [user_id, True],
            q.delete,
            lambda n: (q.subtract(0, n), q.subtract(0, n)),
        )


def _todo_entries(user_id: str, is_completed: bool | None) -> Any:
    """The user's todos (of the filter) as index entries [created_at, id, ref], newest first."""
    if is_completed is None:
        return q.match(q.index("todos_by_user_newest"), user_id)
    return q.match(q.index("todos_by_user_completed_newest"), user_id, is_completed)


def _code(exc: FaunaError) -> str:
    errors = getattr(exc, "errors", None) or []
    return str(errors[0].code) if errors else ""


def _position(exc: FaunaError) -> list[Any]:
    errors = getattr(exc, "errors", None) or []
    return list(errors[0].position or []) if errors else []


_jitter = secrets.SystemRandom()
