"""Todos: validation, ownership (enforced in every storage call), reads and events.

Reads go through the request's DataLoaders (services/loaders.py): one storage
call per batch, whatever the number of fields that ask.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from graphql_app.cursors import decode_cursor
from graphql_app.errors import AuthReason, NotFound, Unauthenticated
from graphql_app.events import EventStream
from graphql_app.models import Page, Position, Todo, TodoEvent, TodoEventKind, User
from graphql_app.security.tokens import AccessClaims
from graphql_app.services.deps import Deps
from graphql_app.services.identity import IdentityService
from graphql_app.services.loaders import Loaders, PageKey
from graphql_app.time_limit import write_begins
from graphql_app.validation import Problems, check_first, clean_todo_name, is_storable

TODO_NOT_FOUND = "Todo not found"
EXPIRED_MESSAGE = "Access token expired; refresh it and subscribe again"
_ENDED: Any = object()  # anext()'s default: the stream ended


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
    """The todos of one request's callers (made per request: it holds its DataLoaders)."""

    def __init__(self, deps: Deps, loaders: Loaders, identity: IdentityService) -> None:
        self.deps = deps
        self.loaders = loaders
        self.identity = identity

    async def get(self, user_id: str, todo_id: str) -> Todo | None:
        """The user's todo; None when it does not exist or is someone else's."""
        return await self.loaders.todos.load((user_id, todo_id))

    async def page(
        self,
        user_id: str,
        first: int | None,
        after: str | None,
        last: int | None = None,
        before: str | None = None,
        is_completed: bool | None = None,
        *,
        with_page: bool = True,
        with_count: bool = True,
    ) -> Page:
        """A page of the user's todos, newest first, by Relay's paging arguments
        (parse_page_args), with only what was asked for.

        Without `with_page` the todos are left out (an empty page whose
        has_next_page and has_previous_page are False) and the count comes from
        the user's counters; without `with_count`, total_count is None.
        """
        args = parse_page_args(first, after, last, before)
        if not with_page:
            counts = await self.loaders.counts.load(user_id)
            return Page([], counts.of(is_completed), has_next_page=False, has_previous_page=False)
        key = PageKey(user_id, args.size, args.cursor, is_completed, with_count, args.backward)
        return await self.loaders.pages.load(key)

    async def node(self, user_id: str, node_id: str) -> User | Todo | None:
        """The caller themself, or one of the caller's todos; None for any other id.

        Ids stay as the contract has them (no type prefix): users and todos get
        random UUIDs from one generator, so an id names at most one object. The
        caller's own id needs no look-up to recognise; anything else is tried as
        one of the caller's todos, so another user's todo or account, an unknown
        and a malformed id all answer null alike.
        """
        if node_id == user_id:
            return await self.loaders.users.load(user_id)
        return await self.loaders.todos.load((user_id, node_id))

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

    def check_live(self, caller: AccessClaims) -> None:
        """UNAUTHENTICATED once the access token a subscription rests on has been
        revoked (TOKEN_REVOKED) or has expired (TOKEN_EXPIRED)."""
        self.identity.check_revoked(caller)
        if self.identity.seconds_until(caller.expires_at) <= 0:
            raise Unauthenticated(EXPIRED_MESSAGE, AuthReason.TOKEN_EXPIRED)

    async def subscribe(
        self, caller: AccessClaims, *, watch_expiry: bool = True
    ) -> AsyncGenerator[TodoEvent, None]:
        """The caller's own todo events, from any instance, as they happen.

        Refused before any event (UNAUTHENTICATED) when the token is already
        expired or revoked. The events then end with UNAUTHENTICATED when the
        token expires (unless `watch_expiry` is False: the connection closes at
        expiry instead, graphql_app/http/websocket.py), or at once when it is
        revoked, on any instance (TOKEN_REVOKED): a revocation wakes the
        subscription, events or not. An event that arrives after either is never
        delivered.
        """
        self.check_live(caller)
        stream = await self.deps.events.subscribe(caller.user_id)
        return self._watch(caller, stream, watch_expiry)

    async def _watch(
        self, caller: AccessClaims, stream: EventStream, watch_expiry: bool
    ) -> AsyncGenerator[TodoEvent, None]:
        revocations = self.deps.revocations
        revoked = revocations.waiter(caller.user_id)
        try:
            while True:
                timeout = self.identity.seconds_until(caller.expires_at) if watch_expiry else None
                try:
                    async with asyncio.timeout(timeout):
                        event = await _next_event(stream, revoked)
                except TimeoutError:
                    self.check_live(caller)
                    continue  # the clock disagreed with the timer: wait again
                if event is _ENDED:
                    return
                self.check_live(caller)
                if event is None:
                    continue  # a revocation older than this subscription's token
                yield event
        finally:
            revocations.forget_waiter(caller.user_id, revoked)
            await stream.aclose()


async def _next_event(stream: EventStream, revoked: asyncio.Event) -> TodoEvent | None:
    """The stream's next event; None when a revocation of the user came first (the
    caller checks whether it covers this token)."""
    if revoked.is_set():
        revoked.clear()
        return None
    getter = asyncio.ensure_future(anext(stream, _ENDED))
    waker = asyncio.ensure_future(revoked.wait())
    try:
        done, _ = await asyncio.wait((getter, waker), return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Cancelling a wait for the next event loses no event (EventStream).
        for task in (getter, waker):
            if not task.done():
                task.cancel()
    if getter in done:
        return getter.result()  # the event, _ENDED, or the bus's error
    revoked.clear()
    return None
