"""The storage contract (graphql_app/storage/base.py), once, for every backend.

Each test gets a fresh, migrated, private backend from the `storage` fixture,
parametrised over the backends chosen with `--backends` / TEST_BACKENDS. The
tests use only the Protocol, so they run unchanged on SQLite, PostgreSQL and
Fauna. Times are ones the tests make: distinct, increasing, UTC, with
microseconds.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from graphql_app.errors import EmailTaken, ServiceUnavailable, UserGone
from graphql_app.models import (
    NewSession,
    Page,
    Position,
    RotateOutcome,
    Todo,
    TodoCounts,
    User,
)
from graphql_app.storage import Storage
from tests.support.backends import unreachable_factory

START = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)

ROTATED = RotateOutcome.ROTATED
REUSED = RotateOutcome.REUSED
INVALID = RotateOutcome.INVALID


class Ticks:
    """Distinct, increasing moments: each call is one second and one µs later."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1, microseconds=1)
        return self.now


@pytest.fixture
def tick() -> Ticks:
    return Ticks()


def new_session(expires_at: datetime, family_id: str | None = None) -> NewSession:
    return NewSession(
        family_id=family_id or uuid.uuid4().hex,
        token_hash=secrets.token_hex(32),
        expires_at=expires_at,
    )


async def sign_up(storage: Storage, tick: Ticks, name: str = "ada") -> tuple[User, NewSession]:
    now = tick()
    session = new_session(now + DAY)
    user = await storage.create_user(
        f"{name}@example.com", name.title(), f"hash-{name}", session, now
    )
    return user, session


async def add_todos(
    storage: Storage, user: User, tick: Ticks, count: int, *, completed_every: int = 0
) -> list[Todo]:
    """`count` todos, oldest first; every `completed_every`-th one completed."""
    todos = []
    for i in range(count):
        done = completed_every > 0 and i % completed_every == 0
        todos.append(await storage.create_todo(user.id, f"todo {i}", done, tick()))
    return todos


def newest_first(todos: list[Todo]) -> list[Todo]:
    return sorted(todos, key=lambda t: (t.created_at, t.id), reverse=True)


async def walk(
    storage: Storage, user_id: str, first: int, is_completed: bool | None = None
) -> list[Page]:
    """Every page of a list, following each page's last todo."""
    pages = [await storage.list_todos(user_id, first, None, is_completed)]
    while pages[-1].has_next_page:
        last = pages[-1].todos[-1]
        after = Position(last.created_at, last.id)
        pages.append(await storage.list_todos(user_id, first, after, is_completed))
    return pages


async def walk_back(
    storage: Storage, user_id: str, last: int, is_completed: bool | None = None
) -> list[Page]:
    """Every page of a list from its end, following each page's first todo."""
    pages = [await storage.list_todos_before(user_id, last, None, is_completed)]
    while pages[-1].has_previous_page:
        first = pages[-1].todos[0]
        before = Position(first.created_at, first.id)
        pages.append(await storage.list_todos_before(user_id, last, before, is_completed))
    return pages


async def is_live(storage: Storage, session: NewSession, now: datetime) -> bool:
    """Whether the token still rotates (which uses it up)."""
    result = await storage.rotate_session(session.token_hash, new_session(now + DAY), now)
    return result.outcome is ROTATED


# -- lifecycle ------------------------------------------------------------------


async def test_migrate_is_idempotent_and_keeps_rows(storage: Storage, tick: Ticks) -> None:
    user, _ = await sign_up(storage, tick)
    await storage.migrate()
    await storage.migrate()
    assert await storage.get_users([user.id]) == [user]


async def test_ping_asks_storage_and_fails_when_it_does_not_answer(
    storage: Storage, backend: str, tmp_path: Path
) -> None:
    before = storage.round_trips
    await storage.ping()
    assert storage.round_trips == before + 1  # it asked the database, once
    async with unreachable_factory(backend)(tmp_path) as unreachable:
        with pytest.raises(ServiceUnavailable):
            await unreachable.ping()


# -- users ----------------------------------------------------------------------


async def test_create_user_stores_the_user(storage: Storage, tick: Ticks) -> None:
    now = tick()
    user = await storage.create_user(
        "ada@example.com", "Ada Lovelace", "hash", new_session(now + DAY), now
    )
    assert isinstance(user.id, str)
    assert user.id
    assert (user.email, user.fullname, user.password_hash, user.created_at) == (
        "ada@example.com",
        "Ada Lovelace",
        "hash",
        now,
    )
    assert await storage.get_users([user.id]) == [user]
    assert await storage.get_user_by_email("ada@example.com") == user


