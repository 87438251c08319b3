"""The bench's parts (bench/): the REST baseline answers what graphql_app answers,
the load generators count what they should, the profile summary blames the right
phase. The full bench (`make bench`) runs for minutes; these check its pieces.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench import data, load, profile, readme, report
from bench.baseline_app import create_app as create_baseline
from bench.measurements import Cell, RunResults
from bench.runner import Config
from bench.scenarios import BASELINE, GRAPHQL_APP, POSTGRAPHILE_EDGES, HttpCall, read_call
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


# -- results and the README's figures ------------------------------------------------------


def _wrk_round(round_no: int, rps: float) -> dict[str, Any]:
    return {
        "round": round_no,
        "rps": rps,
        "p50_ms": 1000 / rps,
        "p99_ms": 3000 / rps,
        "errors": 0,
        "bad": 0,
    }


def _measured(quick: bool = False) -> RunResults:
    """A run as the runner leaves it: (a) on both backends, three rounds."""
    config = asdict(Config(quick=quick))
    results = RunResults(START, config, {"commit": "0123456789ab", "dirty": False}, (0.3, 0, 0))
    results.finished = START + timedelta(minutes=8)
    results.elapsed_s = 480.04
    by_round = {
        ("sqlite", BASELINE): [2000, 2500, 3000],
        ("sqlite", GRAPHQL_APP): [1000, 1000, 1800],
        ("postgres", BASELINE): [2000, 2000, 2000],
        ("postgres", GRAPHQL_APP): [900, 800, 1000],
        ("postgres", POSTGRAPHILE_EDGES): [600, 1000, 500],
    }
    for (backend, server), rps in by_round.items():
        rounds = [_wrk_round(i, x) for i, x in enumerate(rps, 1)]
        results.closed_loop.append(Cell("a", backend, server, rounds))
    results.open_loop.append(
        {
            "round": 1,
            "scenario": "a",
            "backend": "sqlite",
            "kind": GRAPHQL_APP,
            "p50_ms": 2.0,
            "p99_ms": 5.0,
            "p999_ms": 6.0,
            "max_ms": 7.0,
            "failed": 0,
            "bad": 0,
            "send_lag_p99_ms": 0.1,
        }
    )
    results.skipped.append({"what": "profile", "reason": "py-spy is not installed"})
    return results


def test_the_report_takes_medians_and_per_round_ratios_from_the_results_alone(
    tmp_path: Path,
) -> None:
    written = report.write(_measured(), tmp_path)
    rps = {(r["backend"], r["server"]): r["rps"] for r in written["closed_loop"]}
    assert rps["sqlite", GRAPHQL_APP] == 1000
    ratios = {(r["backend"], r["ratio"]): r for r in written["ratios"]}
    # The median of 0.5, 0.4, 0.6, not 1000 ÷ 2500.
    sqlite = ratios["sqlite", f"{GRAPHQL_APP} ÷ {BASELINE} (requests/s)"]
    assert (sqlite["median"], sqlite["per_round"]) == (0.5, [0.5, 0.4, 0.6])
    edges = ratios["postgres", f"{GRAPHQL_APP} ÷ {POSTGRAPHILE_EDGES} (requests/s)"]
    assert edges["median"] == 1.5
    assert written["fixed_rate"][0]["utilisation"] == 50 / 1000
    assert (written["elapsed_s"], written["commit"]) == (480.0, "0123456789ab")
    assert json.loads((tmp_path / "latest.json").read_text()) == json.loads(
        json.dumps(written, default=str)
    )
    assert "| (a) | SQLite | graphql_app | 1,000 |" in (tmp_path / "latest.md").read_text()
    assert "skipped profile: py-spy is not installed" in (tmp_path / "latest.md").read_text()
    report.write(_measured(quick=True), tmp_path)
    assert (tmp_path / "latest-quick.json").exists()
    assert json.loads((tmp_path / "latest.json").read_text())["config"]["quick"] is False


def test_the_readme_block_renders_the_figures_of_latest_json(tmp_path: Path) -> None:
    results = json.loads(json.dumps(report.write(_measured(), tmp_path), default=str))
    text = f"before\n{readme.START}\nold figures\n{readme.END}\nafter\n"
    new = readme.with_block(text, results)
    assert new.startswith("before\n") and new.endswith("\nafter\n")
    block = readme.block(new)
    assert "commit `0123456`" in block and "load average 0.30" in block
    assert "| graphql_app, requests/s | 1,000 | 900 |" in block
    assert "| ÷ the REST route on the same storage | 0.50 | 0.45 |" in block
    assert "| ÷ PostGraphile 4 (`edges` form) | — | 1.50 |" in block
    assert "| p99 at 50 requests/s, beside 8 clients logging in | — | — |" in block
    assert "was not part of this run" in block
    assert readme.with_block(new, results) == new
    with pytest.raises(readme.MarkersMissing):
        readme.with_block("no markers\n", results)


def test_the_readme_block_renders_scenario_f_when_the_run_had_it(tmp_path: Path) -> None:
    measured = _measured()
    measured.config["big_todos"] = 1_000_000
    for backend in ("sqlite", "postgres"):
        a = next(c for c in measured.closed_loop if (c.backend, c.server) == (backend, GRAPHQL_APP))
        f_rounds = [_wrk_round(r["round"], r["rps"] * 0.96) for r in a.rounds]
        measured.closed_loop.append(Cell("f", backend, GRAPHQL_APP, f_rounds))
        for name, seconds in (("setAllTodosCompleted", 3.93), ("clearCompletedTodos", 0.7)):
            measured.bulk.append(
                {
                    "backend": backend,
                    "mutation": name,
                    "todos": 200_000,
                    "seconds": seconds,
                    "status": 200,
                    "changed": 200_000,
                    "errors": None,
                }
            )
    results = json.loads(json.dumps(report.write(measured, tmp_path), default=str))
    block = readme.render(results)
    assert (
        "A page for a user of 1,000,000 todos (scenario f) ran at 0.96 (SQLite) and "
        "0.96 (PostgreSQL) of the requests/s of the same page for 200 todos; "
        "setAllTodosCompleted / clearCompletedTodos over 200,000 todos took "
        "3.9 s / 0.7 s (SQLite) and 3.9 s / 0.7 s (PostgreSQL)."
    ) in block


def test_the_readme_performance_block_is_what_latest_json_renders() -> None:
    """Figures are written by `python -m bench`, never by hand: rerun
    `python -m bench --render-readme` after replacing bench/results/latest.json."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.block(text) == readme.render(readme.load_latest())


def test_render_readme_rewrites_the_block_without_running_anything(tmp_path: Path) -> None:
    copy = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    copy.write_text(text.replace("| graphql_app, requests/s |", "| graphql_app, requests/s | 9 |"))
    assert readme.update(copy) is True
    assert copy.read_text(encoding="utf-8") == text
    assert readme.update(copy) is False
