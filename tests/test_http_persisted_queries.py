"""Apollo's automatic persisted queries: miss, register, hit; bounded; shared through Redis."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphql_app.app import create_app
from graphql_app.http.persisted_queries import LRUQueryCache
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import REDIS_URL, sqlite_backend
from tests.support.clock import Clock

QUERY = "query Typename { __typename }"
NOT_FOUND = {
    "errors": [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
}


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with sqlite_backend(tmp_path) as store:
        yield store


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Batches are sent here; batching is off unless BATCH_REQUESTS turns it on.
    return settings.model_copy(update={"batch_requests": True})


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def extensions(query: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256(query)}}


async def test_miss_then_register_then_hit(http: httpx.AsyncClient) -> None:
    miss = await http.post("/graphql", json={"extensions": extensions(QUERY)})
    assert miss.status_code == 200
    assert miss.json() == NOT_FOUND
    assert miss.headers["cache-control"] == "private, no-cache, must-revalidate"

    register = await http.post("/graphql", json={"query": QUERY, "extensions": extensions(QUERY)})
    assert register.json() == {"data": {"__typename": "Query"}}

    hit = await http.post(
        "/graphql", json={"extensions": extensions(QUERY), "operationName": "Typename"}
    )
    assert hit.json() == {"data": {"__typename": "Query"}}


async def test_hashed_queries_over_get(http: httpx.AsyncClient) -> None:
    params = {"extensions": json.dumps(extensions(QUERY))}
    headers = {"content-type": "application/json"}  # as Apollo Client sends it on GETs
    miss = await http.get("/graphql", params=params, headers=headers)
    assert miss.json() == NOT_FOUND
    await http.post("/graphql", json={"query": QUERY, "extensions": extensions(QUERY)})
    hit = await http.get("/graphql", params=params, headers=headers)
    assert hit.json() == {"data": {"__typename": "Query"}}


async def test_a_hash_that_does_not_match_the_query_is_refused(http: httpx.AsyncClient) -> None:
    lying = {"query": "{ __typename }", "extensions": extensions("{ me { id } }")}
    response = await http.post("/graphql", json=lying)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "provided sha does not match query",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    # The lie was not stored under the hash.
    miss = await http.post("/graphql", json={"extensions": extensions("{ me { id } }")})
    assert miss.json() == NOT_FOUND


@pytest.mark.parametrize(
    ("persisted_query", "message"),
    [
        ({"version": 2, "sha256Hash": sha256(QUERY)}, "Unsupported persisted query version"),
        (
            {"version": 1, "sha256Hash": "abc"},
            "extensions.persistedQuery.sha256Hash must be a hex SHA-256 digest",
        ),
        ("yes", "extensions.persistedQuery must be an object"),
    ],
)
async def test_malformed_persisted_query_is_refused(
    http: httpx.AsyncClient, persisted_query: Any, message: str
) -> None:
    response = await http.post(
        "/graphql", json={"query": QUERY, "extensions": {"persistedQuery": persisted_query}}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message


async def test_invalid_documents_are_not_remembered(http: httpx.AsyncClient) -> None:
    bad = "{ nope }"
    response = await http.post("/graphql", json={"query": bad, "extensions": extensions(bad)})
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    miss = await http.post("/graphql", json={"extensions": extensions(bad)})
    assert miss.json() == NOT_FOUND


async def test_a_batch_mixes_hits_and_misses(http: httpx.AsyncClient) -> None:
    await http.post("/graphql", json={"query": QUERY, "extensions": extensions(QUERY)})
    other = "query Other { __typename }"
    response = await http.post(
        "/graphql", json=[{"extensions": extensions(QUERY)}, {"extensions": extensions(other)}]
    )
    assert response.json() == [{"data": {"__typename": "Query"}}, NOT_FOUND]


async def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = LRUQueryCache(max_entries=2, max_chars=1000)
    await cache.put("a", "query A { __typename }")
    await cache.put("b", "query B { __typename }")
    assert await cache.get("a") is not None  # a is now the most recent
    await cache.put("c", "query C { __typename }")
    assert await cache.get("b") is None
    assert await cache.get("a") is not None
    assert len(cache) == 2
    await cache.put("huge", "x" * 1001)  # larger than the whole budget: not kept
    assert await cache.get("huge") is None
    await cache.put("d", "y" * 990)  # evicts until the characters fit
    assert len(cache) == 1


async def test_the_cache_budget_is_inclusive_and_a_query_stored_again_counts_once() -> None:
    """A query of exactly the character budget is kept; storing one again does not count it twice.

    Mutants graphql_app.http.persisted_queries.xǁLRUQueryCacheǁput__mutmut_1 and 14 (the
    budget made exclusive), 2, 3 and 7 (a re-stored query counted twice, so evicted).
    """
    cache = LRUQueryCache(max_entries=10, max_chars=10)
    await cache.put("whole", "x" * 10)
    assert await cache.get("whole") == "x" * 10
    await cache.put("a", "a" * 6)
    await cache.put("a", "a" * 6)
    await cache.put("b", "b" * 4)
    assert await cache.get("a") == "a" * 6
    assert await cache.get("b") == "b" * 4
    assert len(cache) == 2


@pytest.mark.redis
async def test_a_persisted_query_is_served_from_the_local_cache_first(
    settings: Settings, storage: Storage, clock: Clock, redis_prefix: str
) -> None:
    """Each instance keeps what it registered or fetched from Redis in its own LRU.

    Shown by deleting the Redis key: both instances still answer from memory.
    Mutants graphql_app.http.persisted_queries.xǁRedisQueryCacheǁget__mutmut_1, 2 (the
    LRU skipped), 21 (a query fetched from Redis not kept) and xǁRedisQueryCacheǁput__mutmut_1
    (a registered query not kept).
    """
    import redis.asyncio as aioredis

    shared = settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_key_prefix": redis_prefix, "apq_ttl": 300}
    )
    one, two = (
        create_app(shared, clock=clock, storage=storage),
        create_app(shared, clock=clock, storage=storage),
    )
    transport_one, transport_two = httpx.ASGITransport(app=one), httpx.ASGITransport(app=two)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with (
            httpx.AsyncClient(transport=transport_one, base_url="http://one") as first,
            httpx.AsyncClient(transport=transport_two, base_url="http://two") as second,
        ):
            await first.post("/graphql", json={"query": QUERY, "extensions": extensions(QUERY)})
            fetched = await second.post("/graphql", json={"extensions": extensions(QUERY)})
            assert fetched.json() == {"data": {"__typename": "Query"}}
            assert await client.delete(f"{redis_prefix}:apq:{sha256(QUERY)}") == 1
            for http in (first, second):
                hit = await http.post("/graphql", json={"extensions": extensions(QUERY)})
                assert hit.json() == {"data": {"__typename": "Query"}}
    finally:
        await client.aclose()
        for app in (one, two):
            await app.state.query_cache.close()
            await app.state.deps.rate_limits.close()
            await app.state.deps.events.close()


@pytest.mark.redis
async def test_instances_sharing_redis_share_persisted_queries(
    settings: Settings, storage: Storage, clock: Clock, redis_prefix: str
) -> None:
    import redis.asyncio as aioredis

    shared = settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_key_prefix": redis_prefix, "apq_ttl": 300}
    )
    one, two = (
        create_app(shared, clock=clock, storage=storage),
        create_app(shared, clock=clock, storage=storage),
    )
    transport_one, transport_two = httpx.ASGITransport(app=one), httpx.ASGITransport(app=two)
    async with (
        httpx.AsyncClient(transport=transport_one, base_url="http://one") as first,
        httpx.AsyncClient(transport=transport_two, base_url="http://two") as second,
    ):
        registered = await first.post(
            "/graphql", json={"query": QUERY, "extensions": extensions(QUERY)}
        )
        assert registered.json() == {"data": {"__typename": "Query"}}
        hit = await second.post("/graphql", json={"extensions": extensions(QUERY)})
        assert hit.json() == {"data": {"__typename": "Query"}}
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        key = f"{redis_prefix}:apq:{sha256(QUERY)}"
        assert await client.get(key) == QUERY.encode()
        assert 0 < await client.ttl(key) <= 300
    finally:
        await client.aclose()
    for app in (one, two):
        await app.state.query_cache.close()
        await app.state.deps.rate_limits.close()
        await app.state.deps.events.close()
