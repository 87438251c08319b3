"""SIGTERM with SHUTDOWN_DRAIN_SECONDS: readiness fails first, requests are still served,
then the instance stops as before (a real `python -m graphql_app serve`)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.environment import sqlite_env
from tests.support.live_server import live_server

pytestmark = pytest.mark.slow

DRAIN = 3.0


def wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.05)


def test_readiness_fails_before_the_listener_closes(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path, "drain", SHUTDOWN_DRAIN_SECONDS=str(DRAIN))
    with live_server(tmp_path, env) as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        server.process.send_signal(signal.SIGTERM)
        wait_for(lambda: httpx.get(f"{server.url}/readyz").status_code == 503, timeout=DRAIN)
        assert httpx.get(f"{server.url}/readyz").json() == {"status": "draining"}
        # Still serving: a proxy that has not noticed yet loses nothing.
        answer = httpx.post(f"{server.url}/graphql", json={"query": "{ __typename }"})
        assert answer.status_code == 200 and answer.json() == {"data": {"__typename": "Query"}}
        assert server.process.wait(timeout=DRAIN + 15) == 0
    assert "SIGTERM: not ready" in server.log()


def test_a_second_sigterm_stops_at_once(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path, "drain2", SHUTDOWN_DRAIN_SECONDS="600")
    with live_server(tmp_path, env) as server:
        server.process.send_signal(signal.SIGTERM)
        wait_for(lambda: httpx.get(f"{server.url}/readyz").status_code == 503, timeout=10)
        server.process.send_signal(signal.SIGTERM)
        # Without the second signal it would serve for 600 s more.
        assert server.process.wait(timeout=15) == 0


def test_without_a_drain_period_sigterm_closes_the_listener(tmp_path: Path) -> None:
    with live_server(tmp_path, sqlite_env(tmp_path, "nodrain")) as server:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0
    assert "not ready" not in server.log()
