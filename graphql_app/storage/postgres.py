"""PostgreSQL through `asyncpg`: for production and scale-out.

One bounded pool, created on first use (asyncpg binds a pool to the running
event loop, and constructing the backend must not connect). Reads are one
plain statement each, with no BEGIN/COMMIT around them. Writes are one
statement where the work fits in one (data-modifying CTEs), which PostgreSQL
runs as its own transaction; rotate_session, which must branch on the row it
locks, runs in an explicit transaction.

Schema isolation: `search_path` (a keyword, or any server setting given as a
query parameter of the URL, e.g. ``?search_path=tenant_a``, which asyncpg
passes to the server) points the backend at one schema; tests give each test
its own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from graphql_app.errors import EmailTaken, ServiceUnavailable, UserGone
from graphql_app.models import NewSession, RotateOutcome, RotateResult, Todo, TodoCounts, User
from graphql_app.storage._sql import TODO_COLUMNS, USER_COLUMNS, Dialect, Row, SQLStorage, as_is
from graphql_app.storage.base import new_id
from graphql_app.storage.migrations import load_migrations, split_statements

T = TypeVar("T")
# The driver classes are generic in the stubs only.
Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

_EMAIL_CONSTRAINT = "users_email_key"
_PING_TIMEOUT = 2.0
_CLOSE_TIMEOUT = 5.0

# What an unreachable, restarting or overloaded server looks like. TimeoutError
# (a query past command_timeout, or no free connection in time) is an OSError.
_OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,  # 08xxx, including a connection lost mid-query
    asyncpg.exceptions.OperatorInterventionError,  # 57xxx: shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # 53xxx: too many connections, disk full
)

_SURROGATES = re.compile("[\ud800-\udfff]")


def _user(row: Row) -> User:
    return User(row[0], row[1], row[2], row[3], row[4])


def _todo(row: Row) -> Todo:
    return Todo(row[0], row[1], row[2], row[3], row[4], row[5])


def _position_id(position_id: str) -> str:
    """A text that stored ids (hex) compare with exactly as with `position_id`.

    PostgreSQL refuses NUL and lone surrogates, but any string may be a
    position: "ab\\0…" sorts like "ab\\x01" and a surrogate like U+FFFD against
    ids made only of hex digits.
    """
    head, nul, _ = position_id.partition("\x00")
    return _SURROGATES.sub("\ufffd", head) + ("\x01" if nul else "")


# Numbered parameters; the driver takes times and booleans as Python has them.
POSTGRES = Dialect(
    mark=lambda _, number: f"${number}",
    true="true",
    false="false",
    no_count="NULL::bigint",
    flag=as_is,
    time=as_is,
    position_id=_position_id,
    todo=_todo,
)

# Counters move by deltas computed from the rows a statement really changed,
# so concurrent writes add up whatever order they commit in.
_MOVE_COUNTERS = (
    "UPDATE users SET todo_count = todo_count + d.total, "
    "completed_count = completed_count + d.completed FROM d WHERE users.id = $1 "
    "AND (d.total <> 0 OR d.completed <> 0)"
)


async def _keep_session(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Pool reset: nothing to undo, we never change session state.

    asyncpg's default sends ``RESET ALL; UNLISTEN *; ...`` on every release,
    one more round trip per query. It still rolls back an open transaction
    before calling this.
    """


