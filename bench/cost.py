"""`python -m bench.cost`: the cost of one request, repeatable on a busy machine.

Requests per second move with whatever else the two cores run; the work one
request costs does not. This drives graphql_app (create_app, production
settings, the whole middleware stack, the request log written to /dev/null)
and the REST baseline (bench/baseline_app.py) as ASGI apps, in this process,
with the requests the bench sends (same bodies and headers; no server, no
socket), over one SQLite file and one PostgreSQL database seeded as the
bench seeds them, and reports for each scenario:

- ``--method cpu`` (the default): CPU time per request (`time.process_time`,
  every thread of the process), the best and the median of `--rounds` rounds
  of `--requests` requests each, after as many unmeasured ones;
- ``--method callgrind``: the same run under `valgrind --tool=callgrind`, which
  counts the CPU instructions each scenario's requests execute, whatever the
  load: two runs of the same code give the same count within about 1 %.
  Slow (a few minutes); `--requests` defaults to 30 there.

Scenarios: (a) todos(first: 20) with totalCount and edges, (c) me { fullname
todos(first: 20) { edges { node { name creator { email } } } } }, (d) the
write mix (createTodo, updateTodo, deleteTodo in turn; the cost is per
request, averaged over the three). The ratio column is baseline cost ÷
graphql_app cost: what the bench's requests/s ratio tends to, minus the HTTP
server's share, which both pay and which is not counted here (uvicorn and
httptools, about 5 % of graphql_app's time under wrk), so the bench's ratio
comes out a little higher. PostgreSQL's own work runs in its server process
and is counted for neither.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench import baseline_app
from bench.data import POSTGRES_ADMIN_URL, TODO_COUNT
from bench.scenarios import me_query, todos_query
from graphql_app.app import create_app
from graphql_app.log_config import LOG_FORMAT, configure_logging
from graphql_app.models import NewSession
from graphql_app.security.tokens import hash_refresh_token, new_family_id, new_refresh_token
from graphql_app.settings import Settings
from graphql_app.storage import Storage, open_storage

SCENARIOS = {
    "a": "todos(first: 20) { totalCount edges { cursor node { ... } } }",
    "c": "me { fullname todos(first: 20) { edges { node { name creator { email } } } } }",
    "d": "write mix: createTodo, updateTodo, deleteTodo (per request)",
}
TARGETS = ("graphql_app", "baseline")
FIELDS = "{ id name isCompleted createdAt updatedAt }"
CREATE = f"mutation Create($input: CreateTodoInput!) {{ createTodo(input: $input) {FIELDS} }}"
UPDATE = (
    f"mutation Update($id: ID!) {{ updateTodo(id: $id, input: {{isCompleted: true}}) {FIELDS} }}"
)
DELETE = "mutation Delete($id: ID!) { deleteTodo(id: $id) { id message } }"
# Callgrind dumps its counters each time this C function of the interpreter is
# entered (--dump-before): calling sys.getswitchinterval() marks a phase's end.
MARKER = "sys_getswitchinterval"
SECRET = "cost-" + "s" * 44


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes = b""


Send = Callable[[Call], Awaitable[dict[str, Any]]]


def _graphql(query: str, variables: dict[str, Any] | None = None) -> Call:
    payload: dict[str, Any] = {"query": query}
    if variables:
        payload["variables"] = variables
    return Call("POST", "/graphql", orjson.dumps(payload))


def asgi_client(app: Any, token: str) -> Send:
    """Send one request to `app` as wrk sends it; its JSON body (status 200 checked)."""
    authorization = f"Bearer {token}".encode()

    async def send(call: Call) -> dict[str, Any]:
        path, _, query = call.path.partition("?")
        headers = [
            (b"host", b"127.0.0.1"),
            (b"accept", b"application/json"),
            (b"authorization", authorization),
        ]
        if call.body:
            headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(call.body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": call.method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "root_path": "",
        }
        messages = [{"type": "http.request", "body": call.body, "more_body": False}]
        status: list[int] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def respond(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, respond)
        body = orjson.loads(b"".join(chunks))
        if status != [200] or "errors" in body:
            raise RuntimeError(f"{call.method} {call.path} answered {status}: {body}")
        return body  # type: ignore[no-any-return]

    return send


class Scenario:
    """The requests of one scenario for one target, one `step` at a time."""

    def __init__(self, scenario: str, target: str, send: Send) -> None:
        self.scenario = scenario
        self.target = target
        self.send = send
        self._created: list[str] = []
        self._updated: list[str] = []

    async def step(self) -> None:
        rest = self.target == "baseline"
        if self.scenario == "a":
            call = Call("GET", "/todos?first=20") if rest else _graphql(todos_query(20))
            await self.send(call)
        elif self.scenario == "c":
            call = Call("GET", "/me?first=20") if rest else _graphql(me_query(20))
            await self.send(call)
        else:
            await self._write()

    async def _write(self) -> None:
        rest = self.target == "baseline"
        if self._updated:
            todo_id = self._updated.pop()
            if rest:
                await self.send(Call("DELETE", f"/todos/{todo_id}"))
            else:
                await self.send(_graphql(DELETE, {"id": todo_id}))
        elif self._created:
            todo_id = self._created.pop()
            if rest:
                body = await self.send(Call("PATCH", f"/todos/{todo_id}", b'{"isCompleted": true}'))
            else:
                body = await self.send(_graphql(UPDATE, {"id": todo_id}))
            self._updated.append(body["data"]["updateTodo"]["id"])
        else:
            if rest:
                body = await self.send(Call("POST", "/todos", b'{"name": "cost todo"}'))
            else:
                body = await self.send(_graphql(CREATE, {"input": {"name": "cost todo"}}))
            self._created.append(body["data"]["createTodo"]["id"])


# -- data ----------------------------------------------------------------------


async def seed(storage: Storage) -> tuple[str, str]:
    """A reader with TODO_COUNT todos and a writer with none, as bench/data.py seeds them."""
    await storage.migrate()
    now = datetime.now(UTC)

    def session() -> NewSession:
        return NewSession(
            new_family_id(), hash_refresh_token(new_refresh_token()), now + timedelta(days=1)
        )

    reader = await storage.create_user("reader@example.com", "Reader", "x", session(), now)
    for i in range(TODO_COUNT):
        await storage.create_todo(
            reader.id, f"todo {i}", i % 3 == 0, now - timedelta(seconds=TODO_COUNT - i)
        )
    writer = await storage.create_user("writer@example.com", "Writer", "x", session(), now)
    return reader.id, writer.id


@contextlib.asynccontextmanager
async def backend_url(backend: str) -> AsyncIterator[str]:
    """A fresh, empty database of `backend`, dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/cost.db"
        return
    import asyncpg

    name = f"bench_cost_{os.getpid()}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
            yield f"{base}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# -- measuring ------------------------------------------------------------------


