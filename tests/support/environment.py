"""The test secret, and the one environment every test server starts from."""

from __future__ import annotations

from pathlib import Path

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """A test server's environment: `database_url`, the test key, cheap bcrypt, rate
    limits off; `extra` adds or overrides variables."""
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "AUTH_RATE_LIMIT": "",
        "LOGIN_ACCOUNT_RATE_LIMIT": "",
        **extra,
    }


def sqlite_env(workdir: Path, name: str, **extra: str) -> dict[str, str]:
    """server_env on a SQLite file of its own, `workdir/name.db`."""
    return server_env(f"sqlite:///{workdir}/{name}.db", **extra)
