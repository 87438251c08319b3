"""One bench run: data, servers, interleaved rounds, logIn, profile, results.

The order inside a round is scenario by scenario, and inside a scenario
server by server (A B C, A B C, ...), so a drift of the machine over the run
(another tenant, thermal limits, a database checkpoint) touches every server
alike; each ratio is taken inside one round, then the median over rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt
import httpx

from bench import data, load, profile, report
from bench.measurements import Cell, RunResults
from bench.round_trips import count_round_trips
from bench.scenarios import (
    BASELINE,
    CLEAR_COMPLETED,
    FIRST,
    GRAPHQL_APP,
    PEERS,
    POSTGRAPHILE_EDGES,
    POSTGRAPHILE_NODES,
    SET_ALL_COMPLETED,
    STRAWBERRY_STOCK,
    HttpCall,
    log_in_call,
    read_call,
)
from bench.servers import (
    NODE_PEERS,
    ROOT,
    Server,
    baseline_server,
    graphql_app_server,
    node_peer_server,
    node_problem,
    postgraphile_problem,
    postgraphile_server,
    strawberry_stock_server,
)
from graphql_app.settings import Settings

WORK_DIR = ROOT / "bench" / ".work"
RESULTS_DIR = ROOT / "bench" / "results"
BACKENDS = ("sqlite", "postgres")
SCENARIO_IDS = ("a", "b", "c", "d", "e", "f")
# The closed-loop order inside a round: (f) right after (a), whose ratio it is.
CLOSED_LOOP_ORDER = ("a", "f", "b", "c", "d")
# A 1-minute load average above this before the run: something else is using the cores.
BUSY_LOAD = 0.5


@dataclass
class Config:
    rounds: int = 3
    duration: int = 3  # seconds per closed-loop measurement
    # Unmeasured seconds before each target's first cell (0: none). Later rounds find
    # every server warm (JIT, caches, prepared statements, pools), so they skip it.
    warmup: int = 1
    connections: int = 32
    # The open-loop rate: low enough that the slowest server is mostly idle
    # (p99 = service time), high enough for a few hundred samples a round.
    rate: float = 50.0
    open_loop_duration: float = 5.0
    open_loop_warmup: float = 0.5
    login_duration: int = 6
    login_connections: int = 8
    bcrypt_rounds: int = 12
    profile_duration: int = 5
    profile: bool = True
    # Apollo Server, graphql-yoga and stock Strawberry beside graphql_app on PostgreSQL.
    peers: bool = True
    scenarios: tuple[str, ...] = SCENARIO_IDS
    backends: tuple[str, ...] = BACKENDS
    quick: bool = False
    # Scenario (f): todos of the big user, and of the bulk mutations' user.
    big_todos: int = data.BIG_COUNT
    bulk_todos: int = data.BULK_COUNT

    def estimate_seconds(self, cells_per_round: int, open_loop_cells: int) -> float:
        closed = cells_per_round * (self.duration + 0.3)
        warm = cells_per_round * (self.warmup + 0.3) if self.warmup else 0.0
        opened = open_loop_cells * (self.open_loop_duration + self.open_loop_warmup + 0.5)
        login = 0.0
        if "e" in self.scenarios:
            login = len(self.backends) * (
                self.login_duration + self.open_loop_duration + self.open_loop_warmup + 2
            )
        profiling = (self.profile_duration + 2) * len(self.backends) if self.profile else 0
        # Seeding and the bulk mutations: about 40 s a backend at full size.
        crowd = 40 * len(self.backends) * self.big_todos / data.BIG_COUNT
        crowd = crowd if "f" in self.scenarios else 0
        return self.rounds * (closed + opened) + warm + login + profiling + crowd + 25


@dataclass
class Target:
    """One row of the tables: a server answering one scenario on one backend."""

    scenario: str
    backend: str
    kind: str  # BASELINE, GRAPHQL_APP, POSTGRAPHILE_*
    server: Server
    call: HttpCall | None  # None for the write mix
    token: str
    body_file: Path | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    expected_total: int = 0  # the page's totalCount when not the reader's TODO_COUNT

    @property
    def label(self) -> str:
        return f"({self.scenario}) {self.backend} {self.kind}"


class Run:
    def __init__(self, config: Config) -> None:
        self.config = config
        # The code the servers run is the code as it is now, whatever happens to
        # the work tree during the run.
        self.results = RunResults(
            started=datetime.now(UTC),
            config=asdict(config),
            commit=report.commit(),
            load_before=os.getloadavg(),
        )
        self.secret = secrets.token_urlsafe(48)
        self.env = {
            **os.environ,
            "ENVIRONMENT": "production",
            "SECRET_KEY": self.secret,
            "BCRYPT_ROUNDS": str(config.bcrypt_rounds),
            # logIn is the measured work in (e): no rate limit in the way.
            "AUTH_RATE_LIMIT": "",
            "LOGIN_ACCOUNT_RATE_LIMIT": "",
        }
        self.settings = Settings(
            secret_key=self.secret,
            environment="production",
            bcrypt_rounds=config.bcrypt_rounds,
            auth_rate_limit="",
            login_account_rate_limit="",
        )
        self.datasets: dict[str, data.Dataset] = {}
        self.servers: list[Server] = []
        self.targets: list[Target] = []
        self.login_servers: dict[str, Server] = {}

    # -- set-up -----------------------------------------------------------------

    def say(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def skip(self, what: str, reason: str) -> None:
        self.results.skipped.append({"what": what, "reason": reason})
        self.say(f"SKIPPED {what}: {reason}")

    def prepare_data(self) -> None:
        backends = list(self.config.backends)
        if "postgres" in backends:
            problem = asyncio.run(data.postgres_problem())
            if problem:
                self.skip("PostgreSQL backend and PostGraphile", problem)
                backends.remove("postgres")
        hashed = data.password_hash(self.config.bcrypt_rounds)
        crowd = None
        if "f" in self.config.scenarios:
            crowd = (self.config.big_todos, self.config.bulk_todos)
        for backend in backends:
            more = f", {crowd[0]:,} and {crowd[1]:,} todos for (f)" if crowd else ""
            self.say(f"preparing the {backend} data (migrate, seed 200 todos{more})")
            if backend == "sqlite":
                db = WORK_DIR / "bench.db"
                url = f"sqlite:///{db}"
            else:
                asyncio.run(data.recreate_postgres_database())
                url = data.postgres_url()
            self.datasets[backend] = data.prepare(
                backend, url, self.settings, self.env, hashed, crowd
            )
        if "postgres" in self.datasets:
            asyncio.run(data.enable_row_level_security())

    def count_round_trips(self) -> None:
        for backend, dataset in self.datasets.items():
            for counted in count_round_trips(
                self.settings, dataset.url, dataset.reader_token, backend
            ):
                self.results.round_trips.append(
                    {
                        "scenario": counted.scenario,
                        "query": counted.query,
                        "backend": backend,
                        "by_first": counted.by_first,
                        "constant": counted.constant,
                    }
                )

    def plan_servers(self) -> None:
        logs = WORK_DIR / "logs"
        bodies = WORK_DIR / "bodies"
        logs.mkdir(parents=True, exist_ok=True)
        bodies.mkdir(parents=True, exist_ok=True)
        wanted = [s for s in self.config.scenarios if s in CLOSED_LOOP_ORDER]
        for backend, dataset in self.datasets.items():
            env = {**self.env, "DATABASE_URL": dataset.url}
            by_kind: dict[str, Server] = {}
            if wanted:
                by_kind[BASELINE] = baseline_server(f"baseline/{backend}", env, logs)
                by_kind[GRAPHQL_APP] = graphql_app_server(f"graphql_app/{backend}", env, logs)
            if backend == "postgres" and {"a", "b"} & set(wanted):
                problem = postgraphile_problem()
                if problem:
                    self.skip("PostGraphile", problem)
                else:
                    pg = postgraphile_server(
                        "postgraphile/postgres",
                        env,
                        logs,
                        database_url=dataset.url,
                        role=data.POSTGRAPHILE_ROLE,
                        secret=self.secret,
                        audience=self.settings.jwt_audience,
                        issuer=self.settings.jwt_issuer,
                    )
                    by_kind[POSTGRAPHILE_EDGES] = by_kind[POSTGRAPHILE_NODES] = pg
            if backend == "postgres" and {"a", "b", "c"} & set(wanted) and self.config.peers:
                by_kind.update(self._peer_servers(env, logs, dataset.url))
            self.servers += list(dict.fromkeys(by_kind.values()))
            for scenario in wanted:
                for kind, server in by_kind.items():
                    if scenario == "d":
                        if kind in (BASELINE, GRAPHQL_APP):
                            self.targets.append(
                                Target("d", backend, kind, server, None, dataset.writer_token)
                            )
                        continue
                    target = self._read_target(scenario, dataset, kind, server, bodies)
                    if target is not None:
                        self.targets.append(target)
            if "e" in self.config.scenarios:
                server = graphql_app_server(f"login/{backend}", env, logs, workers=2, pin=False)
                self.login_servers[backend] = server
                self.servers.append(server)
        (bodies / "login.json").write_bytes(log_in_call().body or b"")
        page_call = read_call("a", GRAPHQL_APP)
        assert page_call is not None
        (bodies / "page.json").write_bytes(page_call.body or b"")

    def _peer_servers(self, env: dict[str, str], logs: Path, url: str) -> dict[str, Server]:
        """The peers that can run here, by kind; the others are skipped with the reason."""
        peers = {STRAWBERRY_STOCK: strawberry_stock_server("strawberry-stock/postgres", env, logs)}
        for peer, (directory, package) in NODE_PEERS.items():
            problem = node_problem(directory, package)
            if problem:
                self.skip(report.server_name(peer), problem)
                continue
            peers[peer] = node_peer_server(
                peer,
                f"{peer}/postgres",
                env,
                logs,
                database_url=url,
                secret=self.secret,
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
            )
        return peers

    def _read_target(
        self, scenario: str, dataset: data.Dataset, kind: str, server: Server, bodies: Path
    ) -> Target | None:
        call = read_call(scenario, kind)
        if call is None:
            return None
        token = dataset.big_token if scenario == "f" else dataset.reader_token
        target = Target(scenario, dataset.backend, kind, server, call, token)
        if scenario == "f":
            target.expected_total = self.config.big_todos
        if call.body is not None:
            target.body_file = bodies / f"{scenario}-{dataset.backend}-{kind}.json"
            target.body_file.write_bytes(call.body)
        return target

    def start_servers(self) -> None:
        self.say(f"starting {len(self.servers)} servers")
        for server in self.servers:
            server.start()
        for server in self.servers:
            server.wait_ready()
            server.pin()

    def validate(self) -> None:
        """One request per read target: 200, no errors, the page asked for; same JSON."""
        answers: dict[tuple[str, str, str], Any] = {}
        for target in list(self.targets):
            if target.call is None:
                continue
            headers = {"Authorization": f"Bearer {target.token}"}
            if target.call.body is not None:
                headers["Content-Type"] = "application/json"
            answer = httpx.request(
                target.call.method,
                target.server.url + target.call.path,
                content=target.call.body,
                headers=headers,
                timeout=30,
            )
            body = answer.json()
            problem = _page_problem(target, answer.status_code, body)
            if problem:
                self.targets.remove(target)
                self.skip(target.label, f"wrong answer: {problem}")
                continue
            answers[target.scenario, target.backend, target.kind] = body
        for (scenario, backend, kind), body in answers.items():
            if kind != GRAPHQL_APP and kind not in PEERS:
                continue
            other = answers.get((scenario, backend, BASELINE))
            if other is None:
                continue
            same = body == other
            self.results.same_json.append(
                {"scenario": scenario, "backend": backend, "server": kind, "same": same}
            )
            if same:
                continue
            if kind == GRAPHQL_APP:
                self.results.notes.append(
                    f"({scenario}) on {backend}: the baseline's JSON differs from graphql_app's"
                )
                continue
            # A peer that answers something else does other work: no ratio for it.
            for target in list(self.targets):
                if (target.scenario, target.backend, target.kind) == (scenario, backend, kind):
                    self.targets.remove(target)
                    self.skip(target.label, "its JSON differs from the baseline's")

    # -- measuring --------------------------------------------------------------

    def _wrk_run(self, target: Target, seconds: int) -> load.WrkRun:
        env = {"BENCH_AUTHORIZATION": f"Bearer {target.token}"}
        if target.call is None:
            script = "write_mix.lua"
            env["BENCH_DIALECT"] = "rest" if target.kind == BASELINE else "graphql"
            url = target.server.url + ("/" if target.kind == BASELINE else "/graphql")
        else:
            script = "request.lua"
            env["BENCH_METHOD"] = target.call.method
            env["BENCH_BODY_FILE"] = str(target.body_file or "")
            url = target.server.url + target.call.path
        return load.WrkRun(url, script, env, self.config.connections, seconds)

    def _wrk(self, target: Target, seconds: int) -> dict[str, Any]:
        return load.run_wrk(self._wrk_run(target, seconds))

    def closed_loop(self, round_no: int) -> None:
        for scenario in CLOSED_LOOP_ORDER:
            for target in self.targets:
                if target.scenario != scenario:
                    continue
                if self.config.warmup and round_no == 1:
                    self._wrk(target, self.config.warmup)
                result = self._wrk(target, self.config.duration)
                result["round"] = round_no
                target.rounds.append(result)
                flag = ""
                if result["errors"] or result["bad"]:
                    flag = f"  errors={result['errors']} bad={result['bad']}"
                self.say(
                    f"round {round_no} {target.label}: {result['rps']:.0f} req/s, "
                    f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms{flag}"
                )
            if scenario == "d":
                for backend, dataset in self.datasets.items():
                    if any(t.scenario == "d" and t.backend == backend for t in self.targets):
                        data.clear_writer(dataset)

    def _open_loop_run(self, url: str, target: Target, duration: float, warmup: float) -> Any:
        assert target.call is not None
        return load.OpenLoopRun(
            url=url + target.call.path,
            method=target.call.method,
            body_file=target.body_file,
            authorization=f"Bearer {target.token}",
            rate=self.config.rate,
            duration=duration,
            warmup=warmup,
        )

    def _fixed_rate_targets(self) -> list[Target]:
        """(a) on every server but the peers: the latency targets are graphql_app's, and
        the peers' fixed-rate cells would cost about a minute of the run."""
        return [t for t in self.targets if t.scenario == "a" and t.kind not in PEERS]

    def fixed_rate(self, round_no: int) -> None:
        for target in self._fixed_rate_targets():
            run = self._open_loop_run(
                target.server.url,
                target,
                self.config.open_loop_duration,
                self.config.open_loop_warmup,
            )
            result = load.run_open_loop(run)
            result.update(round=round_no, scenario="a", backend=target.backend, kind=target.kind)
            self.results.open_loop.append(result)
            self.say(
                f"round {round_no} fixed rate {self.config.rate:g}/s {target.label}: "
                f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms"
                + (
                    f"  failed={result['failed']} bad={result['bad']}"
                    if result["failed"] or result["bad"]
                    else ""
                )
            )

    def bcrypt_check_seconds(self, password_hash: str) -> float:
        """The median time of one bcrypt check at the run's cost, in this process."""
        times = []
        for _ in range(3):
            started = time.perf_counter()
            bcrypt.checkpw(data.READER_PASSWORD.encode(), password_hash.encode())
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def warm_login_servers(self) -> None:
        """One logIn (it must succeed) and a second of (a) on each 2-worker server.

        Each worker opens its database connections and runs its first
        GraphQL operations here, not in the measured (a) samples.
        """
        for backend, server in self.login_servers.items():
            answer = httpx.post(
                server.url + "/graphql",
                content=log_in_call().body,
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            if answer.status_code != 200 or "errors" in answer.json():
                raise RuntimeError(f"logIn fails on login/{backend}: {answer.text[:300]}")
            load.run_wrk(self._wrk_run(self._login_page(backend, server), 1))

    def _login_page(self, backend: str, server: Server) -> Target:
        call = read_call("a", GRAPHQL_APP)
        body_file = WORK_DIR / "bodies" / "page.json"
        token = self.datasets[backend].reader_token
        return Target("a", backend, GRAPHQL_APP, server, call, token, body_file)

    def log_in(self, round_no: int) -> None:
        if not self.login_servers:
            return
        # Measured while nothing else runs: the servers are idle between cells.
        check = self.bcrypt_check_seconds(next(iter(self.datasets.values())).password_hash)
        for backend, server in self.login_servers.items():
            page = self._login_page(backend, server)
            # (a) at the fixed rate on this 2-worker server, first alone ...
            quiet = load.run_open_loop(
                self._open_loop_run(
                    server.url, page, self.config.open_loop_duration, self.config.open_loop_warmup
                )
            )
            # ... then while 8 clients log in without pause.
            busy_warmup = 1.0 if not self.config.quick else 0.5
            busy_duration = max(1.0, self.config.login_duration - busy_warmup - 0.5)
            beside = load.start_open_loop(
                self._open_loop_run(server.url, page, busy_duration, busy_warmup)
            )
            try:
                logins = load.run_wrk(
                    load.WrkRun(
                        server.url + "/graphql",
                        "request.lua",
                        {
                            "BENCH_METHOD": "POST",
                            "BENCH_BODY_FILE": str(WORK_DIR / "bodies" / "login.json"),
                        },
                        self.config.login_connections,
                        self.config.login_duration,
                    )
                )
            finally:
                busy = load.finish_open_loop(beside, busy_warmup + busy_duration + 60)
            # wrk stops with logIns in flight; let their bcrypt work finish
            # before anything else is measured.
            time.sleep(self.config.login_connections * check / 2 + 0.5)
            capacity = 2 / check
            result = {
                "round": round_no,
                "backend": backend,
                "logins_per_s": logins["rps"],
                "login_p50_ms": logins["p50_ms"],
                "login_p99_ms": logins["p99_ms"],
                "login_errors": logins["errors"],
                "login_bad": logins["bad"],
                "bcrypt_check_s": check,
                "capacity_per_s": capacity,
                "ratio": logins["rps"] / capacity,
                "page_quiet": quiet,
                "page_under_login": busy,
            }
            self.results.login.append(result)
            self.say(
                f"round {round_no} (e) {backend}: {logins['rps']:.2f} logIn/s "
                f"(2 cores ÷ {check * 1000:.0f} ms = {capacity:.2f}/s, "
                f"ratio {result['ratio']:.2f}); "
                f"(a) at {self.config.rate:g}/s p99 {quiet['p99_ms']:.2f} ms alone, "
                f"{busy['p99_ms']:.2f} ms beside logIn"
                + (f"  bad logins={logins['bad']}" if logins["bad"] or logins["errors"] else "")
            )

    def profile_servers(self, stamp: str) -> None:
        if profile.py_spy() is None:
            self.skip("profile", "py-spy is not installed (pip install -e '.[bench]')")
            return
        for target in self.targets:
            if target.scenario != "a" or target.kind != GRAPHQL_APP:
                continue
            assert target.server.process is not None
            raw = WORK_DIR / f"profile-{target.backend}.txt"
            seconds = self.config.profile_duration
            command, env = load.wrk_command(self._wrk_run(target, seconds + 1))
            wrk = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                time.sleep(0.5)  # wrk connected and the server busy before sampling
                profile.record(target.server.process.pid, seconds, raw)
            finally:
                wrk.wait(timeout=seconds + 30)
            summary = profile.summarise(raw)
            self.results.profiles[target.backend] = profile.profile_json(summary)
            self.results.profile_md.append(
                profile.profile_markdown(
                    summary, f"graphql_app on {target.backend}, scenario (a), under wrk load"
                )
            )
            shutil.copy(raw, RESULTS_DIR / f"{stamp}-profile-{target.backend}.txt")
            self.say(f"profiled graphql_app/{target.backend}: {summary.samples} samples")

    def bulk_mutations(self) -> None:
        """(f): each bulk mutation once over the bulk user's todos, timed from outside."""
        for target in self.targets:
            if target.scenario != "f":
                continue
            dataset = self.datasets[target.backend]
            headers = {"Authorization": f"Bearer {dataset.bulk_token}"}
            for name, query in (
                ("setAllTodosCompleted", SET_ALL_COMPLETED),
                ("clearCompletedTodos", CLEAR_COMPLETED),
            ):
                started = time.perf_counter()
                answer = httpx.post(
                    target.server.url + "/graphql",
                    json={"query": query},
                    headers=headers,
                    timeout=120,
                )
                seconds = time.perf_counter() - started
                body = answer.json()
                changed = (body.get("data") or {}).get(name)
                row = {
                    "backend": target.backend,
                    "mutation": name,
                    "todos": self.config.bulk_todos,
                    "seconds": round(seconds, 3),
                    "status": answer.status_code,
                    "changed": changed,
                    "errors": body.get("errors"),
                }
                self.results.bulk.append(row)
                self.say(
                    f"(f) {target.backend} {name} over {self.config.bulk_todos:,} todos: "
                    f"{seconds:.2f} s, answered {changed}"
                )
                if changed != self.config.bulk_todos:
                    self.results.notes.append(f"(f) {target.backend} {name}: {str(body)[:300]}")

    # -- the whole run ------------------------------------------------------------

    def execute(self) -> RunResults:
        results = self.results
        stamp = results.started.strftime("%Y%m%dT%H%M%SZ")
        clock = time.monotonic()
        if WORK_DIR.exists():
            shutil.rmtree(WORK_DIR)
        WORK_DIR.mkdir(parents=True)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        if results.load_before[0] > BUSY_LOAD:
            self.say(
                f"the machine is busy before the run (load average {results.load_before[0]:.2f}): "
                "other processes share the two cores, and the numbers will be noisy"
            )
        self.prepare_data()
        if "c" in self.config.scenarios or "a" in self.config.scenarios:
            self.say("counting storage round trips in-process (first=5 vs first=100)")
            self.count_round_trips()
        self.plan_servers()
        open_cells = len(self._fixed_rate_targets())
        estimate = self.config.estimate_seconds(len(self.targets), open_cells)
        self.say(
            f"{len(self.targets)} measurements a round, {self.config.rounds} rounds: "
            f"about {estimate / 60:.1f} minutes"
        )
        try:
            self.start_servers()
            self.validate()
            self.warm_login_servers()
            for round_no in range(1, self.config.rounds + 1):
                self.closed_loop(round_no)
                self.fixed_rate(round_no)
            # (e) once: logIn/s is bcrypt's work (its ratio to capacity moved 0.79-0.90
            # between rounds), and three times over it cost a minute of a 10-minute run.
            self.log_in(self.config.rounds)
            self.bulk_mutations()
            if self.config.profile and "a" in self.config.scenarios:
                self.profile_servers(stamp)
        finally:
            for server in self.servers:
                server.stop()
        results.finished = datetime.now(UTC)
        results.elapsed_s = time.monotonic() - clock
        results.closed_loop = [Cell(t.scenario, t.backend, t.kind, t.rounds) for t in self.targets]
        return results


def _page_problem(target: Target, status: int, body: Any) -> str | None:
    if status != 200:
        return f"HTTP {status}: {str(body)[:200]}"
    if not isinstance(body, dict) or "errors" in body or "data" not in body:
        return str(body)[:300]
    root = body["data"]
    first = FIRST[target.scenario]
    with contextlib.suppress(KeyError, TypeError):
        if target.scenario == "c":
            edges = root["me"]["todos"]["edges"]
            return None if len(edges) == first else f"{len(edges)} edges"
        connection = root.get("todos") or root.get("allTodos")
        items = connection.get("edges") or connection.get("nodes")
        total = target.expected_total or data.TODO_COUNT
        if connection["totalCount"] != total or len(items) != first:
            return f"totalCount {connection['totalCount']}, {len(items)} items"
        return None
    return f"unexpected shape: {str(body)[:300]}"


def run(config: Config) -> dict[str, Any]:
    """Run the bench, write bench/results/, return the results as written in the JSON."""
    return report.write(Run(config).execute())
