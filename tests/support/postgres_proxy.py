"""A TCP proxy in front of PostgreSQL that tests cut (like a crash) and restore.

It also reads the statements that cross it, so tests can count what a
storage call really sends on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.backends import POSTGRES_URL
from tests.support.postgres_backend import fresh_schema

T = TypeVar("T")
WAIT = 10.0  # the longest any single step may take

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


async def bounded(call: Awaitable[T]) -> T:
    return await asyncio.wait_for(call, WAIT)


class _Sniffer:
    """Reads the frontend side of one connection: records each statement run."""

    def __init__(self, record: Callable[[str], None]) -> None:
        self._record = record
        self._buffer = bytearray()
        self._started = False
        self._prepared: dict[bytes, str] = {}
        self._portals: dict[bytes, str] = {}

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if not self._started:  # untyped start-up packets: length, code
                if len(self._buffer) < 8:
                    return
                length = int.from_bytes(self._buffer[:4], "big")
                if len(self._buffer) < length:
                    return
                code = int.from_bytes(self._buffer[4:8], "big")
                del self._buffer[:length]
                self._started = code not in (_SSL_REQUEST, _GSSENC_REQUEST)
                continue
            if len(self._buffer) < 5:
                return
            length = int.from_bytes(self._buffer[1:5], "big")
            if len(self._buffer) < 1 + length:
                return
            kind, body = chr(self._buffer[0]), bytes(self._buffer[5 : 1 + length])
            del self._buffer[: 1 + length]
            self._message(kind, body)

    def _message(self, kind: str, body: bytes) -> None:
        if kind == "Q":  # simple query
            self._record(body.rstrip(b"\0").decode())
        elif kind == "P":  # parse: statement name, text
            name, text, _ = body.split(b"\0", 2)
            self._prepared[name] = text.decode()
        elif kind == "B":  # bind: portal name, statement name
            portal, name, _ = body.split(b"\0", 2)
            self._portals[portal] = self._prepared.get(name, "?")
        elif kind == "E":  # execute: portal name
            self._record(self._portals.get(body.split(b"\0", 1)[0], "?"))


class Proxy:
    """A TCP proxy to PostgreSQL that a test can cut (like a crash) and restore."""

    def __init__(self) -> None:
        target = urlsplit(POSTGRES_URL)
        self.target = (target.hostname or "127.0.0.1", target.port or 5432)
        self.port = 0
        self.accepted = 0
        self.statements: list[str] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    def url(self, **query: str) -> str:
        """POSTGRES_URL through the proxy, in clear text so the proxy can read it."""
        parts = urlsplit(POSTGRES_URL)
        netloc = parts.netloc.rpartition("@")[0] + "@" if "@" in parts.netloc else ""
        params = "&".join(f"{k}={v}" for k, v in {"sslmode": "disable", **query}.items())
        return urlunsplit((parts.scheme, f"{netloc}127.0.0.1:{self.port}", parts.path, params, ""))

    async def start(self) -> None:
        """Listen (again, on the same port once it has one)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if server is not None:
            await bounded(server.wait_closed())
        if self._handlers:
            await bounded(asyncio.gather(*self._handlers, return_exceptions=True))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.accepted += 1
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                return
            self._writers.add(up_writer)
            sniffer = _Sniffer(self.statements.append)
            try:
                await asyncio.gather(
                    self._pump(reader, up_writer, sniffer.feed),
                    self._pump(up_reader, writer, None),
                )
            finally:
                self._writers.discard(up_writer)
                up_writer.transport.abort()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            self._handlers.discard(task)

    @staticmethod
    async def _pump(
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        sniff: Callable[[bytes], None] | None,
    ) -> None:
        try:
            while data := await source.read(65536):
                if sniff is not None:
                    sniff(data)
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.transport.abort()  # one side gone: so is the other


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    proxy = Proxy()
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    async with fresh_schema() as name:
        yield name
