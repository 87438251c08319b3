"""The bench's parts (bench/): the REST baseline answers what graphql_app answers,
the load generators count what they should, the profile summary blames the right
phase. The full bench (`make bench`) runs for minutes; these check its pieces.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench import data, load, profile
from bench.baseline_app import create_app as create_baseline
from bench.scenarios import BASELINE, GRAPHQL_APP, HttpCall, read_call
from graphql_app.models import NewSession
from graphql_app.settings import Settings
from graphql_app.storage import Storage, open_storage
from tests.conftest import TEST_SECRET
from tests.live_server import ROOT, LiveServer, live_server

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
async def reader_token(storage: Storage, settings: Settings) -> str:
    """The bench's reader with its 200 todos in the test's storage, and a token for it."""
    session = NewSession("family", "hash", START + timedelta(days=1))
    reader = await storage.create_user(data.READER_EMAIL, "Bench Reader", "x", session, START)
    for i in range(data.TODO_COUNT):
        await storage.create_todo(
            reader.id, f"Todo {i}", i % 2 == 0, START + timedelta(seconds=i + 1)
        )
    return data.access_token(settings, reader.id)


@pytest.fixture
async def baseline(settings: Settings, storage: Storage) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_baseline(settings, storage))
    async with httpx.AsyncClient(transport=transport, base_url="http://baseline") as client:
        yield client


def _call(scenario: str, kind: str) -> HttpCall:
    call = read_call(scenario, kind)
    assert call is not None
    return call


async def _answer(client: httpx.AsyncClient, call: HttpCall, token: str) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    answer = await client.request(call.method, call.path, content=call.body, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("scenario", ["a", "b", "c"])
async def test_the_baseline_answers_the_same_json_as_graphql_app(
    scenario: str, reader_token: str, baseline: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    expected = await _answer(http, _call(scenario, GRAPHQL_APP), reader_token)
    assert "errors" not in expected
    assert await _answer(baseline, _call(scenario, BASELINE), reader_token) == expected


async def test_the_baseline_write_routes_answer_like_the_mutations(
    reader_token: str, baseline: httpx.AsyncClient
) -> None:
    auth = {"Authorization": f"Bearer {reader_token}"}
    created = await baseline.post("/todos", json={"name": "  new  "}, headers=auth)
    todo = created.json()["data"]["createTodo"]
    assert (todo["name"], todo["isCompleted"]) == ("new", False)
    updated = await baseline.patch(f"/todos/{todo['id']}", json={"isCompleted": True}, headers=auth)
    assert updated.json()["data"]["updateTodo"]["isCompleted"] is True
    deleted = await baseline.delete(f"/todos/{todo['id']}", headers=auth)
    assert deleted.json() == {"data": {"deleteTodo": {"id": todo["id"], "message": "Todo deleted"}}}
    again = await baseline.delete(f"/todos/{todo['id']}", headers=auth)
    assert again.status_code == 404
    assert again.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_the_baseline_refuses_bad_tokens_and_bad_arguments(
    reader_token: str, baseline: httpx.AsyncClient
) -> None:
    anonymous = await baseline.get("/todos")
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    forged = await baseline.get("/todos", headers={"Authorization": f"Bearer {reader_token}x"})
    assert forged.status_code == 401
    too_many = await baseline.get(
        "/todos?first=101", headers={"Authorization": f"Bearer {reader_token}"}
    )
    assert too_many.status_code == 400
    assert list(too_many.json()["errors"][0]["extensions"]["fields"]) == ["first"]


def test_the_profile_summary_blames_the_innermost_phase(tmp_path: Path) -> None:
    root = "run (uvicorn/main.py:1);execute (strawberry/schema/schema.py:2)"
    run = "execute (graphql/execution/execute.py:5)"
    raw = tmp_path / "raw.txt"
    raw.write_text(
        f"{root};validate (graphql/validation/validate.py:3);"
        "visit (graphql/language/visitor.py:4) 6\n"
        f"{root};{run};resolve (graphql_app/schema/types.py:6);"
        "_read (graphql_app/storage/sqlite.py:7) 3\n"
        f"{root};{run};<lambda> (<string>:1) 1\n"
    )
    summary = profile.summarise(raw)
    assert summary.samples == 10
    assert summary.by_phase["GraphQL validate"] == 6
    assert summary.by_phase["storage (graphql_app.storage + driver)"] == 3
    assert summary.by_phase["GraphQL execute (graphql-core)"] == 1
    # Generated code (namedtuple, dataclass methods) counts for the package that ran it.
    assert summary.self_by_package["graphql"] == 7


# -- the load generators against a real server ------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, str]]:
    """graphql_app over real HTTP, seeded like the bench: (server, reader's, writer's token)."""
    workdir = tmp_path_factory.mktemp("bench")
    url = f"sqlite:///{workdir}/bench.db"
    env = {"DATABASE_URL": url, "SECRET_KEY": TEST_SECRET, "BCRYPT_ROUNDS": "4"}
    with live_server(workdir, env) as running:
        reader_id, writer_id = asyncio.run(data.seed(url, data.password_hash(4)))
        settings = Settings(secret_key=TEST_SECRET)
        yield (
            running,
            data.access_token(settings, reader_id),
            data.access_token(settings, writer_id),
        )


def _open_loop(url: str, token: str, body_file: Path) -> dict[str, Any]:
    run = load.OpenLoopRun(
        url=url,
        method="POST",
        body_file=body_file,
        authorization=f"Bearer {token}",
        rate=40,
        duration=0.5,
        warmup=0.1,
        core=None,
    )
    return load.run_open_loop(run)


@pytest.mark.slow
def test_the_open_loop_sends_exactly_its_schedule_and_counts_graphql_errors(
    server: tuple[LiveServer, str, str], tmp_path: Path
) -> None:
    live, token, _ = server
    call = _call("a", GRAPHQL_APP)
    body = tmp_path / "a.json"
    body.write_bytes(call.body or b"")
    good = _open_loop(live.url + call.path, token, body)
    # 40/s for 0.5 s: 20 measured requests, whatever the server's speed.
    assert (good["scheduled"], good["completed"], good["failed"], good["bad"]) == (20, 20, 0, 0)
    assert 0 < good["p50_ms"] <= good["p99_ms"] <= good["max_ms"]
    refused = _open_loop(live.url + call.path, token + "x", body)
    assert (refused["completed"], refused["bad"]) == (20, 20)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_scripts_count_bad_answers_and_the_write_mix_stays_bounded(
    server: tuple[LiveServer, str, str], tmp_path: Path
) -> None:
    live, reader_token, writer_token = server
    body = tmp_path / "a.json"
    body.write_bytes(_call("a", GRAPHQL_APP).body or b"")
    page = {"BENCH_METHOD": "POST", "BENCH_BODY_FILE": str(body)}

    def wrk(script: str, env: dict[str, str]) -> dict[str, Any]:
        return load.run_wrk(load.WrkRun(live.url + "/graphql", script, env, 4, 1, core=None))

    good = wrk("request.lua", {**page, "BENCH_AUTHORIZATION": f"Bearer {reader_token}"})
    assert good["requests"] > 0
    assert (good["bad"], good["errors"]) == (0, 0)
    refused = wrk("request.lua", {**page, "BENCH_AUTHORIZATION": "Bearer nope"})
    assert refused["bad"] == refused["requests"] > 0

    mix = wrk("write_mix.lua", {"BENCH_AUTHORIZATION": f"Bearer {writer_token}"})
    assert mix["requests"] > 3
    assert mix["bad"] == 0
    db = live.log_path.parent / "bench.db"
    with sqlite3.connect(db) as conn:
        (writer_id,) = conn.execute(
            "SELECT id FROM users WHERE email = ?", (data.WRITER_EMAIL,)
        ).fetchone()
    dataset = data.Dataset("sqlite", f"sqlite:///{db}", "", "", writer_id, "", "")
    # Each of the 4 connections leaves at most one todo half-way through its cycle.
    assert data.clear_writer(dataset) <= 4
    assert asyncio.run(_writer_todo_count(dataset)) == 0


async def _writer_todo_count(dataset: data.Dataset) -> int:
    storage = open_storage(dataset.url)
    try:
        return (await storage.list_todos(dataset.writer_id, 1, None, None)).total_count
    finally:
        await storage.close()


def test_the_bench_command_refuses_unknown_scenarios_before_running() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--scenarios", "a,z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown scenario z" in result.stderr


async def test_inprocess_measures_both_queries_through_the_real_app() -> None:
    from bench.inprocess import BARE, QUERIES, measure

    results = await measure(batches=2, size=3)
    assert set(results) == {*QUERIES, BARE}
    for best, median in results.values():
        assert 0 < best <= median


async def test_the_crowd_of_scenario_f_is_seeded_with_true_counters(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crowd.db"
    storage = open_storage(url)
    await storage.migrate()
    await storage.close()
    big_id, bulk_id = await data.seed_crowd(url, "hash", 3_000, 500)
    storage = open_storage(url)
    try:
        counts = await storage.count_todos([big_id, bulk_id])
        assert [(c.total, c.completed) for c in counts] == [(3_000, 1_000), (500, 0)]
        page = await storage.list_todos(big_id, 20, None, None)
        assert (page.total_count, len(page.todos), page.has_next_page) == (3_000, 20, True)
        assert page.todos[0].name == "Todo number 3000"  # the newest first
        assert await storage.set_all_completed(bulk_id, True, datetime.now(UTC)) == 500
        assert await storage.clear_completed(bulk_id) == 500
    finally:
        await storage.close()
    call = read_call("f", GRAPHQL_APP)
    assert call is not None and b"totalCount" in (call.body or b"")
    assert read_call("f", BASELINE) is None
