"""The caches of parsed and validated documents stay bounded, whatever a client sends.

A parsed document costs 70-140 bytes per character of its text. A client that
sends many distinct documents, each as large as the caches admit, must not
make the server hold more than BOUND_MB for them: at 1000 cached documents of
up to 8 KB this was about 1 GB (documents sent anonymously, refused by
validation after they were parsed and cached).
"""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
import pytest

from graphql_app.app import create_app
from graphql_app.schema.parsing import CACHED_DOCUMENTS, MAX_CACHED_QUERY, parse_cached
from graphql_app.settings import Settings
from tests.support.backends import backend_factory

pytestmark = pytest.mark.slow  # several hundred dense documents: about 15 s

BOUND_MB = 200


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def dense_document(n: int, max_tokens: int) -> str:
    """A distinct document of about MAX_CACHED_QUERY characters, as many tokens as fit
    (under the token limit, past which it would not parse, so not be cached)."""
    fields: list[str] = []
    length = 4
    while length < MAX_CACHED_QUERY - 40 and 7 * (len(fields) + 1) + 2 <= max_tokens:
        field = f"x{n}_{len(fields)}: me {{ id email }}"
        fields.append(field)
        length += len(field) + 1
    return "{ " + " ".join(fields) + " }"


async def test_distinct_large_documents_pin_bounded_memory(
    tmp_path: Path, settings: Settings
) -> None:
    async with backend_factory("sqlite")(tmp_path) as storage:
        app = create_app(settings, storage=storage)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            gc.collect()
            before = rss_mb()
            for n in range(CACHED_DOCUMENTS + 100):
                query = dense_document(n, settings.max_tokens)
                assert len(query) <= MAX_CACHED_QUERY
                response = await http.post("/graphql", json={"query": query})
                # Too many aliases: refused by validation, after it was parsed and cached.
                code = response.json()["errors"][0]["extensions"]["code"]
                assert code == "GRAPHQL_VALIDATION_FAILED"
            gc.collect()
            # RSS counts at least what is held (and whatever the allocator kept).
            grown = rss_mb() - before
    assert parse_cached.cache_info().currsize <= CACHED_DOCUMENTS
    assert grown < BOUND_MB, f"distinct documents held {grown:.0f} MB"
