"""The load generators, pinned to the load core: wrk (closed loop) and open_loop.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.servers import LOAD_CORE, ROOT, pinned

WRK_DIR = ROOT / "bench" / "wrk"
WRK_MISSING = (
    "wrk is not installed: the bench drives the servers with it.\n"
    "Install it from Debian's packages:  apt-get install -y wrk"
)


def wrk_missing() -> bool:
    return shutil.which("wrk") is None


@dataclass(frozen=True)
class WrkRun:
    """What to run: URL, script, and the script's environment."""

    url: str
    script: str  # a file in bench/wrk/
    env: dict[str, str]
    connections: int
    duration: int  # whole seconds: wrk takes no less
    threads: int = 1
    core: str | None = LOAD_CORE


def wrk_command(run: WrkRun) -> tuple[list[str], dict[str, str]]:
    """The wrk command line (pinned to the load core) and its environment."""
    command = pinned(
        [
            "wrk",
            f"-t{run.threads}",
            f"-c{run.connections}",
            f"-d{run.duration}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_DIR / run.script),
            run.url,
        ],
        run.core,
    )
    return command, {**os.environ, "BENCH_WRK_DIR": str(WRK_DIR), **run.env}


def run_wrk(run: WrkRun) -> dict[str, Any]:
    """Run wrk and return its BENCH_RESULT line (see wrk/report.lua), plus requests/s."""
    command, env = wrk_command(run)
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=run.duration + 60, check=False
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            data: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            seconds = data["duration_us"] / 1e6
            data["rps"] = data["requests"] / seconds if seconds else 0.0
            data["p50_ms"] = data["p50_us"] / 1000
            data["p90_ms"] = data["p90_us"] / 1000
            data["p99_ms"] = data["p99_us"] / 1000
            data["errors"] = (
                data["connect_errors"]
                + data["read_errors"]
                + data["write_errors"]
                + data["status_errors"]
                + data["timeouts"]
            )
            return data
    raise RuntimeError(
        f"wrk gave no result (exit {result.returncode}):\n{result.stdout}{result.stderr}"
    )


@dataclass(frozen=True)
class OpenLoopRun:
    url: str
    method: str
    body_file: Path | None
    authorization: str | None
    rate: float
    duration: float
    warmup: float
    connections: int = 64
    core: str | None = LOAD_CORE


def open_loop_command(run: OpenLoopRun) -> tuple[list[str], dict[str, str]]:
    command = [
        sys.executable,
        "-m",
        "bench.open_loop",
        "--url",
        run.url,
        "--method",
        run.method,
        "--rate",
        str(run.rate),
        "--duration",
        str(run.duration),
        "--warmup",
        str(run.warmup),
        "--connections",
        str(run.connections),
        "--check-graphql-errors",
    ]
    if run.body_file is not None:
        command += ["--body-file", str(run.body_file)]
    env = dict(os.environ)
    if run.authorization:
        env["BENCH_AUTHORIZATION"] = run.authorization
    if os.geteuid() == 0 and shutil.which("nice"):
        # The measuring client must not wait behind the server's own threads on
        # the load core (logIn's bcrypt threads use both cores): its timing
        # error would count as the server's latency. It uses little CPU.
        command = ["nice", "-n", "-10", *command]
    return pinned(command, run.core), env


def start_open_loop(run: OpenLoopRun) -> subprocess.Popen[str]:
    """Start the open-loop generator as its own process; finish with `finish_open_loop`."""
    command, env = open_loop_command(run)
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_open_loop(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    if process.returncode != 0 or not out.strip():
        raise RuntimeError(f"open_loop failed (exit {process.returncode}):\n{out}{err}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run_open_loop(run: OpenLoopRun) -> dict[str, Any]:
    """Run the open-loop generator to the end and return its summary."""
    process = start_open_loop(run)
    return finish_open_loop(process, run.warmup + run.duration + 60)
