"""Sign-ups racing for one email: the database's unique constraint decides (PRODUCT.md §4)."""

from __future__ import annotations

import asyncio

from tests.support.graphql_client import PASSWORD, SIGN_UP, GraphQLClient


async def test_20_concurrent_sign_ups_with_one_email(gql: GraphQLClient) -> None:
    spellings = ["race@example.com", "RACE@example.com", "Race@Example.com", " race@EXAMPLE.com "]
    results = await asyncio.gather(
        *(
            gql(
                SIGN_UP,
                {"input": {"email": spellings[i % 4], "fullname": f"R{i}", "password": PASSWORD}},
            )
            for i in range(20)
        )
    )
    winners = [r for r in results if not r.errors]
    assert len(winners) == 1
    assert sorted(c for r in results for c in r.codes) == ["CONFLICT"] * 19
    assert winners[0].data["createUser"]["user"]["email"] == "race@example.com"
