"""`python -m bench.inprocess`: µs per request of the app itself, without a server.

Calls the ASGI app directly (no uvicorn, no socket, logging off) on a
throw-away SQLite file holding one user with 200 todos, and prints the best
and the median of 7 batches for scenario (a) and for `{ __typename }` (the
fixed cost of any GraphQL request), and, for reference, `{ __typename }` on
a bare Strawberry ASGI app (a one-field schema with its parser and
validation caches: the floor any Strawberry server starts from). Quick to
run while optimising; the ratios that count come from `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from graphql_app.app import create_app
from graphql_app.models import NewSession
from graphql_app.settings import Settings
from graphql_app.storage.sqlite import SQLiteStorage

PAGE = (
    "query Todos { todos(first: 20) { totalCount edges { cursor node "
    "{ id name isCompleted createdAt updatedAt } } } }"
)
QUERIES = {"(a) todos(first: 20)": PAGE, "{ __typename }": "{ __typename }"}
BARE = "bare Strawberry { __typename }"


def bare_strawberry() -> Any:
    """The smallest Strawberry ASGI app: what any Strawberry server costs at least."""
    import strawberry
    from strawberry.asgi import GraphQL
    from strawberry.extensions import ParserCache, ValidationCache

    @strawberry.type
    class Query:
        ok: bool = True

    schema = strawberry.Schema(
        query=Query,
        extensions=[lambda: ParserCache(maxsize=100), lambda: ValidationCache(maxsize=100)],
    )
    return GraphQL(schema)


async def measure(batches: int, size: int) -> dict[str, tuple[float, float]]:
    """Best and median µs per request of each query (request logging off meanwhile)."""
    logging.disable(logging.INFO)
    try:
        return await _measure(batches, size)
    finally:
        logging.disable(logging.NOTSET)


async def _measure(batches: int, size: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as folder:
        storage = SQLiteStorage(str(Path(folder) / "inprocess.db"))
        await storage.migrate()
        now = datetime.now(UTC)
        session = NewSession("family", "hash", now + timedelta(days=1))
        user = await storage.create_user("bench@example.com", "Bench", "x", session, now)
        for i in range(200):
            await storage.create_todo(user.id, f"todo {i}", i % 2 == 0, now)
        settings = Settings(secret_key="b" * 48, auth_rate_limit="", login_account_rate_limit="")
        app = create_app(settings, storage=storage)
        token, _ = app.state.deps.tokens.issue_access(user.id, datetime.now(UTC))
        results = {}
        targets = [(name, query, app) for name, query in QUERIES.items()]
        targets.append((BARE, "{ __typename }", bare_strawberry()))
        for name, query, served in targets:
            body = orjson.dumps({"query": query})
            headers = [
                (b"content-type", b"application/json"),
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-length", str(len(body)).encode()),
            ]

            async def one(
                body: bytes = body, headers: list[Any] = headers, served: Any = served
            ) -> None:
                scope = {
                    "type": "http",
                    "asgi": {"version": "3.0"},
                    "http_version": "1.1",
                    "method": "POST",
                    "scheme": "http",
                    "path": "/graphql",
                    "raw_path": b"/graphql",
                    "query_string": b"",
                    "headers": headers,
                    "client": ("127.0.0.1", 50000),
                    "server": ("127.0.0.1", 8000),
                    "root_path": "",
                }
                messages = [{"type": "http.request", "body": body, "more_body": False}]
                statuses = []

                async def receive() -> dict[str, Any]:
                    return messages.pop(0) if messages else {"type": "http.disconnect"}

                async def send(message: dict[str, Any]) -> None:
                    if message["type"] == "http.response.start":
                        statuses.append(message["status"])

                await served(scope, receive, send)
                assert statuses == [200], statuses

            for _ in range(size):  # warm the caches
                await one()
            per_request = []
            for _ in range(batches):
                started = time.perf_counter()
                for _ in range(size):
                    await one()
                per_request.append((time.perf_counter() - started) / size * 1e6)
            results[name] = (min(per_request), statistics.median(per_request))
        await storage.close()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--size", type=int, default=300, help="requests per batch")
    args = parser.parse_args()
    for name, (best, median) in asyncio.run(measure(args.batches, args.size)).items():
        print(f"{name}: {best:.0f} µs best, {median:.0f} µs median per request")


if __name__ == "__main__":
    main()