@dataclass
class Measured:
    scenario: str
    backend: str
    target: str
    values: list[float]  # per request: µs of CPU, or instructions


class Clock:
    """CPU time per request over `rounds` rounds (cpu), or phases marked for callgrind."""

    def __init__(self, method: str, rounds: int) -> None:
        self.method = method
        self.rounds = rounds if method == "cpu" else 1
        self.labels: list[str] = []

    @contextlib.contextmanager
    def phase(self, label: str, requests: int, into: list[float]) -> Iterator[None]:
        if self.method == "callgrind":
            sys.getswitchinterval()  # the end of the unmeasured phase before
            yield
            sys.getswitchinterval()
            self.labels.append(label)
            return
        started = time.process_time()
        yield
        into.append((time.process_time() - started) / requests * 1e6)


async def measure_backend(
    backend: str, scenarios: list[str], requests: int, clock: Clock
) -> list[Measured]:
    async with backend_url(backend) as url:
        settings = Settings(
            secret_key=SECRET,
            environment="production",
            database_url=url,
            auth_rate_limit="",
            login_account_rate_limit="",
        )
        storage = open_storage(url, pool_size=2)
        reader_id, writer_id = await seed(storage)
        app = create_app(settings, storage=storage)
        tokens = app.state.deps.tokens
        reader = tokens.issue_access(reader_id, datetime.now(UTC))[0]
        writer = tokens.issue_access(writer_id, datetime.now(UTC))[0]
        baseline = baseline_app.create_app(settings, storage=storage)
        apps = {"graphql_app": app, "baseline": baseline}
        results = []
        async with app.router.lifespan_context(app):
            for scenario in scenarios:
                token = writer if scenario == "d" else reader
                for target in TARGETS:
                    run = Scenario(scenario, target, asgi_client(apps[target], token))
                    values: list[float] = []
                    for _ in range(requests):  # warm caches, connections, the JIT-less loop
                        await run.step()
                    gc.collect()
                    for _ in range(clock.rounds):
                        with clock.phase(f"{scenario} {backend} {target}", requests, values):
                            for _ in range(requests):
                                await run.step()
                    results.append(Measured(scenario, backend, target, values))
        return results