async def test_get_users_keeps_order_with_none_for_missing(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    bob, _ = await sign_up(storage, tick, "bob")
    missing = uuid.uuid4().hex
    assert await storage.get_users([bob.id, missing, ada.id, bob.id]) == [bob, None, ada, bob]
    assert await storage.get_users([]) == []


async def test_get_user_by_unknown_email_is_none(storage: Storage, tick: Ticks) -> None:
    await sign_up(storage, tick, "ada")
    assert await storage.get_user_by_email("bob@example.com") is None


async def test_duplicate_email_is_email_taken_and_stores_nothing(
    storage: Storage, tick: Ticks
) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    now = tick()
    second = new_session(now + DAY)
    with pytest.raises(EmailTaken):
        await storage.create_user("ada@example.com", "Other", "other-hash", second, now)
    assert await storage.get_user_by_email("ada@example.com") == ada
    # The refused sign-up's refresh token was not kept either.
    assert (
        await storage.rotate_session(second.token_hash, new_session(now + DAY), tick())
    ).outcome is INVALID


async def test_concurrent_sign_ups_with_one_email_one_wins(storage: Storage, tick: Ticks) -> None:
    now = tick()
    results = await asyncio.gather(
        *(
            storage.create_user(
                "race@example.com", f"Racer {i}", "hash", new_session(now + DAY), now
            )
            for i in range(20)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, User)]
    assert len(winners) == 1
    assert all(isinstance(r, EmailTaken) for r in results if r is not winners[0])
    assert await storage.get_user_by_email("race@example.com") == winners[0]


async def test_create_user_is_atomic(storage: Storage, tick: Ticks) -> None:
    _, taken = await sign_up(storage, tick, "ada")
    now = tick()
    clash = NewSession(uuid.uuid4().hex, taken.token_hash, now + DAY)
    # The contract names no error for a token hash clash; what matters is that
    # the user row written before it does not survive.
    with pytest.raises(Exception):  # noqa: B017, PT011
        await storage.create_user("bob@example.com", "Bob", "hash", clash, now)
    assert await storage.get_user_by_email("bob@example.com") is None
    bob, _ = await sign_up(storage, tick, "bob")
    assert bob.email == "bob@example.com"


async def test_set_password_replaces_hash_and_revokes_every_session(
    storage: Storage, tick: Ticks
) -> None:
    ada, first = await sign_up(storage, tick, "ada")
    second = new_session(tick() + DAY)
    await storage.create_session(ada.id, second, tick())
    bob, bobs = await sign_up(storage, tick, "bob")

    assert await storage.set_password(ada.id, "new-hash", tick()) is True

    (changed,) = await storage.get_users([ada.id])
    assert changed == User(ada.id, ada.email, ada.fullname, "new-hash", ada.created_at)
    now = tick()
    assert not await is_live(storage, first, now)
    assert not await is_live(storage, second, now)
    assert await storage.revoke_session(first.token_hash, now) is False
    # Nobody else's.
    assert await storage.get_users([bob.id]) == [bob]
    assert await is_live(storage, bobs, now)


async def test_set_password_of_missing_user_is_false(storage: Storage, tick: Ticks) -> None:
    assert await storage.set_password(uuid.uuid4().hex, "hash", tick()) is False


async def test_delete_user_takes_its_todos_and_sessions(storage: Storage, tick: Ticks) -> None:
    ada, session = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 3)
    bob, bobs = await sign_up(storage, tick, "bob")
    bobs_todos = await add_todos(storage, bob, tick, 2)

    assert await storage.delete_user(ada.id) is True

    assert await storage.get_users([ada.id]) == [None]
    assert await storage.get_user_by_email(ada.email) is None
    assert await storage.get_todos(ada.id, [t.id for t in todos]) == [None] * 3
    page = await storage.list_todos(ada.id, 10, None, None)
    assert (page.todos, page.total_count) == ([], 0)
    now = tick()
    assert (
        await storage.rotate_session(session.token_hash, new_session(now + DAY), now)
    ).outcome is INVALID
    assert await storage.delete_user(ada.id) is False
    # The email is free again; Bob is untouched.
    again, _ = await sign_up(storage, tick, "ada")
    assert again.id != ada.id
    assert await storage.get_todos(bob.id, [t.id for t in bobs_todos]) == bobs_todos
    assert await is_live(storage, bobs, tick())


async def test_delete_missing_user_is_false(storage: Storage) -> None:
    assert await storage.delete_user(uuid.uuid4().hex) is False


# -- access-token revocations ---------------------------------------------------


async def test_revoke_tokens_records_the_time_and_revokes_every_session(
    storage: Storage, tick: Ticks
) -> None:
    ada, first = await sign_up(storage, tick, "ada")
    second = new_session(tick() + DAY)
    await storage.create_session(ada.id, second, tick())
    _, bobs = await sign_up(storage, tick, "bob")
    start = tick()
    at = tick()

    await storage.revoke_tokens(ada.id, at, keep_since=start)

    assert await storage.recent_revocations(start) == [(ada.id, at)]
    assert await storage.recent_revocations(at) == [(ada.id, at)]  # at or after
    assert await storage.recent_revocations(at + MICROSECOND) == []
    now = tick()
    assert not await is_live(storage, first, now)
    assert not await is_live(storage, second, now)
    assert await is_live(storage, bobs, now)  # nobody else's
    assert await storage.get_users([ada.id]) == [ada]  # the account itself stays


async def test_revocations_outlive_the_account_and_expire_with_keep_since(
    storage: Storage, tick: Ticks
) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    first = tick()
    await storage.revoke_tokens(ada.id, first, keep_since=first - DAY)
    assert await storage.delete_user(ada.id) is True
    gone = uuid.uuid4().hex  # no such user: recorded all the same
    second = tick()
    await storage.revoke_tokens(gone, second, keep_since=first)
    assert sorted(await storage.recent_revocations(first - DAY)) == sorted(
        [(ada.id, first), (gone, second)]
    )
    # A later revocation forgets those older than its keep_since, and only those.
    third = tick()
    await storage.revoke_tokens(gone, third, keep_since=second)
    assert sorted(await storage.recent_revocations(first - DAY)) == [(gone, second), (gone, third)]


# -- sessions -------------------------------------------------------------------


async def test_create_session_for_an_existing_user(storage: Storage, tick: Ticks) -> None:
    ada, first = await sign_up(storage, tick, "ada")
    second = new_session(tick() + DAY)
    await storage.create_session(ada.id, second, tick())
    now = tick()
    for session in (second, first):
        result = await storage.rotate_session(session.token_hash, new_session(now + DAY), now)
        assert (result.outcome, result.user_id) == (ROTATED, ada.id)


