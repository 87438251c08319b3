"""Command line: serve, migrate, recount-todos, export-schema [--check]."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from graphql_app.log_config import LOG_FORMAT, configure_logging
from graphql_app.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from graphql_app.storage import Storage

SCHEMA_FILE = Path("schema.graphql")


def _on_storage(url: str, action: Callable[[Storage], Awaitable[None]], timeout: float) -> None:
    """Open storage, run `action` on it, close it. A secret that storage refuses
    becomes one SettingsError line; other storage errors propagate."""
    from graphql_app.errors import StorageRefused
    from graphql_app.storage import open_storage

    storage = open_storage(url, pool_size=1, query_timeout=timeout)

    async def run() -> None:
        try:
            await action(storage)
        finally:
            await storage.close()

    try:
        asyncio.run(run())
    except StorageRefused as exc:
        raise SettingsError(f"DATABASE_URL: {exc.detail}") from None


def _migrate() -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    _on_storage(settings.storage_url, lambda storage: storage.migrate(), settings.db_query_timeout)
    print(f"migrated {settings.storage_url.split(':', 1)[0]} storage")
    return 0


def _recount_todos() -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    counted: list[int] = []

    async def recount(storage: Storage) -> None:
        counted.append(await storage.recount_todos())

    _on_storage(settings.storage_url, recount, settings.db_query_timeout)
    print(f"recounted the todos of {counted[0]} users")
    return 0


def _export_schema(check: bool, path: Path) -> int:
    from graphql_app.schema import schema_sdl

    sdl = schema_sdl()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != sdl:
            print(f"{path} is stale: run `python -m graphql_app export-schema`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(sdl, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def _check_storage(url: str, timeout: float) -> None:
    """Refuse to start when storage rejects our credentials; a storage that is merely
    down is fine (requests answer SERVICE_UNAVAILABLE until it is back)."""
    from graphql_app.errors import ServiceUnavailable

    try:
        _on_storage(url, lambda storage: storage.ping(), timeout)
    except ServiceUnavailable:
        logging.getLogger("graphql_app").warning("storage is not answering yet; serving anyway")


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _serve(host: str, port: int, workers: int) -> int:
    import uvicorn

    settings = load_settings()  # fail fast, with one line, before uvicorn starts
    configure_logging(settings.log_level)
    if workers > 1 and settings.metrics_listener is not None:
        # Each worker process has its own counts and would contend for the one port.
        raise SettingsError(
            "METRICS_PORT: one metrics listener per process; run one `serve` process"
            " per METRICS_PORT instead of --workers"
        )
    _check_storage(settings.storage_url, settings.db_query_timeout)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the
    # handler it found: this one, so that a requested stop exits 0, not -15.
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(
        "graphql_app.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        server_header=False,
        # uvicorn's httptools protocol plus header size, slow-client and connection limits.
        http="graphql_app.http.server_protocol:GuardedHttpProtocol",
        # graphql_app.access logs every request already, with its request id
        # and GraphQL operation; uvicorn's own line would only repeat it.
        access_log=False,
        log_level=settings.log_level.lower(),
        # The app adds uvicorn's ProxyHeadersMiddleware itself, from FORWARDED_ALLOW_IPS
        # (app.py), so that it applies under any server: uvicorn's own stays off.
        proxy_headers=False,
        # On SIGTERM: stop accepting, let in-flight requests finish within the grace
        # period; uvicorn closes WebSockets with 1012 (service restart: reconnect).
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        # A WebSocket message is bounded as a request body is: uvicorn closes with
        # 1009 before buffering more (the app checks again under other servers).
        ws_max_size=settings.max_body_bytes,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphql_app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the GraphQL API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="create or upgrade the database schema")
    commands.add_parser(
        "recount-todos",
        help="set every user's todo counters to a real count (after a rolling upgrade)",
    )
    export = commands.add_parser("export-schema", help="write schema.graphql from the code")
    export.add_argument("--check", action="store_true", help="fail when schema.graphql is stale")
    export.add_argument("--path", type=Path, default=SCHEMA_FILE)
    args = parser.parse_args(argv)

    # INFO until the settings are read; LOG_LEVEL applies from then on.
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        if args.command == "serve":
            return _serve(args.host, args.port, args.workers)
        if args.command == "migrate":
            return _migrate()
        if args.command == "recount-todos":
            return _recount_todos()
        return _export_schema(args.check, args.path)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
