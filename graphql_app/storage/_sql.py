"""What the SQL backends share: the column lists, and pages read in one statement.

sqlite.py and postgres.py differ in driver, placeholders and types; a `Dialect`
names those differences, so that one builder writes every page statement of
both (the text each backend wrote by hand before) and one class, `SQLStorage`,
serves `list_todos` and `list_todos_before` for both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeAlias, TypeVar, overload

from graphql_app.models import Page, Position, Todo
from graphql_app.storage.base import cut_page

# The columns both SQL schemas give their tables, in the order the backends'
# record mappers read them.
USER_COLUMNS = "id, email, fullname, password_hash, created_at"
TODO_COLUMNS = "id, user_id, name, is_completed, created_at, updated_at"

T = TypeVar("T")


class Row(Protocol):
    """A result row read by position: a tuple (sqlite3) or a Record (asyncpg)."""

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Any, ...]: ...


# (filter, with a cursor, with the count, backward): one statement each.
PageKey: TypeAlias = tuple[bool | None, bool, bool, bool]


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one database spells what the shared statements need."""

    # The placeholder of a parameter, from its name and its number (from 1, in
    # the order `page_args` binds them): ":user_id" or "$1".
    mark: Callable[[str, int], str]
    true: str  # literals
    false: str
    no_count: str  # NULL of the count's type, for a page asked for without it
    # Parameters as the driver takes them.
    flag: Callable[[bool], object]
    time: Callable[[datetime], object]
    position_id: Callable[[str], object]  # a Position's id, which may be any text
    todo: Callable[[Row], Todo]  # a row of TODO_COLUMNS


def as_is(value: T) -> T:
    """A parameter the driver takes as Python has it."""
    return value


# The counter expression of each filter: all, completed, active.
_COUNT_OF = {None: "todo_count", True: "completed_count", False: "todo_count - completed_count"}


def page_sql(
    dialect: Dialect, is_completed: bool | None, with_cursor: bool, with_count: bool, backward: bool
) -> str:
    """One statement for a page, whether todos lie behind its cursor and, if asked, the count.

    The count is the owner's counter (one row by primary key), never a count
    of todos. It sits with `beyond` in a one-row subquery LEFT JOINed to the
    page, so an empty page still returns them. Forward pages read older todos
    newest first; backward pages read newer todos oldest first (nearest the
    cursor), and both come out newest first.
    """
    names = ["user_id", "limit"]
    if is_completed is not None:
        names.append("done")
    if with_cursor:
        names += ["at", "id"]
    mark = {name: dialect.mark(name, number) for number, name in enumerate(names, 1)}
    where = f"user_id = {mark['user_id']}"
    if is_completed is not None:
        where += f" AND is_completed = {mark['done']}"
    ahead, behind, order = (">", "<=", "ASC") if backward else ("<", ">=", "DESC")
    if with_cursor:
        position = f"({mark['at']}, {mark['id']})"
        # A todo at the cursor or behind it means the client came from a page
        # there: the row the cursor names was on it.
        beyond = (
            f"EXISTS (SELECT 1 FROM todos WHERE {where} AND (created_at, id) {behind} {position})"
        )
        page_where = f"{where} AND (created_at, id) {ahead} {position}"
    else:
        beyond, page_where = dialect.false, where
    total = (
        f"(SELECT {_COUNT_OF[is_completed]} FROM users WHERE id = {mark['user_id']})"
        if with_count
        else dialect.no_count
    )
    return (
        f"SELECT c.total, c.beyond, t.id, t.user_id, t.name, t.is_completed, "
        f"t.created_at, t.updated_at "
        f"FROM (SELECT {total} AS total, {beyond} AS beyond) AS c "
        f"LEFT JOIN (SELECT {TODO_COLUMNS} FROM todos WHERE {page_where} "
        f"ORDER BY created_at {order}, id {order} LIMIT {mark['limit']}) AS t ON {dialect.true} "
        f"ORDER BY t.created_at DESC, t.id DESC"
    )


def page_statements(dialect: Dialect) -> dict[PageKey, str]:
    """Every page statement of the dialect, made once."""
    return {
        (f, c, n, b): page_sql(dialect, f, c, n, b)
        for f in (None, True, False)
        for c in (False, True)
        for n in (False, True)
        for b in (False, True)
    }


def page_args(
    dialect: Dialect, user_id: str, size: int, cursor: Position | None, is_completed: bool | None
) -> dict[str, object]:
    """The parameters of a page statement by name, in the order `page_sql` numbers them."""
    args: dict[str, object] = {"user_id": user_id, "limit": size + 1}
    if is_completed is not None:
        args["done"] = dialect.flag(is_completed)
    if cursor is not None:
        args["at"] = dialect.time(cursor.created_at)
        args["id"] = dialect.position_id(cursor.id)
    return args


class SQLStorage(ABC):
    """The page reads of the Storage Protocol, for a backend that runs `page_sql`.

    A subclass names its `dialect`; its page statements are made once, with the class.
    """

    dialect: ClassVar[Dialect]
    pages: ClassVar[dict[PageKey, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.pages = page_statements(cls.dialect)

    @abstractmethod
    async def _page_rows(self, sql: str, args: dict[str, object]) -> Sequence[Row]:
        """The rows of one page statement, in one round trip."""

    async def list_todos(
        self,
        user_id: str,
        first: int,
        after: Position | None,
        is_completed: bool | None,
        *,
        with_count: bool = True,
    ) -> Page:
        return await self._page(user_id, first, after, is_completed, with_count, backward=False)

    async def list_todos_before(
        self,
        user_id: str,
        last: int,
        before: Position | None,
        is_completed: bool | None,
        *,
        with_count: bool = True,
    ) -> Page:
        return await self._page(user_id, last, before, is_completed, with_count, backward=True)

    async def _page(
        self,
        user_id: str,
        size: int,
        cursor: Position | None,
        is_completed: bool | None,
        with_count: bool,
        *,
        backward: bool,
    ) -> Page:
        sql = self.pages[(is_completed, cursor is not None, with_count, backward)]
        rows = await self._page_rows(
            sql, page_args(self.dialect, user_id, size, cursor, is_completed)
        )
        # Each row: the count and `beyond`, then a todo's columns (NULL on an empty page).
        todo = self.dialect.todo
        todos = [todo(row[2:]) for row in rows if row[2] is not None]
        count, beyond = rows[0][0], bool(rows[0][1])
        return cut_page(todos, size, count, beyond, backward=backward, with_count=with_count)
