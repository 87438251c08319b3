"""SQLite through the stdlib `sqlite3` driver: the embedded default.

Reads run on the event loop through their own connection: in WAL mode a
reader never waits for a lock, and a thread hop would cost more than the
query. Writes run on one dedicated thread with their own connection, so a
write waiting on SQLite's lock (another process writing the same file) never
stalls the loop, and this process's writes never queue on each other's locks.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from graphql_app.cursors import from_micros, to_micros
from graphql_app.errors import EmailTaken, ServiceUnavailable, UserGone
from graphql_app.models import NewSession, RotateOutcome, RotateResult, Todo, TodoCounts, User
from graphql_app.storage._sql import TODO_COLUMNS, USER_COLUMNS, Dialect, Row, SQLStorage, as_is
from graphql_app.storage.base import new_id
from graphql_app.storage.migrations import load_migrations, split_statements

T = TypeVar("T")

_BUSY_TIMEOUT_MS = 10_000


def _user(row: Row) -> User:
    return User(row[0], row[1], row[2], row[3], from_micros(row[4]))


def _todo(row: Row) -> Todo:
    return Todo(row[0], row[1], row[2], bool(row[3]), from_micros(row[4]), from_micros(row[5]))


# Named parameters; times as integer microseconds, booleans as 0 and 1.
SQLITE = Dialect(
    mark=lambda name, _: f":{name}",
    true="1",
    false="0",
    no_count="NULL",
    flag=int,
    time=to_micros,
    position_id=as_is,
    todo=_todo,
)


_RECOUNT = (
    "UPDATE users SET "
    "todo_count = (SELECT count(*) FROM todos WHERE todos.user_id = users.id), "
    "completed_count = "
    "(SELECT count(*) FROM todos WHERE todos.user_id = users.id AND is_completed = 1)"
)


class SQLiteStorage(SQLStorage):
    """The Storage Protocol on one SQLite file (see storage/base.py)."""

    dialect = SQLITE

    def __init__(self, path: str) -> None:
        self.path = path
        self.round_trips = 0
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        # One thread: writes are serialised here rather than on SQLite's lock.
        self._write_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-write")
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> SQLiteStorage:
        """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db` or `sqlite:///:memory:`."""
        parts = urlsplit(url)
        path = unquote(parts.path)
        if path.startswith("/"):
            path = path[1:]
        if not path:
            raise ValueError("a sqlite URL needs a file path, e.g. sqlite:///./todo.db")
        return cls(path)

    # -- connections ----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=_BUSY_TIMEOUT_MS / 1000,
        )
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _read_conn(self) -> sqlite3.Connection:
        if self._reader is None:
            self._reader = self._connect()
        return self._reader

    def _write_conn(self) -> sqlite3.Connection:
        if self._writer is None:
            self._writer = self._connect()
            self._writer.execute("PRAGMA journal_mode = WAL")
        return self._writer

    def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        self.round_trips += 1
        try:
            return self._read_conn().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise ServiceUnavailable() from exc

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one IMMEDIATE transaction on the write thread."""

        def run() -> T:
            conn = self._write_conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                result = work(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        try:
            return await asyncio.get_running_loop().run_in_executor(self._write_thread, run)
        except sqlite3.IntegrityError as exc:
            message = str(exc)
            if "users.email" in message:
                raise EmailTaken() from exc
            if "FOREIGN KEY" in message:
                raise UserGone() from exc
            raise
        except sqlite3.OperationalError as exc:
            raise ServiceUnavailable() from exc

    def _exec(
        self, conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()
    ) -> sqlite3.Cursor:
        self.round_trips += 1
        return conn.execute(sql, params)

    def _move_counters(
        self, conn: sqlite3.Connection, user_id: str, total: int, completed: int
    ) -> None:
        """Move the user's counters by these amounts, in the caller's transaction."""
        if total or completed:
            self._exec(
                conn,
                "UPDATE users SET todo_count = todo_count + ?, "
                "completed_count = completed_count + ? WHERE id = ?",
                (total, completed, user_id),
            )

    # -- lifecycle ------------------------------------------------------------

    async def migrate(self) -> None:
        def apply(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            conn.execute("BEGIN IMMEDIATE")
            try:
                done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
                for migration in load_migrations("sqlite"):
                    if migration.version in done:
                        continue
                    for statement in split_statements(migration.sql):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, strftime('%s','now'))",
                        (migration.version, migration.name),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await asyncio.get_running_loop().run_in_executor(
            self._write_thread, lambda: apply(self._write_conn())
        )

    async def recount_todos(self) -> int:
        # One write transaction: todo writes wait for it, so no count goes stale.
        return await self._write(lambda conn: self._exec(conn, _RECOUNT).rowcount)

    async def ping(self) -> None:
        self._read("SELECT 1")

    async def close(self) -> None:
        """Close both connections and the write thread; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True

        def close_writer() -> None:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

        await asyncio.get_running_loop().run_in_executor(self._write_thread, close_writer)
        self._write_thread.shutdown(wait=True)
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- users and sessions ---------------------------------------------------

    async def create_user(
        self, email: str, fullname: str, password_hash: str, session: NewSession, now: datetime
    ) -> User:
        user = User(new_id(), email, fullname, password_hash, now)

        def work(conn: sqlite3.Connection) -> None:
            self._exec(
                conn,
                f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (user.id, email, fullname, password_hash, to_micros(now)),
            )
            self._insert_session(conn, user.id, session, now)

        await self._write(work)
        return user

    def _insert_session(
        self, conn: sqlite3.Connection, user_id: str, session: NewSession, now: datetime
    ) -> None:
        self._exec(
            conn,
            "INSERT INTO sessions (id, user_id, family_id, token_hash, expires_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                new_id(),
                user_id,
                session.family_id,
                session.token_hash,
                to_micros(session.expires_at),
                to_micros(now),
            ),
        )

    async def get_users(self, ids: Sequence[str]) -> list[User | None]:
        unique = list(dict.fromkeys(ids))
        marks = ",".join("?" * len(unique))
        rows = self._read(f"SELECT {USER_COLUMNS} FROM users WHERE id IN ({marks})", unique)
        found = {row[0]: _user(row) for row in rows}
        return [found.get(i) for i in ids]

    async def get_user_by_email(self, email: str) -> User | None:
        rows = self._read(f"SELECT {USER_COLUMNS} FROM users WHERE email = ?", (email,))
        return _user(rows[0]) if rows else None

    async def set_password(self, user_id: str, password_hash: str, now: datetime) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            changed = self._exec(
                conn, "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
            ).rowcount
            self._exec(
                conn,
                "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                (to_micros(now), user_id),
            )
            return changed == 1

        return await self._write(work)

    async def delete_user(self, user_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            # todos and sessions go with the user: ON DELETE CASCADE.
            return self._exec(conn, "DELETE FROM users WHERE id = ?", (user_id,)).rowcount == 1

        return await self._write(work)

    async def revoke_tokens(self, user_id: str, now: datetime, keep_since: datetime) -> None:
        def work(conn: sqlite3.Connection) -> None:
            at = to_micros(now)
            self._exec(
                conn,
                "DELETE FROM token_revocations WHERE revoked_at < ?",
                (to_micros(keep_since),),
            )
            self._exec(conn, "INSERT INTO token_revocations VALUES (?, ?)", (user_id, at))
            self._exec(
                conn,
                "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                (at, user_id),
            )

        await self._write(work)

    async def recent_revocations(self, since: datetime) -> list[tuple[str, datetime]]:
        rows = self._read(
            "SELECT user_id, revoked_at FROM token_revocations WHERE revoked_at >= ?",
            (to_micros(since),),
        )
        return [(row[0], from_micros(row[1])) for row in rows]

    async def create_session(self, user_id: str, session: NewSession, now: datetime) -> None:
        await self._write(lambda conn: self._insert_session(conn, user_id, session, now))

    async def rotate_session(
        self, token_hash: str, successor: NewSession, now: datetime
    ) -> RotateResult:
        def work(conn: sqlite3.Connection) -> RotateResult:
            row = self._exec(
                conn,
                "SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at "
                "FROM sessions WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
            if row is None or row[5] is not None:
                return RotateResult(RotateOutcome.INVALID)
            session_id, user_id, family_id, expires_at, rotated_at, _ = row
            if rotated_at is not None:
                self._exec(
                    conn,
                    "UPDATE sessions SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
                    (to_micros(now), family_id),
                )
                return RotateResult(RotateOutcome.REUSED, user_id)
            if expires_at <= to_micros(now):
                return RotateResult(RotateOutcome.INVALID)
            self._exec(
                conn,
                "UPDATE sessions SET rotated_at = ? WHERE id = ?",
                (to_micros(now), session_id),
            )
            self._insert_session(
                conn,
                user_id,
                NewSession(family_id, successor.token_hash, successor.expires_at),
                now,
            )
            return RotateResult(RotateOutcome.ROTATED, user_id)

        return await self._write(work)

    async def revoke_session(self, token_hash: str, now: datetime) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            cursor = self._exec(
                conn,
                "UPDATE sessions SET revoked_at = ? WHERE token_hash = ? "
                "AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at > ?",
                (to_micros(now), token_hash, to_micros(now)),
            )
            return cursor.rowcount == 1

        return await self._write(work)

    # -- todos ----------------------------------------------------------------

    async def create_todo(self, user_id: str, name: str, is_completed: bool, now: datetime) -> Todo:
        todo = Todo(new_id(), user_id, name, is_completed, now, now)
        micros = to_micros(now)

        def work(conn: sqlite3.Connection) -> None:
            self._exec(
                conn,
                f"INSERT INTO todos ({TODO_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (todo.id, user_id, name, int(is_completed), micros, micros),
            )
            self._move_counters(conn, user_id, 1, int(is_completed))

        await self._write(work)
        return todo

    async def get_todos(self, user_id: str, ids: Sequence[str]) -> list[Todo | None]:
        unique = list(dict.fromkeys(ids))
        marks = ",".join("?" * len(unique))
        rows = self._read(
            f"SELECT {TODO_COLUMNS} FROM todos WHERE user_id = ? AND id IN ({marks})",
            [user_id, *unique],
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
        done = None if is_completed is None else int(is_completed)

        def work(conn: sqlite3.Connection) -> Todo | None:
            was = self._exec(
                conn,
                "SELECT is_completed FROM todos WHERE id = ? AND user_id = ?",
                (todo_id, user_id),
            ).fetchone()
            if was is None:
                return None
            row = self._exec(
                conn,
                "UPDATE todos SET name = coalesce(?, name), "
                "is_completed = coalesce(?, is_completed), updated_at = ? "
                f"WHERE id = ? AND user_id = ? RETURNING {TODO_COLUMNS}",
                (name, done, to_micros(now), todo_id, user_id),
            ).fetchone()
            self._move_counters(conn, user_id, 0, row[3] - was[0])
            return _todo(row)

        return await self._write(work)

    async def delete_todo(self, user_id: str, todo_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            row = self._exec(
                conn,
                "DELETE FROM todos WHERE id = ? AND user_id = ? RETURNING is_completed",
                (todo_id, user_id),
            ).fetchone()
            if row is None:
                return False
            self._move_counters(conn, user_id, -1, -row[0])
            return True

        return await self._write(work)

    async def _page_rows(self, sql: str, args: dict[str, object]) -> list[Any]:
        return self._read(sql, args)

    async def count_todos(self, user_ids: Sequence[str]) -> list[TodoCounts]:
        unique = list(dict.fromkeys(user_ids))
        marks = ",".join("?" * len(unique))
        rows = self._read(
            f"SELECT id, todo_count, completed_count FROM users WHERE id IN ({marks})", unique
        )
        found = {row[0]: TodoCounts(row[1], row[2]) for row in rows}
        return [found.get(i, TodoCounts()) for i in user_ids]

    async def set_all_completed(self, user_id: str, is_completed: bool, now: datetime) -> int:
        def work(conn: sqlite3.Connection) -> int:
            changed = self._exec(
                conn,
                "UPDATE todos SET is_completed = ?, updated_at = ? "
                "WHERE user_id = ? AND is_completed <> ?",
                (int(is_completed), to_micros(now), user_id, int(is_completed)),
            ).rowcount
            self._move_counters(conn, user_id, 0, changed if is_completed else -changed)
            return changed

        return await self._write(work)

    async def clear_completed(self, user_id: str) -> int:
        def work(conn: sqlite3.Connection) -> int:
            deleted = self._exec(
                conn, "DELETE FROM todos WHERE user_id = ? AND is_completed = 1", (user_id,)
            ).rowcount
            self._move_counters(conn, user_id, -deleted, -deleted)
            return deleted

        return await self._write(work)
