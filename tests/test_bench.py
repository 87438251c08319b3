"""The bench's parts (bench/): the REST baseline answers what graphql_app answers,
the load generators count what they should, the profile summary blames the right
phase. The full bench (`make bench`) runs for minutes; these check its pieces.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType, InputValueDefinitionNode, build_schema, print_ast

from bench import data, load, profile, readme, report
from bench.baseline_app import create_app as create_baseline
from bench.measurements import Cell, RunResults
from bench.runner import Config
from bench.scenarios import (
    BASELINE,
    GRAPHQL_APP,
    PEERS,
    POSTGRAPHILE_EDGES,
    STRAWBERRY_STOCK,
    HttpCall,
    read_call,
)
from bench.servers import (
    NODE_PEERS,
    Server,
    graphql_app_server,
    node_peer_server,
    node_problem,
    strawberry_stock_server,
)
from graphql_app.cursors import encode_cursor
from graphql_app.models import NewSession, Position
from graphql_app.security.tokens import TokenService
from graphql_app.settings import Settings
from graphql_app.storage import Storage, open_storage
from tests.support.environment import TEST_SECRET, server_env
from tests.support.live_server import ROOT, LiveServer, live_server
from tests.support.postgres_backend import fresh_database

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
    with live_server(workdir, server_env(url)) as running:
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
        total = (await storage.list_todos(dataset.writer_id, 1, None, None)).total_count
        assert total is not None
        return total
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


# -- the peers: Apollo Server, graphql-yoga, stock Strawberry -------------------------


def test_the_ratio_table_and_readme_give_graphql_app_over_each_peer(tmp_path: Path) -> None:
    from bench.__main__ import parse_args

    measured = _measured()
    ours = next(
        c for c in measured.closed_loop if (c.backend, c.server) == ("postgres", GRAPHQL_APP)
    )
    for n, peer in enumerate(PEERS, 1):  # 1/2, 1/3, 1/4 of graphql_app's rate each round
        rounds = [_wrk_round(r["round"], r["rps"] / (n + 1)) for r in ours.rounds]
        measured.closed_loop.append(Cell("a", "postgres", peer, rounds))
    written = json.loads(json.dumps(report.write(measured, tmp_path), default=str))
    ratios = {r["ratio"]: r for r in written["ratios"] if r["target"] == "5"}
    assert [ratios[f"{GRAPHQL_APP} ÷ {peer} (requests/s)"]["median"] for peer in PEERS] == [
        2,
        3,
        4,
    ]
    table = (tmp_path / "latest.md").read_text()
    assert "| (a) | PostgreSQL | graphql-yoga 5 | 300 |" in table
    block = readme.render(written)
    assert "| ÷ Apollo Server 5 (same fields and tables) | — | 2.00 |" in block
    assert "| ÷ stock Strawberry (same fields and tables) | — | 4.00 |" in block
    assert parse_args([]).peers is True
    assert parse_args(["--no-peers"]).peers is False


def _fields_of(sdl: str) -> dict[str, dict[str, Any]]:
    """Each object type's fields in `sdl`: type, and each argument's type and default."""

    def argument(node: InputValueDefinitionNode) -> tuple[str, str | None]:
        default = node.default_value
        return print_ast(node.type), None if default is None else print_ast(default)

    found: dict[str, dict[str, Any]] = {}
    for name, kind in build_schema(sdl).type_map.items():
        if isinstance(kind, GraphQLObjectType) and not name.startswith("__"):
            found[name] = {
                field_name: (
                    str(field.type),
                    {a: argument(arg.ast_node) for a, arg in field.args.items() if arg.ast_node},
                )
                for field_name, field in kind.fields.items()
            }
    return found


def test_the_peers_serve_graphql_apps_fields_with_the_same_types_and_arguments() -> None:
    from bench.strawberry_stock import schema as stock_schema

    ours = _fields_of((ROOT / "schema.graphql").read_text())
    node_sdl = (ROOT / "bench" / "node_shared" / "schema.graphql").read_text()
    for peer in (node_sdl, stock_schema.as_str()):
        theirs = _fields_of(peer)
        assert {"Query", "User", "Todo", "TodoConnection", "TodoEdge", "PageInfo"} <= set(theirs)
        for type_name, fields in theirs.items():
            for field_name, (field_type, arguments) in fields.items():
                our_type, our_arguments = ours[type_name][field_name]
                assert field_type == our_type, f"{type_name}.{field_name}"
                # A peer may leave arguments out (last, before, filter), not change one.
                assert arguments == {a: our_arguments[a] for a in arguments}, field_name


def _node_shared(expression: str) -> Any:
    """The JSON of `expression` over bench/node_shared/todos_api.js's exports (as `api`)."""
    if shutil.which("node") is None:
        pytest.skip("node and npm are needed for the Node peers of the bench")
    module = ROOT / "bench" / "node_shared" / "todos_api.js"
    script = (
        f"const api = require({json.dumps(str(module))}); console.log(JSON.stringify({expression}))"
    )
    done = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