async def test_create_session_for_missing_user_is_user_gone(storage: Storage, tick: Ticks) -> None:
    with pytest.raises(UserGone):
        await storage.create_session(uuid.uuid4().hex, new_session(tick() + DAY), tick())
    ada, _ = await sign_up(storage, tick, "ada")
    await storage.delete_user(ada.id)
    orphan = new_session(tick() + DAY)
    with pytest.raises(UserGone):
        await storage.create_session(ada.id, orphan, tick())
    now = tick()
    assert (
        await storage.rotate_session(orphan.token_hash, new_session(now + DAY), now)
    ).outcome is INVALID


async def test_create_session_with_a_taken_token_hash_changes_nothing(
    storage: Storage, tick: Ticks
) -> None:
    ada, taken = await sign_up(storage, tick, "ada")
    clash = NewSession(uuid.uuid4().hex, taken.token_hash, tick() + 2 * DAY)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the contract names no error here
        await storage.create_session(ada.id, clash, tick())
    assert await is_live(storage, taken, tick())


async def test_rotation_trades_a_live_token_for_its_successor(
    storage: Storage, tick: Ticks
) -> None:
    ada, first = await sign_up(storage, tick, "ada")
    now = tick()
    second = new_session(now + DAY, family_id="ignored: the successor joins the token's family")
    result = await storage.rotate_session(first.token_hash, second, now)
    assert (result.outcome, result.user_id) == (ROTATED, ada.id)

    now = tick()
    third = new_session(now + DAY)
    result = await storage.rotate_session(second.token_hash, third, now)
    assert (result.outcome, result.user_id) == (ROTATED, ada.id)
    # A rotated token is used up: it can neither be revoked nor rotated again
    # without that counting as reuse.
    assert await storage.revoke_session(second.token_hash, tick()) is False


async def test_reusing_a_rotated_token_revokes_its_family_only(
    storage: Storage, tick: Ticks
) -> None:
    ada, first = await sign_up(storage, tick, "ada")
    other_login = new_session(tick() + DAY)
    await storage.create_session(ada.id, other_login, tick())
    now = tick()
    successor = new_session(now + DAY)
    assert (await storage.rotate_session(first.token_hash, successor, now)).outcome is ROTATED

    now = tick()
    reuse = await storage.rotate_session(first.token_hash, new_session(now + DAY), now)
    assert (reuse.outcome, reuse.user_id) == (REUSED, ada.id)

    now = tick()
    # The successor no longer rotates, and the replay stored nothing.
    assert (
        await storage.rotate_session(successor.token_hash, new_session(now + DAY), now)
    ).outcome is INVALID
    assert await storage.revoke_session(successor.token_hash, now) is False
    # The same user's other login is another family: still live.
    assert await is_live(storage, other_login, tick())


async def test_concurrent_rotations_of_one_token(storage: Storage, tick: Ticks) -> None:
    ada, first = await sign_up(storage, tick, "ada")
    now = tick()
    successors = [new_session(now + DAY), new_session(now + DAY)]
    results = await asyncio.gather(
        *(storage.rotate_session(first.token_hash, s, now) for s in successors)
    )
    assert sorted(r.outcome.value for r in results) == ["reused", "rotated"]
    assert {r.user_id for r in results} == {ada.id}
    # Whichever won, the reuse revoked the family, its successor included.
    later = tick()
    for successor in successors:
        assert (
            await storage.rotate_session(successor.token_hash, new_session(later + DAY), later)
        ).outcome is INVALID


