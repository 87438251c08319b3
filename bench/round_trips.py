"""Storage round trips per request, counted in-process (target 3 of the issue).

The app is built with create_app over a storage the bench holds, and driven
through httpx's ASGITransport: the storage's own `round_trips` counter then
tells what one request cost, with nothing new exposed in production. A page
of todos with their creators must cost the same at first=5 as at first=100.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from bench.scenarios import me_query, todos_query
from graphql_app.app import create_app
from graphql_app.settings import Settings
from graphql_app.storage import open_storage

SIZES = (5, 100)
QUERIES = {
    "a": ("todos(first: N) { totalCount edges { cursor node { ... } } }", todos_query),
    "c": ("me { todos(first: N) { edges { node { name creator { email } } } } }", me_query),
}


@dataclass(frozen=True)
class RoundTrips:
    scenario: str
    query: str
    backend: str
    by_first: dict[int, int]

    @property
    def constant(self) -> bool:
        return len(set(self.by_first.values())) == 1


async def _count(settings: Settings, url: str, token: str, backend: str) -> list[RoundTrips]:
    storage = open_storage(url, pool_size=2)
    app = create_app(settings, storage=storage)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    results = []
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for scenario, (label, build) in QUERIES.items():
                counts = {}
                for first in SIZES:
                    # Once unmeasured: a first request may open connections.
                    query = {"query": build(first)}
                    await client.post("/graphql", json=query, headers=headers)
                    before = storage.round_trips
                    answer = await client.post("/graphql", json=query, headers=headers)
                    counts[first] = storage.round_trips - before
                    body = answer.json()
                    if answer.status_code != 200 or "errors" in body:
                        raise RuntimeError(f"round-trip count of ({scenario}) failed: {body}")
                results.append(RoundTrips(scenario, label, backend, counts))
    finally:
        await storage.close()
    return results


def count_round_trips(settings: Settings, url: str, token: str, backend: str) -> list[RoundTrips]:
    """Round trips of scenarios (a) and (c) at first=5 and first=100 on one backend."""
    return asyncio.run(_count(settings, url, token, backend))
