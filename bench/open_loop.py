"""Open-loop HTTP load: requests at a fixed rate, whatever the server answers.

wrk is a closed loop: each connection waits for its answer before sending
again, so a slow response delays the requests behind it and they are never
measured as late (coordinated omission); its p99 at saturation is mostly
queueing. Here request i is due at start + i/rate, sent on a free keep-alive
connection (a new one when all are busy, up to --connections), and its
latency runs from that SCHEDULED time to the last byte of the answer. At a
rate well under the server's capacity, the p99 is the service time.

Sends are timed by a thread sleeping to each due time (clock_nanosleep is
precise to ~0.1 ms; the event loop's timers round to whole milliseconds)
which hands the request to the event loop doing the I/O. `send_lag` in the
output tells how late sends left (the generator's own error).

    python -m bench.open_loop --url http://127.0.0.1:8000/graphql --rate 100 \
        --duration 5 --method POST --body-file query.json

The Authorization header comes from the BENCH_AUTHORIZATION environment
variable (not the command line, which other users can read). Prints one JSON
object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


class Connection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reusable = True

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send `request`, read the whole answer: (status, body)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and "close" in value.lower():
                self.reusable = False
        if chunked:
            body = await self._read_chunked()
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read()
            self.reusable = False
        return status, body

    async def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readline()).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await self.reader.readline()) not in (b"\r\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size + 2))

    def close(self) -> None:
        self.writer.close()


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    send_lags: list[float] = field(default_factory=list)
    errors: int = 0
    bad: int = 0
    completed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        url = urlsplit(args.url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        body = Path(args.body_file).read_bytes() if args.body_file else b""
        headers = [
            f"{args.method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Accept: application/json",
        ]
        authorization = os.environ.get("BENCH_AUTHORIZATION")
        if authorization:
            headers.append(f"Authorization: {authorization}")
        if body:
            headers += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.request = ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body
        self.rate: float = args.rate
        self.duration: float = args.duration
        self.warmup: float = args.warmup
        self.max_connections: int = args.connections
        self.timeout: float = args.timeout
        self.check_errors: bool = args.check_graphql_errors
        self.idle: list[Connection] = []
        self.opened = 0
        self.slot_freed = asyncio.Event()
        self.tally = Tally()
        self.warm = Tally()

    async def _connect(self) -> Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return Connection(reader, writer)

    async def _acquire(self) -> Connection:
        while True:
            if self.idle:
                return self.idle.pop()
            if self.opened < self.max_connections:
                self.opened += 1
                try:
                    return await self._connect()
                except BaseException:
                    self.opened -= 1
                    raise
            self.slot_freed.clear()
            await self.slot_freed.wait()

    def _release(self, conn: Connection | None) -> None:
        if conn is not None and conn.reusable:
            self.idle.append(conn)
        else:
            self.opened -= 1
            if conn is not None:
                conn.close()
        self.slot_freed.set()

    async def one(self, scheduled: float, tally: Tally) -> None:
        tally.send_lags.append(time.perf_counter() - scheduled)
        conn: Connection | None = None
        try:
            conn = await self._acquire()
            status, body = await asyncio.wait_for(conn.exchange(self.request), self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            tally.errors += 1
            if conn is not None:
                conn.reusable = False
            self._release(conn)
            return
        tally.latencies.append(time.perf_counter() - scheduled)
        tally.completed += 1
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if status != 200 or (self.check_errors and b'"errors"' in body):
            tally.bad += 1
        self._release(conn)

    async def run(self) -> dict[str, object]:
        loop = asyncio.get_running_loop()
        # A few warm connections, so connection set-up is not in the first samples.
        for _ in range(min(4, self.max_connections)):
            self.idle.append(await self._connect())
            self.opened += 1
        tasks: set[asyncio.Task[None]] = set()
        warm_count = round(self.rate * self.warmup)
        total = warm_count + round(self.rate * self.duration)
        start = time.perf_counter() + 0.02
        stop = threading.Event()

        def launch(scheduled: float, tally: Tally) -> None:
            task = loop.create_task(self.one(scheduled, tally))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        def pace() -> None:
            # The sending clock: sleeps to each due time, then hands over.
            for i in range(total):
                if stop.is_set():
                    return
                scheduled = start + i / self.rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                tally = self.warm if i < warm_count else self.tally
                loop.call_soon_threadsafe(launch, scheduled, tally)

        sys.setswitchinterval(0.0005)  # let the pacing thread take the GIL promptly
        pacer = threading.Thread(target=pace, name="pacer", daemon=True)
        pacer.start()
        try:
            await asyncio.to_thread(pacer.join)
            deadline = time.perf_counter() + self.timeout
            while tasks and time.perf_counter() < deadline:
                await asyncio.wait(set(tasks), timeout=max(0.0, deadline - time.perf_counter()))
        finally:
            stop.set()
            for task in list(tasks):
                task.cancel()
            for conn in self.idle:
                conn.close()
        elapsed = time.perf_counter() - start
        return self.summary(total - warm_count, elapsed)

    def summary(self, scheduled: int, elapsed: float) -> dict[str, object]:
        lat = sorted(self.tally.latencies)
        lags = sorted(self.tally.send_lags)
        ms = 1000.0
        return {
            "rate": self.rate,
            "duration_s": self.duration,
            "scheduled": scheduled,
            "completed": self.tally.completed,
            # Refused, reset, timed out or never answered before the end.
            "failed": scheduled - self.tally.completed,
            "bad": self.tally.bad,
            "statuses": {str(k): v for k, v in sorted(self.tally.statuses.items())},
            "p50_ms": percentile(lat, 0.50) * ms,
            "p90_ms": percentile(lat, 0.90) * ms,
            "p99_ms": percentile(lat, 0.99) * ms,
            "p999_ms": percentile(lat, 0.999) * ms,
            "max_ms": (lat[-1] if lat else 0.0) * ms,
            "send_lag_p99_ms": percentile(lags, 0.99) * ms,
            "send_lag_max_ms": (lags[-1] if lags else 0.0) * ms,
            "connections_opened": self.opened,
            "elapsed_s": elapsed,
        }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.open_loop", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body-file", help="request body (sent as application/json)")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=0.0, help="unmeasured seconds first")
    parser.add_argument("--connections", type=int, default=64, help="most connections open")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument(
        "--check-graphql-errors",
        action="store_true",
        help='count a 200 answer whose body has "errors" as bad',
    )
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run = uvloop.run  # cheaper I/O: more of the measured time is the server's
    result = run(Generator(args).run())
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
