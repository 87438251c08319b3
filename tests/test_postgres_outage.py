"""PostgreSQL goes away under a running app, and comes back (PRODUCT.md §4).

Through HTTP: requests answer SERVICE_UNAVAILABLE (no 500, no trace), /readyz
answers 503, and the same app serves again once the database is reachable,
without a restart. The outage is a TCP proxy the test cuts and restores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from graphql_app.app import create_app
from graphql_app.settings import Settings
from graphql_app.storage.postgres import PostgresStorage
from tests.support.clock import Clock
from tests.support.graphql_client import TODOS_PAGE, GraphQLClient, create_todo, sign_up
from tests.support.postgres_proxy import Proxy, bounded

pytestmark = pytest.mark.postgres


@pytest.fixture
async def proxied_gql(
    proxy: Proxy, schema: str, settings: Settings, clock: Clock
) -> AsyncIterator[GraphQLClient]:
    storage = PostgresStorage(proxy.url(), pool_size=4, query_timeout=2.0, search_path=schema)
    await bounded(storage.migrate())
    app = create_app(settings, clock=clock, storage=storage)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)
    await bounded(storage.close())


async def test_an_outage_is_service_unavailable_and_service_resumes(
    proxied_gql: GraphQLClient, proxy: Proxy
) -> None:
    gql = proxied_gql
    ada = await sign_up(gql, "outage@example.com")
    await create_todo(gql, ada.token, "before")
    assert (await gql.http.get("/readyz")).status_code == 200

    await proxy.stop()
    page = await bounded(gql(TODOS_PAGE, {"first": 5}, token=ada.token))
    assert page.status == 200
    assert page.codes == ["SERVICE_UNAVAILABLE"]
    assert "Traceback" not in str(page.body) and "asyncpg" not in str(page.body)
    write = await bounded(
        gql('mutation { createTodo(input: {name: "x"}) { id } }', token=ada.token)
    )
    assert write.codes == ["SERVICE_UNAVAILABLE"]
    ready = await bounded(gql.http.get("/readyz"))
    assert (ready.status_code, ready.json()["storage"]) == (503, "down")

    await proxy.start()
    assert (await bounded(gql.http.get("/readyz"))).status_code == 200
    after = (await gql(TODOS_PAGE, {"first": 5}, token=ada.token)).ok()["todos"]
    assert [e["node"]["name"] for e in after["edges"]] == [
        "before"
    ]  # the failed write left nothing
