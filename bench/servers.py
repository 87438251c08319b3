"""The compared servers as real processes: start, wait until they answer, stop.

Every server listens on 127.0.0.1 on a free port, is pinned to the server
core with taskset when taskset exists (the logIn server, with two workers,
gets both cores), and writes its log to the run's work folder. Servers start
on both cores (their imports would otherwise queue on one) and are pinned,
every thread of them, once they answer.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
POSTGRAPHILE_DIR = ROOT / "bench" / "postgraphile"
APOLLO_DIR = ROOT / "bench" / "apollo"
YOGA_DIR = ROOT / "bench" / "yoga"
# The Node peers: their folder and the package whose presence says `npm ci` ran.
NODE_PEERS = {"apollo": (APOLLO_DIR, "@apollo/server"), "yoga": (YOGA_DIR, "graphql-yoga")}
SERVER_CORE = "0"
LOAD_CORE = "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(command: list[str], core: str | None) -> list[str]:
    """`command` under `taskset -c core` where taskset exists and a core is asked for."""
    if core is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", core, *command]


@dataclass(eq=False)  # compared and hashed by identity: one process, one object
class Server:
    """One running server process (or the plan for one)."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    ready_call: tuple[str, str, bytes | None]  # method, path, body answering 200 when up
    port: int = field(default_factory=free_port)
    core: str | None = SERVER_CORE  # pinned there once ready; None: left on every core
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our own process group: stopped as one
            )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Return when the server answers its ready call with 200; RuntimeError otherwise."""
        assert self.process is not None
        method, path, body = self.ready_call
        deadline = time.monotonic() + timeout
        headers = {"content-type": "application/json"} if body else {}
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                answer = httpx.request(
                    method, self.url + path, content=body, headers=headers, timeout=2
                )
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer in {timeout}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def pin(self) -> None:
        """Move every thread of the server onto its core (`taskset -a -p`)."""
        if self.core is None or self.process is None or shutil.which("taskset") is None:
            return
        subprocess.run(
            ["taskset", "-a", "-p", "-c", self.core, str(self.process.pid)],
            check=True,
            capture_output=True,
            timeout=10,
        )

    def stop(self) -> None:
        """SIGTERM to this server's own process group; SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def graphql_app_server(
    name: str, env: dict[str, str], log_dir: Path, *, workers: int = 1, pin: bool = True
) -> Server:
    """`python -m graphql_app serve`, as an operator runs it."""
    port = free_port()
    command = [sys.executable, "-m", "graphql_app", "serve", "--port", str(port)]
    if workers != 1:
        command += ["--workers", str(workers)]
    return Server(
        name=name,
        command=command,
        env=env,
        log_path=log_dir / f"{name.replace('/', '-')}.log",
        ready_call=("GET", "/healthz", None),
        port=port,
        core=SERVER_CORE if pin else None,
    )


def _python_server(name: str, module: str, env: dict[str, str], log_dir: Path) -> Server:
    """`python -m module --port N`, ready when /healthz answers."""
    port = free_port()
    return Server(
        name=name,
        command=[sys.executable, "-m", module, "--port", str(port)],
        env=env,
        log_path=log_dir / f"{name.replace('/', '-')}.log",
        ready_call=("GET", "/healthz", None),
        port=port,
    )


def baseline_server(name: str, env: dict[str, str], log_dir: Path) -> Server:
    """bench/baseline_app.py under uvicorn, with graphql_app's serve options."""
    return _python_server(name, "bench.baseline_app", env, log_dir)


def strawberry_stock_server(name: str, env: dict[str, str], log_dir: Path) -> Server:
    """bench/strawberry_stock.py under uvicorn, with the REST baseline's options."""
    return _python_server(name, "bench.strawberry_stock", env, log_dir)


def node_problem(directory: Path, package: str) -> str | None:
    """Why the Node server in `directory` cannot run here (None when it can).

    Its packages come from its package-lock.json (`npm ci`), installed when
    node_modules lacks `package` or was installed from another lock file (a
    stamp in node_modules records the lock's hash).
    """
    if shutil.which("node") is None:
        return "node and npm are needed: node is not installed (apt-get install -y nodejs npm)"
    lock = hashlib.sha256((directory / "package-lock.json").read_bytes()).hexdigest()
    stamp = directory / "node_modules" / ".installed-from-lock"
    installed = stamp.exists() and stamp.read_text().strip() == lock
    if not installed or not (directory / "node_modules" / package).is_dir():
        if shutil.which("npm") is None:
            return "node and npm are needed: npm is not installed (apt-get install -y npm)"
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            where = directory.relative_to(ROOT)
            return f"npm ci failed in {where}:\n{result.stdout}{result.stderr}"
        stamp.write_text(lock)
    return None


def postgraphile_problem() -> str | None:
    """Why PostGraphile cannot run here (None when node is installed)."""
    return node_problem(POSTGRAPHILE_DIR, "postgraphile")


def _node_server(
    name: str, script: Path, env: dict[str, str], log_dir: Path, settings: dict[str, str]
) -> Server:
    """`node script` in production, told PORT and `settings` by its environment."""
    port = free_port()
    return Server(
        name=name,
        command=["node", str(script)],
        env={**env, "NODE_ENV": "production", "PORT": str(port), **settings},
        log_path=log_dir / f"{name.replace('/', '-')}.log",
        # No token needed, and allowed with introspection off.
        ready_call=("POST", "/graphql", b'{"query": "{ __typename }"}'),
        port=port,
    )


def _token_settings(database_url: str, secret: str, audience: str, issuer: str) -> dict[str, str]:
    """The database and graphql_app's token settings, as the Node servers read them."""
    return {
        "DATABASE_URL": database_url,
        "JWT_SECRET": secret,
        "JWT_AUDIENCE": audience,
        "JWT_ISSUER": issuer,
    }


def postgraphile_server(
    name: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    database_url: str,
    role: str,
    secret: str,
    audience: str,
    issuer: str,
) -> Server:
    """bench/postgraphile/server.js under node."""
    settings = _token_settings(database_url, secret, audience, issuer)
    return _node_server(
        name, POSTGRAPHILE_DIR / "server.js", env, log_dir, {**settings, "PG_ROLE": role}
    )


def node_peer_server(
    peer: str,
    name: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    database_url: str,
    secret: str,
    audience: str,
    issuer: str,
) -> Server:
    """bench/apollo/server.js or bench/yoga/server.js (`peer`) under node."""
    directory, _ = NODE_PEERS[peer]
    settings = _token_settings(database_url, secret, audience, issuer)
    return _node_server(name, directory / "server.js", env, log_dir, settings)
