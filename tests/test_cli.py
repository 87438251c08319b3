"""The command line of PRODUCT.md §8."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graphql_app", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("serve", "migrate", "recount-todos", "export-schema"):
        assert command in result.stdout


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    for _ in range(2):
        result = run(["migrate"], tmp_path, DATABASE_URL=url, SECRET_KEY="k" * 32)
        assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert {"users", "todos", "sessions"} <= tables
    assert versions == sorted(set(versions))


def test_recount_todos_sets_the_counters_to_a_real_count(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    assert run(["migrate"], tmp_path, DATABASE_URL=url, SECRET_KEY="k" * 32).returncode == 0
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        # Counters gone wrong, as writes by an instance that predates them leave them.
        conn.execute("INSERT INTO users VALUES ('u1', 'a@e.com', 'A', 'h', 0, 7, 7)")
        conn.execute("INSERT INTO todos VALUES ('t1', 'u1', 'n', 1, 0, 0)")
        conn.execute("INSERT INTO todos VALUES ('t2', 'u1', 'n', 0, 0, 0)")
    result = run(["recount-todos"], tmp_path, DATABASE_URL=url, SECRET_KEY="k" * 32)
    assert result.returncode == 0, result.stderr
    assert "recounted the todos of 1 users" in result.stdout
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        counts = conn.execute("SELECT todo_count, completed_count FROM users").fetchall()
    assert counts == [(2, 1)]


def test_export_schema_check_fails_when_stale(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    assert run(["export-schema", "--check", "--path", str(target)], tmp_path).returncode == 1
    assert run(["export-schema", "--path", str(target)], tmp_path).returncode == 0
    assert run(["export-schema", "--check", "--path", str(target)], tmp_path).returncode == 0
    target.write_text(target.read_text() + "\n# edited\n")
    assert run(["export-schema", "--check", "--path", str(target)], tmp_path).returncode == 1


def test_log_level_debug_shows_debug_lines(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    quiet = run(["migrate"], tmp_path, DATABASE_URL=url, SECRET_KEY="k" * 32)
    loud = run(["migrate"], tmp_path, DATABASE_URL=url, SECRET_KEY="k" * 32, LOG_LEVEL="debug")
    assert quiet.returncode == loud.returncode == 0, quiet.stderr + loud.stderr
    assert "DEBUG " not in quiet.stderr
    assert "DEBUG asyncio" in loud.stderr  # asyncio names its selector at DEBUG


def test_a_bad_log_level_is_one_line(tmp_path: Path) -> None:
    result = run(["migrate"], tmp_path, SECRET_KEY="k" * 32, LOG_LEVEL="chatty")
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: LOG_LEVEL")
    assert len(result.stderr.strip().splitlines()) == 1


def test_log_level_applies_to_the_served_app(tmp_path: Path) -> None:
    import httpx

    from tests.support.environment import sqlite_env
    from tests.support.live_server import live_server

    query = {"query": "{ __typename }"}
    for level, logged in (("INFO", True), ("WARNING", False)):
        env = sqlite_env(tmp_path, f"log-{level}", LOG_LEVEL=level)
        with live_server(tmp_path, env) as server:
            assert httpx.post(f"{server.url}/graphql", json=query).status_code == 200
        # The access line (INFO) is written when the request ends, before the stop.
        assert ("graphql_app.access" in server.log()) is logged, server.log()


def test_metrics_port_with_several_workers_is_refused(tmp_path: Path) -> None:
    result = run(
        ["serve", "--workers", "2"],
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path}/cli.db",
        SECRET_KEY="k" * 32,
        METRICS_PORT="9100",
    )
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: METRICS_PORT: one metrics listener")
