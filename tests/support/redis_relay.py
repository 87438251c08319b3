"""A TCP relay to the test Redis that a test cuts and restores, as a network failure would."""

from __future__ import annotations

import asyncio
import contextlib

from tests.support.backends import REDIS_URL
from tests.support.live_server import free_port


class Relay:
    """A TCP relay to Redis that the test can cut, and restore on the same port.

    `cut_on`: it cuts every connection, for good, as a client sends a command
    holding those bytes (`tripped` then says so).
    """

    def __init__(self, *, cut_on: bytes | None = None) -> None:
        self.port = free_port()
        self.cut_on = cut_on
        self.tripped = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/15"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port = REDIS_URL.split("//", 1)[1].split("/", 1)[0].partition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port or 6379))
        self._writers |= {writer, up_writer}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    if sink is up_writer and self.cut_on is not None and self.cut_on in data:
                        self.tripped = True
                        await self.cut()
                        return
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