async def test_expired_token_is_invalid_and_changes_nothing(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    expires_at = tick() + timedelta(minutes=5)
    short = new_session(expires_at)
    await storage.create_session(ada.id, short, tick())

    successor = new_session(expires_at + DAY)
    result = await storage.rotate_session(short.token_hash, successor, expires_at)
    assert (result.outcome, result.user_id) == (INVALID, None)
    # Nothing stored for the successor, and the token stays expired but not "rotated".
    later = expires_at + MICROSECOND
    assert (
        await storage.rotate_session(successor.token_hash, new_session(later + DAY), later)
    ).outcome is INVALID
    assert (
        await storage.rotate_session(short.token_hash, new_session(later + DAY), later)
    ).outcome is INVALID
    assert await storage.revoke_session(short.token_hash, later) is False


async def test_a_token_lives_until_its_expiry_to_the_microsecond(
    storage: Storage, tick: Ticks
) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    expires_at = tick() + timedelta(minutes=5)
    session = new_session(expires_at)
    await storage.create_session(ada.id, session, tick())
    just_before = expires_at - MICROSECOND
    result = await storage.rotate_session(
        session.token_hash, new_session(expires_at + DAY), just_before
    )
    assert result.outcome is ROTATED


async def test_unknown_and_revoked_tokens_are_invalid(storage: Storage, tick: Ticks) -> None:
    _, session = await sign_up(storage, tick, "ada")
    now = tick()
    unknown = await storage.rotate_session(secrets.token_hex(32), new_session(now + DAY), now)
    assert (unknown.outcome, unknown.user_id) == (INVALID, None)

    assert await storage.revoke_session(session.token_hash, tick()) is True
    now = tick()
    successor = new_session(now + DAY)
    assert (await storage.rotate_session(session.token_hash, successor, now)).outcome is INVALID
    assert (
        await storage.rotate_session(successor.token_hash, new_session(now + DAY), tick())
    ).outcome is INVALID


async def test_rotation_is_atomic(storage: Storage, tick: Ticks) -> None:
    ada, first = await sign_up(storage, tick, "ada")
    _, taken = await sign_up(storage, tick, "bob")
    now = tick()
    clash = NewSession(uuid.uuid4().hex, taken.token_hash, now + DAY)
    # The successor cannot be stored, so the token must not be marked rotated.
    with pytest.raises(Exception):  # noqa: B017, PT011 - the contract names no error here
        await storage.rotate_session(first.token_hash, clash, now)
    result = await storage.rotate_session(first.token_hash, new_session(now + DAY), tick())
    assert (result.outcome, result.user_id) == (ROTATED, ada.id)


async def test_revoke_session_revokes_one_live_token(storage: Storage, tick: Ticks) -> None:
    ada, session = await sign_up(storage, tick, "ada")
    sibling = new_session(tick() + DAY)
    await storage.create_session(ada.id, sibling, tick())

    assert await storage.revoke_session(session.token_hash, tick()) is True
    assert await storage.revoke_session(session.token_hash, tick()) is False
    assert not await is_live(storage, session, tick())
    assert await storage.revoke_session(secrets.token_hex(32), tick()) is False
    assert await is_live(storage, sibling, tick())


async def test_revoking_an_expired_token_is_false(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    expires_at = tick() + timedelta(minutes=1)
    session = new_session(expires_at)
    await storage.create_session(ada.id, session, tick())
    assert await storage.revoke_session(session.token_hash, expires_at) is False


# -- todos ----------------------------------------------------------------------


async def test_create_todo_stores_the_todo(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    now = tick()
    todo = await storage.create_todo(ada.id, "Buy milk", False, now)
    assert isinstance(todo.id, str)
    assert todo.id
    assert (todo.user_id, todo.name, todo.is_completed, todo.created_at, todo.updated_at) == (
        ada.id,
        "Buy milk",
        False,
        now,
        now,
    )
    done = await storage.create_todo(ada.id, "Write tests", True, tick())
    assert done.is_completed is True
    assert await storage.get_todos(ada.id, [todo.id, done.id]) == [todo, done]


async def test_create_todo_for_missing_user_is_user_gone(storage: Storage, tick: Ticks) -> None:
    with pytest.raises(UserGone):
        await storage.create_todo(uuid.uuid4().hex, "orphan", False, tick())
    ada, _ = await sign_up(storage, tick, "ada")
    await storage.delete_user(ada.id)
    with pytest.raises(UserGone):
        await storage.create_todo(ada.id, "orphan", False, tick())
    page = await storage.list_todos(ada.id, 10, None, None)
    assert page.total_count == 0


async def test_get_todos_keeps_order_with_none_for_missing(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    a, b = await add_todos(storage, ada, tick, 2)
    missing = uuid.uuid4().hex
    assert await storage.get_todos(ada.id, [b.id, missing, a.id, b.id]) == [b, None, a, b]
    assert await storage.get_todos(ada.id, []) == []


async def test_update_todo_changes_the_given_fields_only(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    (todo,) = await add_todos(storage, ada, tick, 1)

    now = tick()
    renamed = await storage.update_todo(ada.id, todo.id, "Renamed", None, now)
    assert renamed == Todo(todo.id, ada.id, "Renamed", False, todo.created_at, now)

    now = tick()
    done = await storage.update_todo(ada.id, todo.id, None, True, now)
    assert done == Todo(todo.id, ada.id, "Renamed", True, todo.created_at, now)

    now = tick()
    both = await storage.update_todo(ada.id, todo.id, "Both", False, now)
    assert both == Todo(todo.id, ada.id, "Both", False, todo.created_at, now)

    now = tick()
    touched = await storage.update_todo(ada.id, todo.id, None, None, now)
    assert touched == Todo(todo.id, ada.id, "Both", False, todo.created_at, now)
    assert await storage.get_todos(ada.id, [todo.id]) == [touched]


async def test_update_missing_todo_is_none(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    assert await storage.update_todo(ada.id, uuid.uuid4().hex, "x", True, tick()) is None


async def test_delete_todo(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    keep, gone = await add_todos(storage, ada, tick, 2)
    assert await storage.delete_todo(ada.id, gone.id) is True
    assert await storage.delete_todo(ada.id, gone.id) is False
    assert await storage.get_todos(ada.id, [keep.id, gone.id]) == [keep, None]
    assert (await storage.list_todos(ada.id, 10, None, None)).todos == [keep]


async def test_set_all_completed_changes_every_other_todo_and_counts_them(
    storage: Storage, tick: Ticks
) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 5, completed_every=2)  # 0, 2, 4 done
    now = tick()

    assert await storage.set_all_completed(ada.id, True, now) == 2

    current = await storage.get_todos(ada.id, [t.id for t in todos])
    assert current == [
        t if t.is_completed else Todo(t.id, ada.id, t.name, True, t.created_at, now) for t in todos
    ]  # those already done kept their updated_at
    assert await storage.set_all_completed(ada.id, True, tick()) == 0

    now = tick()
    assert await storage.set_all_completed(ada.id, False, now) == 5
    current = await storage.get_todos(ada.id, [t.id for t in todos])
    assert all(t is not None and not t.is_completed and t.updated_at == now for t in current)


async def test_clear_completed_deletes_them_and_counts_them(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 5, completed_every=2)

    assert await storage.clear_completed(ada.id) == 3

    left = await storage.list_todos(ada.id, 10, None, None)
    assert left.todos == newest_first([t for t in todos if not t.is_completed])
    assert left.total_count == 2
    assert await storage.clear_completed(ada.id) == 0


# -- counters ---------------------------------------------------------------------


async def real_counts(storage: Storage, user_id: str) -> TodoCounts:
    """The user's todos counted one by one, by walking the list without counters."""
    todos: list[Todo] = []
    after = None
    while True:
        page = await storage.list_todos(user_id, 100, after, None, with_count=False)
        assert page.total_count is None
        todos += page.todos
        if not page.has_next_page:
            return TodoCounts(len(todos), sum(t.is_completed for t in todos))
        after = Position(page.todos[-1].created_at, page.todos[-1].id)


async def assert_counters_true(storage: Storage, *users: User) -> None:
    """The counters, and every filter's totalCount, equal a real count."""
    counters = await storage.count_todos([u.id for u in users])
    for user, counted in zip(users, counters, strict=True):
        real = await real_counts(storage, user.id)
        assert counted == real, user.email
        for is_completed in (None, True, False):
            page = await storage.list_todos(user.id, 1, None, is_completed)
            assert page.total_count == real.of(is_completed), (user.email, is_completed)


async def test_counters_follow_every_kind_of_write(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    bob, _ = await sign_up(storage, tick, "bob")
    await assert_counters_true(storage, ada, bob)
    assert await storage.count_todos([ada.id]) == [TodoCounts(0, 0)]

    todos = await add_todos(storage, ada, tick, 6, completed_every=3)  # 0, 3 done
    await add_todos(storage, bob, tick, 2, completed_every=1)
    await assert_counters_true(storage, ada, bob)
    assert await storage.count_todos([ada.id]) == [TodoCounts(6, 2)]

    steps: list[Awaitable[object]] = [
        storage.update_todo(ada.id, todos[1].id, None, True, tick()),  # open -> done
        storage.update_todo(ada.id, todos[0].id, None, False, tick()),  # done -> open
        storage.update_todo(ada.id, todos[3].id, None, True, tick()),  # done -> done
        storage.update_todo(ada.id, todos[2].id, "renamed", None, tick()),  # name only
        storage.update_todo(bob.id, todos[2].id, None, True, tick()),  # not bob's
        storage.delete_todo(ada.id, todos[3].id),  # a done one
        storage.delete_todo(ada.id, todos[4].id),  # an open one
        storage.delete_todo(bob.id, todos[5].id),  # not bob's
        storage.create_todo(ada.id, "new, done", True, tick()),
        storage.set_all_completed(ada.id, True, tick()),
        storage.set_all_completed(ada.id, True, tick()),  # nothing left to change
        storage.update_todo(ada.id, todos[1].id, None, False, tick()),
        storage.clear_completed(ada.id),
        storage.clear_completed(ada.id),  # nothing left to clear
        storage.set_all_completed(ada.id, False, tick()),
        storage.create_todo(ada.id, "new, open", False, tick()),
        storage.set_all_completed(ada.id, True, tick()),
    ]
    for step in steps:
        await step
        await assert_counters_true(storage, ada, bob)

    assert await storage.delete_user(ada.id)
    assert await storage.count_todos([ada.id, bob.id]) == [TodoCounts(0, 0), TodoCounts(2, 2)]
    await assert_counters_true(storage, bob)


async def test_counters_stay_true_under_concurrent_writes(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 12, completed_every=2)
    writes: list[Awaitable[object]] = []
    for round_ in range(3):
        writes += [
            storage.create_todo(ada.id, f"c{round_}{i}", i % 2 == 0, tick()) for i in range(4)
        ]
        # The same todo toggled and deleted by racing writes.
        writes += [
            storage.update_todo(ada.id, todos[round_].id, None, i % 2 == 0, tick())
            for i in range(4)
        ]
        writes += [storage.delete_todo(ada.id, todos[round_ + 3].id) for _ in range(2)]
        writes += [
            storage.set_all_completed(ada.id, round_ % 2 == 0, tick()),
            storage.clear_completed(ada.id),
            storage.update_todo(ada.id, todos[6 + round_].id, None, True, tick()),
        ]
    await asyncio.gather(*writes)
    await assert_counters_true(storage, ada)


async def test_recount_keeps_the_counters_true(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    bob, _ = await sign_up(storage, tick, "bob")
    await add_todos(storage, ada, tick, 5, completed_every=2)
    assert await storage.recount_todos() == 2
    await assert_counters_true(storage, ada, bob)
    await storage.create_todo(bob.id, "after the recount", True, tick())
    await assert_counters_true(storage, ada, bob)


async def test_count_todos_keeps_order_with_zeros_for_missing(
    storage: Storage, tick: Ticks
) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    await add_todos(storage, ada, tick, 3, completed_every=3)
    missing = uuid.uuid4().hex
    assert await storage.count_todos([missing, ada.id, ada.id]) == [
        TodoCounts(),
        TodoCounts(3, 1),
        TodoCounts(3, 1),
    ]


async def test_a_page_without_its_count(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 3)
    page = await storage.list_todos(ada.id, 2, None, None, with_count=False)
    assert page == Page(newest_first(todos)[:2], None, has_next_page=True, has_previous_page=False)


# -- lists ----------------------------------------------------------------------


async def test_list_is_newest_first_then_by_id(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 2)
    same_moment = tick()
    tied = [
        await storage.create_todo(ada.id, f"tied {i}", i % 2 == 0, same_moment) for i in range(5)
    ]
    todos += tied + await add_todos(storage, ada, tick, 2)

    page = await storage.list_todos(ada.id, 50, None, None)
    assert page.todos == newest_first(todos)
    assert (page.total_count, page.has_next_page, page.has_previous_page) == (9, False, False)

    # Walking one todo at a time goes through the tie without skipping or repeating.
    pages = await walk(storage, ada.id, 1)
    assert [p.todos[0] for p in pages] == newest_first(todos)
    assert [p.has_previous_page for p in pages] == [False] + [True] * 8
    assert [p.has_next_page for p in pages] == [True] * 8 + [False]
    assert {p.total_count for p in pages} == {9}

    # And so does walking backward, from the oldest.
    pages = await walk_back(storage, ada.id, 1)
    assert [p.todos[0] for p in pages] == newest_first(todos)[::-1]
    assert [p.has_previous_page for p in pages] == [True] * 8 + [False]
    assert [p.has_next_page for p in pages] == [False] + [True] * 8
    assert {p.total_count for p in pages} == {9}


async def test_pages_walk_every_todo_once(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 7)
    pages = await walk(storage, ada.id, 3)
    assert [len(p.todos) for p in pages] == [3, 3, 1]
    assert [t for p in pages for t in p.todos] == newest_first(todos)
    assert [(p.has_previous_page, p.has_next_page) for p in pages] == [
        (False, True),
        (True, True),
        (True, False),
    ]
    assert {p.total_count for p in pages} == {7}


async def test_backward_pages_walk_every_todo_once(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 7)
    pages = await walk_back(storage, ada.id, 3)
    # The end first: the 3 oldest, then 3 newer, then the newest one; each in list order.
    assert [p.todos for p in pages] == [todos[2::-1], todos[5:2:-1], todos[6:]]
    assert [(p.has_previous_page, p.has_next_page) for p in pages] == [
        (True, False),
        (True, True),
        (False, True),
    ]
    assert {p.total_count for p in pages} == {7}
    # Exactly the start: no previous page.
    start = await storage.list_todos_before(
        ada.id, 1, Position(todos[5].created_at, todos[5].id), None
    )
    assert start == Page([todos[6]], 7, has_next_page=True, has_previous_page=False)
    uncounted = await storage.list_todos_before(ada.id, 3, None, None, with_count=False)
    assert uncounted == Page(todos[2::-1], None, has_next_page=False, has_previous_page=True)


async def test_backward_and_forward_meet(storage: Storage, tick: Ticks) -> None:
    """A cursor from a forward page leads back to the todos before it, and the reverse."""
    ada, _ = await sign_up(storage, tick, "ada")
    ordered = newest_first(await add_todos(storage, ada, tick, 6))
    forward = (await walk(storage, ada.id, 4))[1]  # the last 2
    first = forward.todos[0]
    back = await storage.list_todos_before(ada.id, 10, Position(first.created_at, first.id), None)
    assert back == Page(ordered[:4], 6, has_next_page=True, has_previous_page=False)
    last = back.todos[-1]
    again = await storage.list_todos(ada.id, 10, Position(last.created_at, last.id), None)
    assert again.todos == forward.todos


async def test_a_page_ending_exactly_at_the_end_has_no_next(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 4)
    pages = await walk(storage, ada.id, 2)
    assert [len(p.todos) for p in pages] == [2, 2]
    assert pages[-1].has_next_page is False
    assert [t for p in pages for t in p.todos] == newest_first(todos)


async def test_cursors_stay_valid_when_todos_change_between_pages(
    storage: Storage, tick: Ticks
) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 8)
    expected = newest_first(todos)

    seen: list[Todo] = []
    page = await storage.list_todos(ada.id, 3, None, None)
    seen += page.todos
    added = deleted = 0
    while page.has_next_page:
        # New todos arrive (newer than every cursor), and the todo the cursor
        # names is deleted: the walk neither repeats nor skips.
        await add_todos(storage, ada, tick, 2)
        added += 2
        last = page.todos[-1]
        assert await storage.delete_todo(ada.id, last.id) is True
        deleted += 1
        page = await storage.list_todos(ada.id, 3, Position(last.created_at, last.id), None)
        seen += page.todos
        assert page.has_previous_page is True
    assert seen == expected
    assert deleted == 2
    assert page.total_count == len(todos) + added - deleted


async def test_backward_cursors_stay_valid_when_todos_are_added_between_fetches(
    storage: Storage, tick: Ticks
) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 8)

    page = await storage.list_todos_before(ada.id, 3, None, None)
    seen = list(page.todos)
    while page.has_previous_page:
        # New todos arrive, newer than every cursor: ahead of a backward walk,
        # which reaches them. The todo the cursor names is deleted: no repeat, no skip.
        todos += await add_todos(storage, ada, tick, 2)
        first = page.todos[0]
        assert await storage.delete_todo(ada.id, first.id) is True
        page = await storage.list_todos_before(
            ada.id, 3, Position(first.created_at, first.id), None
        )
        seen = page.todos + seen
        assert page.has_next_page is True
    assert len(todos) > 8
    assert seen == newest_first(todos)


async def test_backward_pages_with_a_filter(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 7, completed_every=3)  # 0, 3, 6 done
    done = newest_first([t for t in todos if t.is_completed])
    open_ = newest_first([t for t in todos if not t.is_completed])
    for is_completed, expected in ((True, done), (False, open_)):
        pages = await walk_back(storage, ada.id, 2, is_completed)
        assert [t for p in reversed(pages) for t in p.todos] == expected
        assert {p.total_count for p in pages} == {len(expected)}
        assert [p.has_next_page for p in pages] == [False] + [True] * (len(pages) - 1)
    # has_next_page counts only todos the filter keeps: before the oldest
    # completed todo nothing older is open.
    oldest = todos[0]
    assert oldest.is_completed
    page = await storage.list_todos_before(
        ada.id, 50, Position(oldest.created_at, oldest.id), False
    )
    assert page == Page(open_, len(open_), has_next_page=False, has_previous_page=False)
    page = await storage.list_todos_before(ada.id, 1, Position(oldest.created_at, oldest.id), True)
    assert page == Page([todos[3]], 3, has_next_page=True, has_previous_page=True)


async def test_filters_and_their_counts(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 7, completed_every=3)  # 0, 3, 6 done
    done = newest_first([t for t in todos if t.is_completed])
    open_ = newest_first([t for t in todos if not t.is_completed])

    for is_completed, expected in ((True, done), (False, open_)):
        page = await storage.list_todos(ada.id, 50, None, is_completed)
        assert page.todos == expected
        assert (page.total_count, page.has_next_page, page.has_previous_page) == (
            len(expected),
            False,
            False,
        )
        pages = await walk(storage, ada.id, 2, is_completed)
        assert [t for p in pages for t in p.todos] == expected
        assert {p.total_count for p in pages} == {len(expected)}
        assert [p.has_previous_page for p in pages] == [False] + [True] * (len(pages) - 1)

    # has_previous_page counts only todos the filter keeps: after the newest
    # completed todo nothing newer is completed, though newer open ones exist.
    newest_done = done[0]
    assert todos[-1] is newest_done  # todo 6, the newest of all
    after_oldest_open = Position(open_[-1].created_at, open_[-1].id)
    page = await storage.list_todos(ada.id, 50, after_oldest_open, True)
    assert page.todos == [todos[0]]
    assert page.has_previous_page is True
    page = await storage.list_todos(
        ada.id, 50, Position(newest_done.created_at, newest_done.id), False
    )
    assert page.todos == open_
    assert page.has_previous_page is False


async def test_empty_list(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    for is_completed in (None, True, False):
        page = await storage.list_todos(ada.id, 10, None, is_completed)
        assert page == Page(todos=[], total_count=0, has_next_page=False, has_previous_page=False)
    (todo,) = await add_todos(storage, ada, tick, 1)
    # After the only todo: an empty page, whose previous page holds that todo.
    page = await storage.list_todos(ada.id, 10, Position(todo.created_at, todo.id), None)
    assert page == Page(todos=[], total_count=1, has_next_page=False, has_previous_page=True)
    # Backward: nothing before it, and that todo on the next page.
    page = await storage.list_todos_before(ada.id, 10, Position(todo.created_at, todo.id), None)
    assert page == Page(todos=[], total_count=1, has_next_page=True, has_previous_page=False)
    page = await storage.list_todos_before(ada.id, 10, None, True)  # none completed
    assert page == Page(todos=[], total_count=0, has_next_page=False, has_previous_page=False)


@pytest.mark.parametrize(
    "position_id",
    [
        pytest.param("", id="empty"),
        pytest.param("\x00", id="nul"),
        pytest.param("0", id="zero"),
        pytest.param("8", id="middle"),
        pytest.param("zzzz", id="after-hex"),
        pytest.param("\uffff", id="high-code-point"),
        pytest.param("8\x00f", id="nul-inside"),
        pytest.param("not a real id", id="words"),
    ],
)
async def test_a_position_is_a_place_in_the_order_whatever_its_id(
    storage: Storage, tick: Ticks, position_id: str
) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 2)
    same_moment = tick()
    todos += [await storage.create_todo(ada.id, f"tied {i}", False, same_moment) for i in range(6)]
    todos += await add_todos(storage, ada, tick, 2)
    ordered = newest_first(todos)

    for at in (same_moment - MICROSECOND, same_moment, same_moment + MICROSECOND):
        position = Position(at, position_id)
        page = await storage.list_todos(ada.id, 50, position, None)
        older = [t for t in ordered if (t.created_at, t.id) < (at, position_id)]
        assert page.todos == older, (at, position_id)
        assert page.total_count == len(todos)
        at_or_before = [t for t in ordered if (t.created_at, t.id) >= (at, position_id)]
        assert page.has_previous_page == bool(at_or_before)

        back = await storage.list_todos_before(ada.id, 50, position, None)
        newer = [t for t in ordered if (t.created_at, t.id) > (at, position_id)]
        assert back.todos == newer, (at, position_id)
        at_or_after = [t for t in ordered if (t.created_at, t.id) <= (at, position_id)]
        assert (back.has_next_page, back.has_previous_page) == (bool(at_or_after), False)


async def test_a_position_from_another_users_list_pages_through_ones_own(
    storage: Storage, tick: Ticks
) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    bob, _ = await sign_up(storage, tick, "bob")
    adas: list[Todo] = []
    bobs: list[Todo] = []
    for _ in range(4):
        adas += await add_todos(storage, ada, tick, 1)
        bobs += await add_todos(storage, bob, tick, 1)
    middle = bobs[1]
    page = await storage.list_todos(ada.id, 50, Position(middle.created_at, middle.id), None)
    assert page.todos == newest_first([t for t in adas if t.created_at < middle.created_at])
    assert page.total_count == 4
    back = await storage.list_todos_before(ada.id, 50, Position(middle.created_at, middle.id), None)
    assert back.todos == newest_first([t for t in adas if t.created_at > middle.created_at])
    assert back.total_count == 4


async def test_first_beyond_the_count(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    todos = await add_todos(storage, ada, tick, 3)
    page = await storage.list_todos(ada.id, 100, None, None)
    assert page == Page(newest_first(todos), 3, has_next_page=False, has_previous_page=False)
    page = await storage.list_todos_before(ada.id, 100, None, None)
    assert page == Page(newest_first(todos), 3, has_next_page=False, has_previous_page=False)


# -- ownership --------------------------------------------------------------------


async def test_another_users_todos_are_out_of_reach(storage: Storage, tick: Ticks) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    bob, _ = await sign_up(storage, tick, "bob")
    bobs = await add_todos(storage, bob, tick, 3, completed_every=2)
    theirs = bobs[1]

    assert await storage.get_todos(ada.id, [t.id for t in bobs]) == [None] * 3
    assert await storage.update_todo(ada.id, theirs.id, "mine now", True, tick()) is None
    assert await storage.delete_todo(ada.id, theirs.id) is False
    page = await storage.list_todos(ada.id, 50, None, None)
    assert (page.todos, page.total_count) == ([], 0)
    assert await storage.set_all_completed(ada.id, True, tick()) == 0
    assert await storage.set_all_completed(ada.id, False, tick()) == 0
    assert await storage.clear_completed(ada.id) == 0

    # Bob's todos are exactly as they were.
    assert await storage.get_todos(bob.id, [t.id for t in bobs]) == bobs
    assert (await storage.list_todos(bob.id, 50, None, None)).todos == newest_first(bobs)


# -- malformed ids ----------------------------------------------------------------

# Storable text (validation.is_storable) that no id of ours looks like. Text that
# is not storable (NUL, a lone surrogate) never reaches storage: the services
# answer NOT_FOUND for it (tests/test_validation.py, tests/test_relay.py).
MALFORMED_IDS = [
    pytest.param("", id="empty"),
    pytest.param(" ", id="space"),
    pytest.param("0", id="zero"),
    pytest.param("-1", id="negative"),
    pytest.param("123456789012345678", id="numeric"),
    pytest.param("9" * 40, id="numeric-overflow"),
    pytest.param("not-an-id", id="words"),
    pytest.param("x" * 2000, id="long"),
    pytest.param("' OR '1'='1", id="quote"),
    pytest.param("%", id="percent"),
    pytest.param("_", id="underscore"),
    pytest.param("\x01", id="control"),
    pytest.param("ünïcødé ✓ 🎉", id="unicode"),
    pytest.param("00000000-0000-0000-0000-000000000000", id="uuid-text"),
    pytest.param("users/123", id="path"),
]


@pytest.mark.parametrize("bad_id", MALFORMED_IDS)
async def test_malformed_ids_behave_as_missing(storage: Storage, tick: Ticks, bad_id: str) -> None:
    ada, session = await sign_up(storage, tick, "ada")
    (todo,) = await add_todos(storage, ada, tick, 1)
    now = tick()

    for user_id in (bad_id, ada.id + " "):
        assert await storage.get_users([user_id]) == [None]
        assert await storage.get_todos(user_id, [todo.id]) == [None]
        assert await storage.update_todo(user_id, todo.id, "x", True, now) is None
        assert await storage.delete_todo(user_id, todo.id) is False
        assert await storage.list_todos(user_id, 10, None, None) == Page([], 0, False, False)
        assert await storage.list_todos(user_id, 10, None, True) == Page([], 0, False, False)
        empty = Page([], 0, False, False)
        assert await storage.list_todos_before(user_id, 10, None, None) == empty
        assert await storage.set_all_completed(user_id, True, now) == 0
        assert await storage.clear_completed(user_id) == 0
        assert await storage.set_password(user_id, "hash", now) is False
        assert await storage.delete_user(user_id) is False
        with pytest.raises(UserGone):
            await storage.create_todo(user_id, "x", False, now)
        with pytest.raises(UserGone):
            await storage.create_session(user_id, new_session(now + DAY), now)

    for todo_id in (bad_id, todo.id + " "):
        assert await storage.get_todos(ada.id, [todo_id, todo.id]) == [None, todo]
        assert await storage.update_todo(ada.id, todo_id, "x", True, now) is None
        assert await storage.delete_todo(ada.id, todo_id) is False

    assert await storage.get_user_by_email(bad_id) is None
    rotated = await storage.rotate_session(bad_id, new_session(now + DAY), now)
    assert rotated.outcome is INVALID
    assert await storage.revoke_session(bad_id, now) is False

    # Nothing real was touched.
    assert await storage.get_users([ada.id]) == [ada]
    assert await storage.get_todos(ada.id, [todo.id]) == [todo]
    assert await is_live(storage, session, tick())


# -- times ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2001, 9, 9, 1, 46, 40, 999999, tzinfo=UTC),
        datetime(2024, 2, 29, 23, 59, 59, 500001, tzinfo=UTC),
        datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
    ids=str,
)
async def test_times_round_trip_to_the_microsecond(storage: Storage, moment: datetime) -> None:
    user = await storage.create_user(
        "ada@example.com", "Ada", "hash", new_session(moment + DAY), moment
    )
    todo = await storage.create_todo(user.id, "t", False, moment)
    later = moment + MICROSECOND
    updated = await storage.update_todo(user.id, todo.id, None, True, later)

    (stored_user,) = await storage.get_users([user.id])
    (stored_todo,) = await storage.get_todos(user.id, [todo.id])
    page = await storage.list_todos(user.id, 1, None, None)
    assert stored_user is not None
    assert stored_todo is not None
    assert updated is not None
    for value in (stored_user.created_at, stored_todo.created_at, page.todos[0].created_at):
        assert value == moment
        assert value.utcoffset() == timedelta(0)
    assert stored_todo.updated_at == updated.updated_at == later
    # A position one microsecond later or earlier is on the right side of it.
    after_it = await storage.list_todos(user.id, 1, Position(later, ""), None)
    before_it = await storage.list_todos(user.id, 1, Position(moment - MICROSECOND, "f" * 32), None)
    assert (len(after_it.todos), len(before_it.todos)) == (1, 0)


# -- round trips ------------------------------------------------------------------


async def test_round_trips_do_not_grow_with_the_page_or_batch_size(
    storage: Storage, tick: Ticks
) -> None:
    ada, _ = await sign_up(storage, tick, "ada")
    bob, _ = await sign_up(storage, tick, "bob")
    todos = await add_todos(storage, ada, tick, 30, completed_every=2)

    async def cost(call: Awaitable[object]) -> int:
        before = storage.round_trips
        await call
        return storage.round_trips - before

    last = todos[-1]
    small = await cost(storage.list_todos(ada.id, 1, None, None))
    assert small >= 1
    assert await cost(storage.list_todos(ada.id, 100, None, None)) == small
    assert (
        await cost(storage.list_todos(ada.id, 100, Position(last.created_at, last.id), True))
        == small
    )
    assert await cost(storage.list_todos_before(ada.id, 100, None, None)) == small
    assert (
        await cost(
            storage.list_todos_before(ada.id, 100, Position(last.created_at, last.id), False)
        )
        == small
    )
    one = await cost(storage.get_todos(ada.id, [todos[0].id]))
    assert one >= 1
    assert await cost(storage.get_todos(ada.id, [t.id for t in todos])) == one
    assert await cost(storage.get_users([ada.id])) == await cost(
        storage.get_users([ada.id, bob.id])
    )
