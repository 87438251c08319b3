"""bcrypt itself, at the real default cost (PRODUCT.md §4)."""

from __future__ import annotations

import asyncio
import errno
import os
import threading

import bcrypt
import pytest

from graphql_app.security.passwords import HASHING_NICENESS, PasswordHasher, password_problem
from graphql_app.settings import Settings
from tests.support.graphql_client import LOG_IN, PASSWORD, GraphQLClient, sign_up


def test_bcrypt_refuses_passwords_over_72_bytes() -> None:
    """Why the 72-byte rule exists: bcrypt 5 raises rather than truncating."""
    with pytest.raises(ValueError, match="72"):
        bcrypt.hashpw(b"x" * 73, bcrypt.gensalt(4))
    assert password_problem("x" * 73) is not None
    assert password_problem("x" * 72) is None


@pytest.mark.slow
async def test_default_cost_is_12_and_hashing_leaves_the_loop_free() -> None:
    rounds = Settings(secret_key="k" * 32).bcrypt_rounds
    assert rounds == 12
    hasher = PasswordHasher(rounds, threads=1)
    try:
        digest_task = asyncio.create_task(hasher.hash("a real password"))
        ticks = 0
        while not digest_task.done():
            await asyncio.sleep(0)
            ticks += 1
        digest = digest_task.result()
        assert digest.startswith("$2b$12$")
        # The loop kept turning while bcrypt ran (on the loop, it could not turn once).
        assert ticks > 100
        assert await hasher.verify("a real password", digest)
        assert not await hasher.verify("another password", digest)
        assert not await hasher.verify("a real password", None)
    finally:
        hasher.close()


async def test_hashing_threads_yield_the_cpu_to_the_event_loop() -> None:
    """bcrypt threads run niced, so a log-in storm does not starve cheap requests."""
    hasher = PasswordHasher(4, threads=1)
    loop = asyncio.get_running_loop()
    try:
        await hasher.hash("warm the pool up")
        own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        worker = await loop.run_in_executor(
            hasher._pool, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )
        assert worker == min(own + HASHING_NICENESS, 19)
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # loop unchanged
    finally:
        hasher.close()


async def test_closing_never_waits_for_bcrypt_and_drops_the_queued_checks() -> None:
    """At shutdown, close() returns while a check still runs and cancels those queued behind it.

    No stopwatch: the pool's one thread is held by a job the test releases, two
    hashes queue behind it; right after close() the job still runs and the two
    were cancelled. Mutants graphql_app.security.passwords.xǁPasswordHasherǁclose__mutmut_3
    and 5 (close() waits for the running job) and 2, 4 and 6 (queued hashes still run).
    """
    hasher = PasswordHasher(4, threads=1)
    loop = asyncio.get_running_loop()
    started, release = threading.Event(), threading.Event()

    def hold_the_thread() -> None:
        started.set()
        release.wait(5)

    running = loop.run_in_executor(hasher._pool, hold_the_thread)
    for _ in range(5000):
        if started.is_set():
            break
        await asyncio.sleep(0.001)
    queued = [asyncio.create_task(hasher.hash(f"password {n}")) for n in range(2)]
    await asyncio.sleep(0)  # both hand their hash to the pool
    hasher.close()
    for _ in range(5):
        await asyncio.sleep(0)
    try:
        assert not running.done()
        assert all(task.cancelled() for task in queued)
    finally:
        release.set()
        await running
        await asyncio.gather(*queued, return_exceptions=True)


def _refuse_priority_changes(*_: object) -> None:
    raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))


@pytest.mark.parametrize("platform", ["no per-thread priority", "priority change refused"])
async def test_accounts_work_where_hashing_threads_cannot_be_niced(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    """Not Linux (os.getpriority is missing), or a sandbox that refuses setpriority: the
    hashing threads keep their priority, and signing up and logging in work as anywhere.
    Mutants graphql_app.security.passwords.x_lower_thread_priority__mutmut_1, 2, 3 and 4
    (the pool's threads failed to start: every sign-up and log-in failed)."""
    if platform == "no per-thread priority":
        monkeypatch.delattr(os, "getpriority")
    else:
        monkeypatch.setattr(os, "setpriority", _refuse_priority_changes)
    ada = await sign_up(gql, "unniced@example.com")  # the pool's first thread starts here
    logged_in = await gql(LOG_IN, {"input": {"email": "unniced@example.com", "password": PASSWORD}})
    assert logged_in.ok()["logIn"]["user"]["id"] == ada.id