class PostgresStorage(SQLStorage):
    """The Storage Protocol on PostgreSQL (see storage/base.py)."""

    dialect = POSTGRES

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        query_timeout: float = 10.0,
        search_path: str | None = None,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self.query_timeout = query_timeout
        self.search_path = search_path
        self.round_trips = 0
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._pool_lock = asyncio.Lock()

    # -- connections ----------------------------------------------------------

    async def _get_pool(self) -> asyncpg.Pool[asyncpg.Record]:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    settings = {"search_path": self.search_path} if self.search_path else {}
                    # Only assigned once created: a failed attempt is retried next call.
                    self._pool = await asyncpg.create_pool(
                        self.url,
                        # No connection up front: connections open on demand and
                        # idle ones close after max_inactive_connection_lifetime.
                        min_size=0,
                        max_size=self.pool_size,
                        timeout=self.query_timeout,
                        command_timeout=self.query_timeout,
                        server_settings=settings,
                        reset=_keep_session,
                    )
        return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        """A pooled connection; driver errors leave as the errors of errors.py."""
        conn: Connection | None = None
        try:
            pool = await self._get_pool()
            async with pool.acquire(timeout=self.query_timeout) as conn:
                yield conn
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == _EMAIL_CONSTRAINT:
                raise EmailTaken() from exc
            raise
        except asyncpg.ForeignKeyViolationError as exc:
            raise UserGone() from exc
        except _OUTAGES as exc:
            raise ServiceUnavailable() from exc
        except asyncpg.InterfaceError as exc:
            # A closed connection or a closing pool is an outage; any other
            # InterfaceError is a misuse of the driver, a bug to surface.
            if conn is None or conn.is_closed():
                raise ServiceUnavailable() from exc
            raise

    async def _fetch(self, conn: Connection, sql: str, *args: object) -> list[asyncpg.Record]:
        self.round_trips += 1
        return await conn.fetch(sql, *args)

    async def _execute(self, conn: Connection, sql: str, *args: object) -> str:
        self.round_trips += 1
        return await conn.execute(sql, *args)

    async def _query(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """One statement, no BEGIN/COMMIT: a read, or a write that is its own transaction."""
        async with self._connection() as conn:
            return await self._fetch(conn, sql, *args)

    async def _command(self, sql: str, *args: object) -> int:
        """Like _query, for a statement that returns no rows: the rows it touched."""
        async with self._connection() as conn:
            status = await self._execute(conn, sql, *args)
        return int(status.rpartition(" ")[2])  # e.g. "UPDATE 3"

    async def _transaction(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run `work` in one explicit transaction."""
        async with self._connection() as conn:
            self.round_trips += 2  # BEGIN, then COMMIT or ROLLBACK
            async with conn.transaction():
                return await work(conn)

    # -- lifecycle ------------------------------------------------------------

    async def migrate(self) -> None:
        async def apply(conn: Connection) -> None:
            # Concurrent migrate runs (several instances starting) take turns
            # per schema; the lock goes with the transaction.
            await self._execute(
                conn,
                "SELECT pg_advisory_xact_lock("
                "hashtextextended('graphql_app.migrate:' || current_schema(), 0))",
            )
            await self._execute(
                conn,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            )
            rows = await self._fetch(conn, "SELECT version FROM schema_migrations")
            done = {row[0] for row in rows}
            for migration in load_migrations("postgres"):
                if migration.version in done:
                    continue
                for statement in split_statements(migration.sql):
                    await self._execute(conn, statement)
                await self._execute(
                    conn,
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )

        await self._transaction(apply)

    async def recount_todos(self) -> int:
        async def work(conn: Connection) -> int:
            # Todo writes wait (reads go on) until the counts are stored, so a
            # write between a user's count and its store cannot be missed.
            await self._execute(conn, "LOCK TABLE todos IN SHARE MODE")
            status = await self._execute(
                conn,
                "UPDATE users SET todo_count = coalesce(c.total, 0), "
                "completed_count = coalesce(c.completed, 0) "
                "FROM users AS u LEFT JOIN ("
                "SELECT user_id, count(*) AS total, "
                "count(*) FILTER (WHERE is_completed) AS completed "
                "FROM todos GROUP BY user_id) AS c ON c.user_id = u.id "
                "WHERE users.id = u.id",
            )
            return int(status.rpartition(" ")[2])

        return await self._transaction(work)

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(min(_PING_TIMEOUT, self.query_timeout)):
                async with self._connection() as conn:
                    await self._fetch(conn, "SELECT 1")
        except TimeoutError as exc:
            raise ServiceUnavailable() from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pool.terminate()

    # -- users and sessions ---------------------------------------------------

    async def create_user(
        self, email: str, fullname: str, password_hash: str, session: NewSession, now: datetime
    ) -> User:
        user = User(new_id(), email, fullname, password_hash, now)
        # One statement, so one transaction: a refused session leaves no user.
        await self._command(
            f"WITH u AS (INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)) "
            "INSERT INTO sessions (user_id, family_id, token_hash, expires_at, created_at) "
            "VALUES ($1, $6, $7, $8, $5)",
            user.id,
            email,
            fullname,
            password_hash,
            now,
            session.family_id,
            session.token_hash,
            session.expires_at,
        )
        return user

    async def get_users(self, ids: Sequence[str]) -> list[User | None]:
        rows = await self._query(
            f"SELECT {USER_COLUMNS} FROM users WHERE id = ANY($1::text[])", list(dict.fromkeys(ids))
        )
        found = {row[0]: _user(row) for row in rows}
        return [found.get(i) for i in ids]

    async def get_user_by_email(self, email: str) -> User | None:
        rows = await self._query(
            f"SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)", email
        )
        return _user(rows[0]) if rows else None

    async def set_password(self, user_id: str, password_hash: str, now: datetime) -> bool:
        # Both updates run to completion whether or not the final SELECT reads them.
        rows = await self._query(
            "WITH u AS (UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id), "
            "s AS (UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL) "
            "SELECT count(*) FROM u",
            user_id,
            password_hash,
            now,
        )
        return bool(rows[0][0])

    async def delete_user(self, user_id: str) -> bool:
        # todos and sessions go with the user: ON DELETE CASCADE.
        return await self._command("DELETE FROM users WHERE id = $1", user_id) == 1

    async def revoke_tokens(self, user_id: str, now: datetime, keep_since: datetime) -> None:
        # One statement, so one transaction; the user may be gone (its revocation stays).
        await self._query(
            "WITH old AS (DELETE FROM token_revocations WHERE revoked_at < $3), "
            "r AS (INSERT INTO token_revocations (user_id, revoked_at) VALUES ($1, $2)), "
            "s AS (UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL) "
            "SELECT 1",
            user_id,
            now,
            keep_since,
        )

    async def recent_revocations(self, since: datetime) -> list[tuple[str, datetime]]:
        rows = await self._query(
            "SELECT user_id, revoked_at FROM token_revocations WHERE revoked_at >= $1", since
        )
        return [(row[0], row[1]) for row in rows]

    async def create_session(self, user_id: str, session: NewSession, now: datetime) -> None:
        await self._command(
            "INSERT INTO sessions (user_id, family_id, token_hash, expires_at, created_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            user_id,
            session.family_id,
            session.token_hash,
            session.expires_at,
            now,
        )

    async def rotate_session(
        self, token_hash: str, successor: NewSession, now: datetime
    ) -> RotateResult:
        async def work(conn: Connection) -> RotateResult:
            # The lock makes a concurrent rotation of the same token wait, then
            # see it rotated (REUSED); the family update that follows is a new
            # statement, so it also sees the successor that rotation stored.
            rows = await self._fetch(
                conn,
                "SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at "
                "FROM sessions WHERE token_hash = $1 FOR UPDATE",
                token_hash,
            )
            if not rows or rows[0][5] is not None:
                return RotateResult(RotateOutcome.INVALID)
            session_id, user_id, family_id, expires_at, rotated_at, _ = rows[0]
            if rotated_at is not None:
                await self._execute(
                    conn,
                    "UPDATE sessions SET revoked_at = $1 "
                    "WHERE family_id = $2 AND revoked_at IS NULL",
                    now,
                    family_id,
                )
                return RotateResult(RotateOutcome.REUSED, user_id)
            if expires_at <= now:
                return RotateResult(RotateOutcome.INVALID)
            await self._execute(
                conn,
                "WITH r AS (UPDATE sessions SET rotated_at = $2 WHERE id = $1) "
                "INSERT INTO sessions (user_id, family_id, token_hash, expires_at, created_at) "
                "VALUES ($3, $4, $5, $6, $2)",
                session_id,
                now,
                user_id,
                family_id,
                successor.token_hash,
                successor.expires_at,
            )
            return RotateResult(RotateOutcome.ROTATED, user_id)

        return await self._transaction(work)

    async def revoke_session(self, token_hash: str, now: datetime) -> bool:
        revoked = await self._command(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 "
            "AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at > $1",
            now,
            token_hash,
        )
        return revoked == 1

    # -- todos ----------------------------------------------------------------

    async def create_todo(self, user_id: str, name: str, is_completed: bool, now: datetime) -> Todo:
        todo = Todo(new_id(), user_id, name, is_completed, now, now)
        # One statement: the todo and its counters commit together.
        await self._command(
            f"WITH t AS (INSERT INTO todos ({TODO_COLUMNS}) VALUES ($2, $1, $3, $4, $5, $5) "
            "RETURNING is_completed), "
            "d AS (SELECT 1 AS total, is_completed::int AS completed FROM t) " + _MOVE_COUNTERS,
            user_id,
            todo.id,
            name,
            is_completed,
            now,
        )
        return todo

    async def get_todos(self, user_id: str, ids: Sequence[str]) -> list[Todo | None]:
        rows = await self._query(
            f"SELECT {TODO_COLUMNS} FROM todos WHERE user_id = $1 AND id = ANY($2::text[])",
            user_id,
            list(dict.fromkeys(ids)),
        )
        found = {row[0]: _todo(row) for row in rows}
        return [found.get(i) for i in ids]

    async def update_todo(
        self,
        user_id: str,
        todo_id: str,
        name: str | None,
        is_completed: bool | None,
        now: datetime,
    ) -> Todo | None:
        # The locking subquery reads the row as it is once this statement holds
        # it, so `was` is the value this update replaces, even under concurrency.
        returned = ", ".join(f"t.{column}" for column in TODO_COLUMNS.split(", "))
        rows = await self._query(
            "WITH u AS (UPDATE todos AS t SET name = coalesce($3, t.name), "
            "is_completed = coalesce($4, t.is_completed), updated_at = $5 "
            "FROM (SELECT id, is_completed FROM todos WHERE id = $2 AND user_id = $1 "
            "FOR UPDATE) AS o WHERE t.id = o.id "
            f"RETURNING {returned}, o.is_completed AS was), "
            "d AS (SELECT 0 AS total, is_completed::int - was::int AS completed FROM u), "
            f"c AS ({_MOVE_COUNTERS}) "
            f"SELECT {TODO_COLUMNS} FROM u",
            user_id,
            todo_id,
            name,
            is_completed,
            now,
        )
        return _todo(rows[0]) if rows else None

    async def delete_todo(self, user_id: str, todo_id: str) -> bool:
        rows = await self._query(
            "WITH t AS (DELETE FROM todos WHERE id = $2 AND user_id = $1 RETURNING is_completed), "
            "d AS (SELECT -1 AS total, -is_completed::int AS completed FROM t), "
            f"c AS ({_MOVE_COUNTERS}) "
            "SELECT count(*) FROM t",
            user_id,
            todo_id,
        )
        return bool(rows[0][0] == 1)

    async def _page_rows(self, sql: str, args: dict[str, object]) -> list[asyncpg.Record]:
        return await self._query(sql, *args.values())

    async def count_todos(self, user_ids: Sequence[str]) -> list[TodoCounts]:
        rows = await self._query(
            "SELECT id, todo_count, completed_count FROM users WHERE id = ANY($1::text[])",
            list(dict.fromkeys(user_ids)),
        )
        found = {row[0]: TodoCounts(row[1], row[2]) for row in rows}
        return [found.get(i, TodoCounts()) for i in user_ids]

    async def set_all_completed(self, user_id: str, is_completed: bool, now: datetime) -> int:
        # One statement: the todos and the counters commit together. The delta
        # is the number of rows this update changed, so a todo written
        # concurrently (which moves the counters itself) is never counted twice.
        rows = await self._query(
            "WITH t AS (UPDATE todos SET is_completed = $2, updated_at = $3 "
            "WHERE user_id = $1 AND is_completed <> $2 RETURNING 1), "
            "n AS (SELECT count(*) AS changed FROM t), "
            "d AS (SELECT 0 AS total, "
            "CASE WHEN $2 THEN changed ELSE -changed END AS completed FROM n), "
            f"c AS ({_MOVE_COUNTERS}) "
            "SELECT changed FROM n",
            user_id,
            is_completed,
            now,
        )
        return int(rows[0][0])

    async def clear_completed(self, user_id: str) -> int:
        rows = await self._query(
            "WITH t AS (DELETE FROM todos WHERE user_id = $1 AND is_completed RETURNING 1), "
            "n AS (SELECT count(*) AS deleted FROM t), "
            "d AS (SELECT -deleted AS total, -deleted AS completed FROM n), "
            f"c AS ({_MOVE_COUNTERS}) "
            "SELECT deleted FROM n",
            user_id,
        )
        return int(rows[0][0])
