"""Two real uvicorn instances sharing one PostgreSQL database and one Redis.

The client suites run several scripts against the same pair (subscribe on A,
change through B): starting a pair per test would cost most of their time, so
the `instances` fixture (tests/conftest.py) holds one per module. Rate limits
are off here; tests/test_scale_out.py checks they are shared.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.backends import REDIS_URL, redis_key_prefix
from tests.support.environment import server_env
from tests.support.live_server import LiveServer, live_server
from tests.support.postgres_backend import fresh_database


@contextmanager
def two_instances(workdir: Path, **extra: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Instances A (which migrates) and B on a new database and Redis key prefix, both
    dropped afterwards; `extra` adds environment variables. Skips when PostgreSQL or
    Redis is not reachable."""
    with redis_key_prefix() as prefix, fresh_database() as database_url:
        env = server_env(database_url, REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix, **extra)
        with live_server(workdir, env) as a, live_server(workdir, env, run_migrate=False) as b:
            yield a, b
