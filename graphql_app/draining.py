"""Draining on SIGTERM: readiness goes 503 before the listener closes.

A load balancer or orchestrator takes an instance out of rotation when its
readiness check fails; if the listener closed at once, requests routed in the
meantime would be refused. So on the first SIGTERM `/readyz` answers 503 for
SHUTDOWN_DRAIN_SECONDS while requests are still served, and only then does the
server's own SIGTERM handling run (uvicorn: stop accepting, let in-flight
requests finish within SHUTDOWN_GRACE_SECONDS, close WebSockets). A second
SIGTERM stops at once.

The server's handler is wrapped, not replaced: it is whatever `signal.signal`
holds when the app starts (uvicorn installs its own before the lifespan runs).
When that is not a Python callable, the server handles signals some other way
that this cannot wrap, and draining turns itself off (logged) rather than
delaying or losing the stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType

log = logging.getLogger("graphql_app.draining")


class Drain:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.draining = False

    def install(self) -> bool:
        """Wrap the current SIGTERM handler; call from the running event loop.
        False when draining is off (no delay set, or a handler it cannot wrap)."""
        if self.seconds <= 0:
            return False
        server_handler = signal.getsignal(signal.SIGTERM)
        if not callable(server_handler):
            log.warning(
                "SHUTDOWN_DRAIN_SECONDS is ignored: the server's SIGTERM handler is %r",
                server_handler,
            )
            return False
        loop = asyncio.get_running_loop()

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self.draining:  # asked twice: stop now
                server_handler(signum, frame)
                return
            self.draining = True
            log.info("SIGTERM: not ready; stopping in %s s", self.seconds)

            def stop() -> None:
                server_handler(signum, frame)

            # Signal handlers run between bytecodes: hand the timer to the loop safely.
            loop.call_soon_threadsafe(loop.call_later, self.seconds, stop)

        signal.signal(signal.SIGTERM, on_sigterm)
        return True