def test_the_node_peers_send_graphql_apps_statements() -> None:
    from graphql_app.storage._sql import USER_COLUMNS
    from graphql_app.storage.postgres import PostgresStorage

    sql = _node_shared("api.SQL")
    for with_cursor in (False, True):
        for with_count in (False, True):
            assert (
                sql["page"][with_cursor][with_count]
                == PostgresStorage.pages[None, with_cursor, with_count, False]
            )
    assert sql["users"] == f"SELECT {USER_COLUMNS} FROM users WHERE id = ANY($1::text[])"


def test_the_node_peers_write_times_and_cursors_as_graphql_app() -> None:
    # PostgreSQL's text of a timestamptz (TimeZone UTC) drops a zero fraction and
    # trims trailing zeros; Python's isoformat() writes six digits or none.
    texts = ["2024-01-01 10:00:00+00", "2024-01-01 10:00:00.12+00", "2024-01-01 10:00:00.000005+00"]
    moments = [
        datetime(2024, 1, 1, 10, tzinfo=UTC),
        datetime(2024, 1, 1, 10, 0, 0, 120000, tzinfo=UTC),
        datetime(2024, 1, 1, 10, 0, 0, 5, tzinfo=UTC),
    ]
    todos = [{"id": f"id{i}", "createdAt": text} for i, text in enumerate(texts)]
    answer = _node_shared(
        f"(() => {{ const todos = {json.dumps(todos)}; return {{"
        "iso: todos.map((t) => api.isoTime(t.createdAt)),"
        "cursors: todos.map(api.encodeCursor),"
        "decoded: todos.map((t) => api.decodeCursor(api.encodeCursor(t))),"
        "refused: ['', 'bm9wZQ', Buffer.from('p1:1x:a').toString('base64url')]"
        ".map(api.decodeCursor) }; })()"
    )
    assert answer["iso"] == [moment.isoformat() for moment in moments]
    expected = [encode_cursor(Position(m, f"id{i}")) for i, m in enumerate(moments)]
    assert answer["cursors"] == expected
    assert answer["decoded"] == [
        [m.isoformat(timespec="microseconds"), f"id{i}"] for i, m in enumerate(moments)
    ]
    assert answer["refused"] == [None, None, None]


PEER_SECRET = TEST_SECRET
PAGING = (
    "query Paging($after: String) { todos(first: 5, after: $after) { totalCount "
    "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } "
    "edges { cursor node { id name isCompleted createdAt updatedAt } } } }"
)


@dataclass
class PeerRig:
    """graphql_app and each peer as real processes over one seeded PostgreSQL database."""

    servers: dict[str, Server]
    problems: dict[str, str]  # peers that cannot run here, and why
    reader_id: str
    token: str


async def _seed_reader(url: str) -> str:
    """The reader and its 200 todos, at times with and without fractions of a second."""
    storage = open_storage(url, pool_size=2)
    fractions = [0, 120_000, 5, 999_999, 123_456]
    try:
        session = NewSession("family", "hash", START + timedelta(days=1))
        reader = await storage.create_user(data.READER_EMAIL, "Bench Reader", "x", session, START)
        for i in range(data.TODO_COUNT):
            moment = START + timedelta(seconds=i + 1, microseconds=fractions[i % 5])
            await storage.create_todo(reader.id, f"Todo {i}", i % 3 == 0, moment)
        return reader.id
    finally:
        await storage.close()


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeerRig]:
    with fresh_database() as url:
        logs = tmp_path_factory.mktemp("peers")
        env = {
            **os.environ,
            "ENVIRONMENT": "production",
            "SECRET_KEY": PEER_SECRET,
            "DATABASE_URL": url,
            "PYTHONUNBUFFERED": "1",
        }
        settings = Settings(secret_key=PEER_SECRET)
        servers: dict[str, Server] = {}
        try:
            data.migrate(url, env)
            reader_id = asyncio.run(_seed_reader(url))
            servers[GRAPHQL_APP] = graphql_app_server("graphql_app", env, logs, pin=False)
            servers[STRAWBERRY_STOCK] = strawberry_stock_server("stock", env, logs)
            problems: dict[str, str] = {}
            for peer, (directory, package) in NODE_PEERS.items():
                problem = node_problem(directory, package)
                if problem:
                    problems[peer] = problem
                    continue
                servers[peer] = node_peer_server(
                    peer,
                    peer,
                    env,
                    logs,
                    database_url=url,
                    secret=PEER_SECRET,
                    audience=settings.jwt_audience,
                    issuer=settings.jwt_issuer,
                )
            for server in servers.values():
                server.core = None  # tests leave the cores to the scheduler
                server.start()
            for server in servers.values():
                server.wait_ready()
            yield PeerRig(servers, problems, reader_id, data.access_token(settings, reader_id))
        finally:
            for server in servers.values():
                server.stop()