def _quiet_logging() -> None:
    """Log as the server does (configure_logging, INFO: one line per request), into
    /dev/null."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - the process's life
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    configure_logging("INFO")


async def measure(
    backends: list[str], scenarios: list[str], requests: int, clock: Clock
) -> list[Measured]:
    results = []
    for backend in backends:
        results.extend(await measure_backend(backend, scenarios, requests, clock))
    return results


# -- callgrind --------------------------------------------------------------------


def run_under_callgrind(args: argparse.Namespace) -> list[Measured]:
    """This command again under callgrind; each marked phase's instructions per request."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--dump-before={MARKER}",
            f"--callgrind-out-file={out}/callgrind.out",
            sys.executable,
            "-m",
            "bench.cost",
            "--child",
            str(out / "labels.json"),
            "--method",
            "callgrind",
            "--backends",
            ",".join(args.backends),
            "--scenarios",
            ",".join(args.scenarios),
            "--requests",
            str(args.requests),
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        labels = json.loads((out / "labels.json").read_text())
        # Dump n holds what ran since dump n-1: the measured phases are the
        # even-numbered dumps (each opened by a marker, closed by the next).
        totals = {}
        for path in out.glob("callgrind.out.*"):
            match = re.search(r"^totals:\s*(\d+)", path.read_text(errors="replace"), re.M)
            if match:
                totals[int(path.name.rsplit(".", 1)[1])] = int(match.group(1))
        if len(totals) != 2 * len(labels):
            raise RuntimeError(
                f"callgrind wrote {len(totals)} dumps for {len(labels)} phases: is {MARKER}"
                " a symbol of this Python (not stripped)?"
            )
        results = []
        for index, label in enumerate(labels):
            scenario, backend, target = label.split()
            per_request = totals[2 * index + 2] / args.requests
            results.append(Measured(scenario, backend, target, [per_request]))
        return results


# -- report ----------------------------------------------------------------------


def report(results: list[Measured], method: str) -> str:
    unit = "µs CPU" if method == "cpu" else "instructions (millions)"
    lines = [
        f"cost per request, {unit}; load average {os.getloadavg()[0]:.2f}",
        "",
        "| scenario | backend | graphql_app | baseline | baseline ÷ graphql_app |",
        "|---|---|---:|---:|---:|",
    ]
    by_key = {(m.scenario, m.backend, m.target): m.values for m in results}
    for scenario, backend in dict.fromkeys((m.scenario, m.backend) for m in results):
        app = by_key.get((scenario, backend, "graphql_app"))
        base = by_key.get((scenario, backend, "baseline"))
        if not app or not base:
            continue
        if method == "cpu":
            cells = [f"{min(v):,.0f} best, {statistics.median(v):,.0f} median" for v in (app, base)]
            ratio = min(base) / min(app)
        else:
            cells = [f"{v[0] / 1e6:,.2f}" for v in (app, base)]
            ratio = base[0] / app[0]
        lines.append(f"| ({scenario}) | {backend} | {cells[0]} | {cells[1]} | {ratio:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--method", choices=("cpu", "callgrind"), default="cpu")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--scenarios", default="a,c,d")
    parser.add_argument("--requests", type=int, help="per round (default 300; callgrind 30)")
    parser.add_argument("--rounds", type=int, default=5, help="cpu only")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON too")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.backends = [b for b in args.backends.split(",") if b]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    for scenario in args.scenarios:
        if scenario not in SCENARIOS:
            parser.error(f"unknown scenario {scenario!r} (one of {', '.join(SCENARIOS)})")
    if args.requests is None:
        args.requests = 30 if args.method == "callgrind" else 300
    _quiet_logging()
    if args.child:  # under callgrind: run, then say which phase was which
        clock = Clock("callgrind", 1)
        asyncio.run(measure(args.backends, args.scenarios, args.requests, clock))
        Path(args.child).write_text(json.dumps(clock.labels))
        return
    if args.method == "callgrind":
        results = run_under_callgrind(args)
    else:
        results = asyncio.run(
            measure(args.backends, args.scenarios, args.requests, Clock("cpu", args.rounds))
        )
    print(report(results, args.method))
    if args.json:
        print(json.dumps([m.__dict__ for m in results]))


if __name__ == "__main__":
    main()
