"""Todos: validation, ownership (enforced in every storage call) and events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from graphql_app.cursors import decode_cursor
from graphql_app.errors import NotFound
from graphql_app.models import Position, Todo, TodoEvent, TodoEventKind
from graphql_app.services import Deps
from graphql_app.time_limit import write_begins
from graphql_app.validation import Problems, check_first, clean_todo_name, is_storable

TODO_NOT_FOUND = "Todo not found"


DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class PageArgs:
    size: int
    cursor: Position | None
    backward: bool  # last/before: the page ends just before `cursor`


def parse_page_args(
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> PageArgs:
    """Check Relay's paging arguments; BAD_USER_INPUT naming the argument.

    Forward with first/after (first defaults to 20), backward with last/before.
    Mixing the two directions is refused rather than guessed at (Relay's own
    clients null the other direction's variables).
    """
    problems = Problems()
    if last is None:
        size = DEFAULT_PAGE_SIZE if first is None else first
        check_first(problems, "first", size)
        if before is not None:
            problems.add("before", "Use before with last; page forward with first and after")
        cursor_name, cursor = "after", after
    else:
        size = last
        check_first(problems, "last", last)
        if first is not None:
            problems.add("first", "Give first or last, not both")
        if after is not None:
            problems.add("after", "Use after with first; page backward with last and before")
        cursor_name, cursor = "before", before
    position = None
    if cursor is not None:
        try:
            position = decode_cursor(cursor)
        except ValueError:
            problems.add(cursor_name, "Invalid cursor")
    problems.check()
    return PageArgs(size, position, backward=last is not None)


class TodoService:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _publish(
        self, kind: TodoEventKind, user_id: str, todo_id: str, todo: Todo | None
    ) -> None:
        await self.deps.events.publish(TodoEvent(kind, user_id, todo_id, todo))

    async def create(self, user_id: str, name: str, is_completed: bool) -> Todo:
        problems = Problems()
        name = clean_todo_name(problems, "input.name", name)
        problems.check()
        write_begins()
        todo = await self.deps.storage.create_todo(user_id, name, is_completed, self.deps.clock())
        await self._publish(TodoEventKind.CREATED, user_id, todo.id, todo)
        return todo

    async def update(
        self, user_id: str, todo_id: str, name: str | None, is_completed: bool | None
    ) -> Todo:
        problems = Problems()
        if name is not None:
            name = clean_todo_name(problems, "input.name", name)
        problems.check()
        if not is_storable(todo_id):  # no stored id looks like that
            raise NotFound(TODO_NOT_FOUND)
        write_begins()
        todo = await self.deps.storage.update_todo(
            user_id, todo_id, name, is_completed, self.deps.clock()
        )
        if todo is None:
            raise NotFound(TODO_NOT_FOUND)
        await self._publish(TodoEventKind.UPDATED, user_id, todo.id, todo)
        return todo

    async def delete(self, user_id: str, todo_id: str) -> str:
        if not is_storable(todo_id):
            raise NotFound(TODO_NOT_FOUND)
        write_begins()
        if not await self.deps.storage.delete_todo(user_id, todo_id):
            raise NotFound(TODO_NOT_FOUND)
        await self._publish(TodoEventKind.DELETED, user_id, todo_id, None)
        return todo_id

    async def set_all_completed(self, user_id: str, is_completed: bool) -> int:
        """One statement however many todos, and one BULK_UPDATED event when any changed."""
        now = self.deps.clock()
        write_begins()
        changed = await self.deps.storage.set_all_completed(user_id, is_completed, now)
        if changed:
            await self.deps.events.publish(
                TodoEvent(
                    TodoEventKind.BULK_UPDATED,
                    user_id,
                    uuid.uuid4().hex,  # the change's own id: no todo has it
                    None,
                    matched=not is_completed,
                    count=changed,
                    updated_at=now,
                )
            )
        return changed

    async def clear_completed(self, user_id: str) -> int:
        """One statement however many todos, and one CLEARED event when any were deleted."""
        write_begins()
        deleted = await self.deps.storage.clear_completed(user_id)
        if deleted:
            await self.deps.events.publish(
                TodoEvent(
                    TodoEventKind.CLEARED,
                    user_id,
                    uuid.uuid4().hex,
                    None,
                    matched=True,
                    count=deleted,
                )
            )
        return deleted