def _peer(rig: PeerRig, kind: str) -> Server:
    problem = rig.problems.get(kind)
    if problem is not None:
        if problem.startswith("npm ci failed"):
            pytest.fail(problem)
        pytest.skip(f"{kind}: {problem}")
    return rig.servers[kind]


def _post(
    server: Server, body: bytes, authorization: str | None, statuses: tuple[int, ...] = (200,)
) -> Any:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = httpx.post(server.url + "/graphql", content=body, headers=headers, timeout=30)
    assert answer.status_code in statuses, answer.text
    return answer.json()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("kind", PEERS)
def test_each_peer_answers_the_read_scenarios_with_graphql_apps_json(
    peers: PeerRig, kind: str
) -> None:
    peer = _peer(peers, kind)
    ours = peers.servers[GRAPHQL_APP]
    bearer = f"Bearer {peers.token}"
    for scenario in ("a", "b", "c"):
        body = _call(scenario, kind).body or b""
        expected = _post(ours, _call(scenario, GRAPHQL_APP).body or b"", bearer)
        assert "errors" not in expected
        assert _post(peer, body, bearer) == expected, scenario
    # A page after a cursor: the cursor's statement, pageInfo and the fractions of seconds.
    first = _post(ours, _call("a", GRAPHQL_APP).body or b"", bearer)
    cursor = first["data"]["todos"]["edges"][2]["cursor"]
    paging = json.dumps({"query": PAGING, "variables": {"after": cursor}}).encode()
    expected = _post(ours, paging, bearer)
    assert expected["data"]["todos"]["pageInfo"]["hasPreviousPage"] is True
    assert _post(peer, paging, bearer) == expected


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("kind", PEERS)
def test_each_peer_refuses_bad_tokens_and_introspection_as_graphql_app_does(
    peers: PeerRig, kind: str
) -> None:
    peer = _peer(peers, kind)
    ours = peers.servers[GRAPHQL_APP]
    settings = Settings(secret_key=PEER_SECRET)
    now = datetime.now(UTC)
    elsewhere = TokenService(PEER_SECRET, settings.jwt_issuer, "another-audience", 600, 600)
    impostor = TokenService(PEER_SECRET, "another-issuer", settings.jwt_audience, 600, 600)
    expired = TokenService(PEER_SECRET, settings.jwt_issuer, settings.jwt_audience, 1, 1)
    refused = {
        "none": None,
        "forged": f"Bearer {peers.token}x",
        "audience": f"Bearer {elsewhere.issue_access(peers.reader_id, now)[0]}",
        "issuer": f"Bearer {impostor.issue_access(peers.reader_id, now)[0]}",
        "expired": f"Bearer {expired.issue_access(peers.reader_id, now - timedelta(hours=1))[0]}",
    }
    body = _call("a", kind).body or b""
    for case, authorization in refused.items():
        expected = _post(ours, body, authorization)
        answer = _post(peer, body, authorization)
        assert answer["data"] is None, case
        assert [(e["message"], e["extensions"]) for e in answer["errors"]] == [
            (e["message"], e["extensions"]) for e in expected["errors"]
        ], case
    # Production settings: introspection off, as graphql_app's in production.
    introspection = json.dumps({"query": "{ __schema { types { name } } }"}).encode()
    assert "errors" in _post(ours, introspection, f"Bearer {peers.token}")
    # Apollo Server answers a document that fails validation with 400.
    answer = _post(peer, introspection, f"Bearer {peers.token}", (200, 400))
    assert "errors" in answer and not answer.get("data"), answer


async def test_cost_measures_each_scenario_of_both_apps_through_their_routes() -> None:
    """bench/cost.py: every scenario answered without errors (it checks each answer)
    by graphql_app and the baseline, and a ratio for each pair."""
    from bench.cost import SCENARIOS, TARGETS, Clock, measure, report

    results = await measure(["sqlite"], list(SCENARIOS), 4, Clock("cpu", 2))
    assert {(m.scenario, m.target) for m in results} == {(s, t) for s in SCENARIOS for t in TARGETS}
    assert all(len(m.values) == 2 and min(m.values) > 0 for m in results)
    table = report(results, "cpu")
    assert all(f"| ({s}) | sqlite |" in table for s in SCENARIOS)
