"""An FQL v4 emulator: a test double of the FaunaDB core's HTTP API (see fauna-notes.md).

with FaunaEmulator() as emu:
    client = FaunaClient(secret="secret", domain="127.0.0.1", scheme="http", port=emu.port)
"""

from .errors import QueryError
from .server import FaunaEmulator
from .values import Ref, Ts

__all__ = ["FaunaEmulator", "QueryError", "Ref", "Ts"]
