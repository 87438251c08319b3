"""`python -m bench.hostile`: what hostile connections cost a real server (issue 11).

Starts `python -m graphql_app serve` (production, SQLite, one worker) and
measures, from outside the process:

1. header flood: 40 concurrent connections each trying to send a 16 MB
   header; the server's RSS before and after (from /proc);
2. slowloris: 1,000 connections sending their headers a line per second
   (reopened as the server closes them), while one client sends
   `{ __typename }` at a fixed rate over a keep-alive connection; the
   latency percentiles of those normal requests, and how many slow
   connections the server closed.

`--server uvicorn` runs plain `uvicorn --http httptools` on the same app
instead, for the numbers before graphql_app/http/server_protocol.py.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.servers import LOAD_CORE, SERVER_CORE, free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = secrets.token_urlsafe(48)  # a throwaway server


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(kind: str, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ENVIRONMENT": "production",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": f"sqlite:///{workdir}/hostile.db",
        "LOG_LEVEL": "WARNING",
    }
    python = sys.executable
    subprocess.run([python, "-m", "graphql_app", "migrate"], cwd=ROOT, env=env, check=True)
    if kind == "graphql_app":
        command = [python, "-m", "graphql_app", "serve", "--port", str(port)]
    else:
        command = [
            python, "-m", "uvicorn", "graphql_app.app:create_app_from_env", "--factory",
            "--http", "httptools", "--port", str(port), "--no-access-log",
        ]  # fmt: skip
    if shutil.which("taskset"):
        command = ["taskset", "-c", SERVER_CORE, *command]
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def header_flood(port: int, connections: int, megabytes: int) -> int:
    """Bytes the server took before it refused, over all connections."""
    head = b"GET /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    piece = b"a" * 1_048_576
    sent: list[int] = []

    async def one() -> None:
        total = 0
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head)
            for _ in range(megabytes):
                writer.write(piece)
                await asyncio.wait_for(writer.drain(), 30)
                total += len(piece)
            writer.close()
        except (OSError, TimeoutError):
            pass
        sent.append(total)

    async def all_of_them() -> None:
        await asyncio.gather(*(one() for _ in range(connections)))

    asyncio.run(all_of_them())
    return sum(sent)


class Slowloris:
    """`count` connections sending a header line per second, reopened when closed."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self._stop = multiprocessing.Event()
        self._open = multiprocessing.Value("i", 0)
        self._closed = multiprocessing.Value("i", 0)
        # A process of its own: its event loop must not hold the measuring client's GIL.
        self._process = multiprocessing.Process(target=self._main, daemon=True)

    def _main(self) -> None:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))  # on whichever core is free
        asyncio.run(self._run())

    @property
    def open(self) -> int:
        return int(self._open.value)

    @property
    def closed_by_server(self) -> int:
        return int(self._closed.value)

    async def _one(self) -> None:
        while not self._stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            with self._open.get_lock():
                self._open.value += 1
            try:
                writer.write(b"GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: x\r\n")
                while not self._stop.is_set():
                    await asyncio.sleep(1)
                    if reader.at_eof() or writer.is_closing():
                        break
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()
                    try:
                        if await asyncio.wait_for(reader.read(65536), 0.001) == b"":
                            break
                    except TimeoutError:
                        continue
                    break  # the server answered (408): it will close
                else:
                    writer.close()
                    return
            except OSError:
                pass
            finally:
                with self._open.get_lock():
                    self._open.value -= 1
            if not self._stop.is_set():
                with self._closed.get_lock():
                    self._closed.value += 1

    async def _run(self) -> None:
        tasks = [asyncio.create_task(self._one()) for _ in range(self.count)]
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> Slowloris:
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.terminate()


def latencies(port: int, seconds: float, rate: float) -> tuple[list[float], int]:
    """Milliseconds of `{ __typename }` sent every 1/rate s, and how many failed."""
    result: list[float] = []
    failed = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        start = time.monotonic()
        sent = 0
        while (now := time.monotonic()) - start < seconds:
            due = start + sent / rate
            if now < due:
                time.sleep(due - now)
            sent += 1
            began = time.perf_counter()
            try:
                response = client.post("/graphql", json={"query": "{ __typename }"})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                result.append((time.perf_counter() - began) * 1000)
            else:
                failed += 1
    return result, failed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("--server", choices=("graphql_app", "uvicorn"), default="graphql_app")
    parser.add_argument("--slow", type=int, default=1000, help="slow-header connections")
    parser.add_argument("--seconds", type=float, default=20, help="of normal requests, each phase")
    parser.add_argument("--rate", type=float, default=50, help="normal requests per second")
    args = parser.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {int(LOAD_CORE)})
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        process = start(args.server, Path(tmp), port)
        try:
            latencies(port, 1, args.rate)  # warm-up
            cpu_before, clock = cpu_seconds(process.pid), time.monotonic()
            baseline, _ = latencies(port, args.seconds, args.rate)
            cpu_alone = (cpu_seconds(process.pid) - cpu_before) / (time.monotonic() - clock)
            before = rss_mb(process.pid)
            taken = header_flood(port, 40, 16)
            after = rss_mb(process.pid)
            print(f"server: {args.server}")
            print(
                f"header flood, 40 x 16 MB: RSS {before:.0f} -> {after:.0f} MB"
                f" (+{after - before:.1f} MB); the clients got {taken / 1_048_576:.1f} MB"
                " written before the server cut them off"
            )
            print(
                f"alone: p50 {statistics.median(baseline):.1f} ms,"
                f" p99 {percentile(baseline, 0.99):.1f} ms; server CPU {cpu_alone:.0%}"
            )
            with Slowloris(port, args.slow) as slow:
                deadline = time.monotonic() + 30
                while slow.open < args.slow and time.monotonic() < deadline:
                    time.sleep(0.1)
                opened = slow.open
                cpu_before, clock = cpu_seconds(process.pid), time.monotonic()
                times, failed = latencies(port, args.seconds, args.rate)
                cpu_slow = (cpu_seconds(process.pid) - cpu_before) / (time.monotonic() - clock)
                closed = slow.closed_by_server
            print(
                f"with {opened} slow-header connections open: {len(times)} requests,"
                f" {failed} failed, p50 {statistics.median(times):.1f} ms,"
                f" p99 {percentile(times, 0.99):.1f} ms, max {max(times):.1f} ms;"
                f" server CPU {cpu_slow:.0%}; {closed} slow connections closed by the server"
            )
            print(f"server RSS at the end: {rss_mb(process.pid):.0f} MB")
        finally:
            process.terminate()
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
