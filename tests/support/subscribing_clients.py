"""What the tests of the subscribing client scripts (tests/js) share.

The servers a script runs against, as a (subscribe on, mutate through) pair.
"one server": one real uvicorn process on SQLite, both roles. "two
instances": two real uvicorn processes on one fresh PostgreSQL database and
one Redis (as behind a load balancer), so every event a script receives on
the first was published by the second. The database is dropped and the
Redis keys deleted afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.environment import sqlite_env
from tests.support.live_server import LiveServer, live_server
from tests.support.two_instances import two_instances

ONE_SERVER = "one server"
TWO_INSTANCES = "two instances"
# For a module fixture's `params`: the pair needs PostgreSQL and Redis.
SETUPS = [
    pytest.param(ONE_SERVER, id="one-server"),
    pytest.param(
        TWO_INSTANCES, id="two-instances", marks=[pytest.mark.postgres, pytest.mark.redis]
    ),
]


@contextmanager
def server_pair(setup: str, workdir: Path, **extra: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """(subscribe on, mutate through) for `setup`; `extra` adds environment variables."""
    if setup == ONE_SERVER:
        with live_server(workdir, sqlite_env(workdir, "clients", **extra)) as server:
            yield server, server
        return
    with two_instances(workdir, **extra) as pair:
        yield pair


def assert_the_flow(report: dict[str, Any], email_suffix: str) -> None:
    """What todo_flow.mjs, graphql_sse_client.mjs and the gql flow of
    tests/test_clients_ws.py report, checked the same way."""
    assert report["me"] == report["signedUp"]
    assert report["me"]["email"] == f"client-{email_suffix}@example.com"
    assert report["pages"] == [
        {"names": ["todo 5", "todo 4"], "hasNextPage": True, "totalCount": 5},
        {"names": ["todo 3", "todo 2"], "hasNextPage": True, "totalCount": 5},
        {"names": ["todo 1"], "hasNextPage": False, "totalCount": 5},
    ]
    todo = report["todo"]
    assert report["events"] == [
        {"kind": "CREATED", "todoId": todo["id"], "todo": {**todo, "isCompleted": False}},
        {"kind": "UPDATED", "todoId": todo["id"], "todo": {**todo, "isCompleted": True}},
        {"kind": "DELETED", "todoId": todo["id"], "todo": None},
    ]


def lifecycle(seen: dict[str, Any]) -> list[dict[str, Any]]:
    """The events a script received for its todo, without `__typename`s."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k != "__typename"}
        return value

    return [plain(event) for event in seen["events"]]


def created_updated_deleted(todo_id: str, name: str) -> list[dict[str, Any]]:
    """The events of a todo created, then marked completed, then deleted."""
    return [
        {
            "kind": "CREATED",
            "todoId": todo_id,
            "todo": {"id": todo_id, "name": name, "isCompleted": False},
        },
        {
            "kind": "UPDATED",
            "todoId": todo_id,
            "todo": {"id": todo_id, "name": name, "isCompleted": True},
        },
        {"kind": "DELETED", "todoId": todo_id, "todo": None},
    ]
