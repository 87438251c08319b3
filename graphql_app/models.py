"""Plain frozen records passed between the layers.

Storage returns them, services apply the rules to them, the schema renders
them. None of them knows about GraphQL or SQL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    fullname: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Todo:
    id: str
    user_id: str
    name: str
    is_completed: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a newest-first todo list: what a cursor encodes.

    A position is not tied to a user, so a cursor copied from someone else's
    list only ever pages through the caller's own todos.
    """

    created_at: datetime
    id: str


@dataclass(frozen=True, slots=True)
class Page:
    todos: list[Todo]
    total_count: int | None
    """The filter's count, from the owner's counters; None when it was not asked for."""
    has_next_page: bool
    has_previous_page: bool


@dataclass(frozen=True, slots=True)
class TodoCounts:
    """A user's counters, kept in the same transaction as every todo write."""

    total: int = 0
    completed: int = 0

    def of(self, is_completed: bool | None) -> int:
        """The count of a filter: all (None), completed (True) or active (False)."""
        if is_completed is None:
            return self.total
        return self.completed if is_completed else self.total - self.completed


@dataclass(frozen=True, slots=True)
class NewSession:
    """A refresh token about to be stored: only its hash is ever kept."""

    family_id: str
    token_hash: str
    expires_at: datetime


class RotateOutcome(enum.Enum):
    ROTATED = "rotated"
    """The token was live: it is now used, and its successor is stored."""
    REUSED = "reused"
    """The token had been rotated already: its whole family is now revoked."""
    INVALID = "invalid"
    """Unknown, expired or revoked."""


@dataclass(frozen=True, slots=True)
class RotateResult:
    outcome: RotateOutcome
    user_id: str | None = None


class TodoEventKind(enum.Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    BULK_UPDATED = "BULK_UPDATED"
    """setAllTodosCompleted: every todo matching `matched` now has is_completed = not matched."""
    CLEARED = "CLEARED"
    """clearCompletedTodos: every todo matching `matched` (completed) was deleted."""


@dataclass(frozen=True, slots=True)
class TodoEvent:
    """One change: to one todo, or (BULK_UPDATED, CLEARED) to all todos of a filter.

    A bulk event's todo_id names the change itself, never a todo; `matched` is
    the is_completed its filter matched, `count` how many todos changed and
    `updated_at` the time BULK_UPDATED gave them.
    """

    kind: TodoEventKind
    user_id: str
    todo_id: str
    todo: Todo | None
    matched: bool | None = None
    count: int | None = None
    updated_at: datetime | None = None
