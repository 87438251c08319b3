"""The storage interface every backend implements, and its contract.

Contract (checked by tests/storage/, run unchanged against every backend):

- Ids are opaque strings made by `new_id` (32 hex digits, whatever the
  backend). Any storable string may be passed as an id: one that is malformed
  or unknown behaves like a row that does not exist.
- Storable text is the one rule of `validation.is_storable` (valid UTF-8, no
  NUL: what PostgreSQL text can hold), checked once, where a client's text
  enters: the services validate names and emails, and answer NOT_FOUND (or
  null) for an id that is not storable without asking storage. No backend
  checks again; text that is not storable is a caller's bug, which PostgreSQL's
  driver refuses (a 500, not a quiet "not found"). Ids a client cannot choose
  (a token's subject, a stored todo's owner, a refresh token's hash) are ours.
  A Position is no id: a cursor may carry any text there, NUL included, and it
  names a place in the order all the same (postgres.py maps it to text that
  sorts alike).
- Times are timezone-aware UTC datetimes with microsecond precision; what is
  written is read back equal.
- Every method is one transaction: it fully happens or not at all.
- Todo methods take the owner's id and never touch another user's rows.
- Lists are newest first: created_at, then id, both descending. A Position
  is a place in that order, not tied to any user. Pages run forward from a
  position (`list_todos`, Relay's first/after) or backward to it
  (`list_todos_before`, last/before), and come back in list order either way.
- ``EmailTaken`` comes from a unique constraint in the database, so it holds
  under concurrent sign-ups. ``UserGone`` when writing for a missing user.
- Unreachable storage raises ``ServiceUnavailable``; the backend recovers by
  itself once storage is back.
- Each user has counters (all todos, completed todos), changed in the same
  transaction as every write that changes what they count, so that a total
  costs one row read whatever the number of todos; `migrate` fills them for
  data written before they existed.
- Work whose size grows with a user's data (bulk updates, deletes, cascades)
  runs as one statement or in bounded batches, never one round trip per row.
- ``round_trips`` counts the statements or queries sent to the database, so
  tests can assert that a request costs a constant number of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from graphql_app.models import NewSession, Page, Position, RotateResult, Todo, TodoCounts, User


class Storage(Protocol):
    round_trips: int

    async def migrate(self) -> None:
        """Bring the schema up to date; idempotent."""

    async def recount_todos(self) -> int:
        """Set every user's counters to a real count of its todos; how many users.

        For after a rolling upgrade, when instances that did not move the
        counters kept writing after `migrate` filled them. A user's count and
        its store are one transaction that todo writes wait for."""

    async def ping(self) -> None:
        """Return when storage answers; raise ServiceUnavailable otherwise."""

    async def close(self) -> None:
        """Release connections and threads."""

    # -- users and sessions -------------------------------------------------

    async def create_user(
        self,
        email: str,
        fullname: str,
        password_hash: str,
        session: NewSession,
        now: datetime,
    ) -> User:
        """Store a user and its first refresh token together; EmailTaken on a duplicate."""

    async def get_users(self, ids: Sequence[str]) -> list[User | None]:
        """The users with these ids, in the same order; None where missing."""

    async def get_user_by_email(self, email: str) -> User | None:
        """The user with exactly this (already normalised) email."""

    async def set_password(self, user_id: str, password_hash: str, now: datetime) -> bool:
        """Replace the hash and revoke every refresh token of the user; False if no such user."""

    async def delete_user(self, user_id: str) -> bool:
        """Delete the user with all its todos and refresh tokens; False if no such user."""

    async def create_session(self, user_id: str, session: NewSession, now: datetime) -> None:
        """Store a refresh token for an existing user; UserGone otherwise."""

    async def rotate_session(
        self, token_hash: str, successor: NewSession, now: datetime
    ) -> RotateResult:
        """Trade a live refresh token for its successor, in the same family.

        A token that was already rotated revokes its whole family (REUSED);
        unknown, expired or revoked tokens change nothing (INVALID).
        """

    async def revoke_session(self, token_hash: str, now: datetime) -> bool:
        """Revoke one live refresh token; False when it was not live."""

    # -- access-token revocations (security/revocations.py) -----------------

    async def revoke_tokens(self, user_id: str, now: datetime, keep_since: datetime) -> None:
        """Record that the user's access tokens issued before `now` are revoked, and
        revoke every refresh token of the user; forget revocations older than
        `keep_since`. The user need not exist (a deleted account's revocation stays)."""

    async def recent_revocations(self, since: datetime) -> list[tuple[str, datetime]]:
        """(user id, revoked at) of every revocation at or after `since`."""

    # -- todos --------------------------------------------------------------

    async def create_todo(self, user_id: str, name: str, is_completed: bool, now: datetime) -> Todo:
        """Store a todo for an existing user; UserGone otherwise."""

    async def get_todos(self, user_id: str, ids: Sequence[str]) -> list[Todo | None]:
        """The user's todos with these ids, in order; None where missing or not theirs."""

    async def update_todo(
        self,
        user_id: str,
        todo_id: str,
        name: str | None,
        is_completed: bool | None,
        now: datetime,
    ) -> Todo | None:
        """Change the given fields (None leaves one as it is); None if not the user's."""

    async def delete_todo(self, user_id: str, todo_id: str) -> bool:
        """Delete one of the user's todos; False if not the user's."""

    async def list_todos(
        self,
        user_id: str,
        first: int,
        after: Position | None,
        is_completed: bool | None,
        *,
        with_count: bool = True,
    ) -> Page:
        """Up to `first` todos strictly after `after`, and the filter's count if `with_count`.

        The count comes from the owner's counters (None when not asked for).
        has_next_page: more todos of the filter follow the page. has_previous_page:
        a todo of the filter sits at or before `after` (the page is not the start).
        """

    async def list_todos_before(
        self,
        user_id: str,
        last: int,
        before: Position | None,
        is_completed: bool | None,
        *,
        with_count: bool = True,
    ) -> Page:
        """The `last` todos strictly before `before` (the end when None), in list order.

        The count as for list_todos. has_previous_page: more todos of the filter
        precede the page. has_next_page: a todo of the filter sits at or after
        `before` (the page is not the end).
        """

    async def count_todos(self, user_ids: Sequence[str]) -> list[TodoCounts]:
        """The counters of these users, in order (zeros for a missing user): one read."""

    async def set_all_completed(self, user_id: str, is_completed: bool, now: datetime) -> int:
        """Set every todo of the user to `is_completed` (updated_at = now); how many changed."""

    async def clear_completed(self, user_id: str) -> int:
        """Delete every completed todo of the user; how many were deleted."""


def new_id() -> str:
    """A new user or todo id: random, so that an id names at most one object of any kind."""
    return uuid.uuid4().hex


def cut_page(
    todos: list[Todo],
    size: int,
    count: int | None,
    beyond: bool,
    *,
    backward: bool,
    with_count: bool,
) -> Page:
    """A Page from up to size+1 todos read in list order from the cursor's side.

    The extra todo says more lie ahead in the reading direction; `beyond` says a
    todo sits at the cursor or behind it (the side the client came from).
    `count` is the owner's counter as read: None for a missing owner, which
    counts 0; the Page has no count unless `with_count`.
    """
    more = len(todos) > size
    total = (count or 0) if with_count else None
    if backward:  # the extra todo, if any, is the newest: the first
        return Page(todos[-size:], total, has_next_page=beyond, has_previous_page=more)
    return Page(todos[:size], total, has_next_page=more, has_previous_page=beyond)
