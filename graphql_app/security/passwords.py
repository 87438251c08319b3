"""bcrypt password hashing, always off the event loop.

bcrypt at cost 12 takes about a third of a second of CPU; on the event loop
it would stall every other request. Checks run in a bounded thread pool
(bcrypt releases the GIL while hashing), whose threads run at a lower CPU
priority: under a log-in storm they still use every idle cycle, but the event
loop (and a local database server) are scheduled first, so cheap requests keep
their latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import bcrypt

MIN_PASSWORD_BYTES = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit: it raises on longer input
HASHING_NICENESS = 10  # added to the thread's nice value (Linux sets it per thread)


def lower_thread_priority() -> None:
    """Make the calling thread yield the CPU to normal-priority work (where supported)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not permitted
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(current + HASHING_NICENESS, 19))


def password_problem(password: str) -> str | None:
    """Why `password` is not acceptable, or None when it is."""
    try:
        size = len(password.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, which JSON can carry
        return "Password must be valid text"
    if size < MIN_PASSWORD_BYTES:
        return f"Password must be at least {MIN_PASSWORD_BYTES} characters"
    if size > MAX_PASSWORD_BYTES:
        return f"Password must be at most {MAX_PASSWORD_BYTES} bytes of UTF-8"
    return None


class PasswordHasher:
    def __init__(self, rounds: int, threads: int) -> None:
        self.rounds = rounds
        self._pool = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="bcrypt", initializer=lower_thread_priority
        )
        # Checked against when the email is unknown, so that costs a real check too.
        self._dummy_hash = bcrypt.hashpw(b"dummy-password", bcrypt.gensalt(rounds))

    async def hash(self, password: str) -> str:
        """bcrypt hash of a password that passed `password_problem`."""
        loop = asyncio.get_running_loop()
        salt = bcrypt.gensalt(self.rounds)
        digest = await loop.run_in_executor(self._pool, bcrypt.hashpw, password.encode(), salt)
        return digest.decode()

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """True when `password` matches; a None hash still costs one full check.

        A password outside the length rules is checked against the dummy hash
        as well, so it answers like any wrong password, in about the same time.
        """
        usable = password_problem(password) is None
        candidate = password.encode() if usable else b"x" * MIN_PASSWORD_BYTES
        stored = password_hash.encode() if password_hash and usable else self._dummy_hash
        loop = asyncio.get_running_loop()
        matches = await loop.run_in_executor(self._pool, bcrypt.checkpw, candidate, stored)
        return matches and usable and password_hash is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
