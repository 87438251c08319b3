"""Serve the emulator in the foreground: `python -m tests.fauna_emulator --port N --secret S`.

Prints one line, "fauna emulator listening on http://HOST:PORT", once it accepts connections,
so an end-to-end test can start it as a process and wait for that line. SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import argparse
import signal
import threading

from .server import FaunaEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fauna_emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--secret", default="secret")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    emulator = FaunaEmulator(secret=args.secret, host=args.host, port=args.port)
    emulator.start()
    print(f"fauna emulator listening on {emulator.url}", flush=True)
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
