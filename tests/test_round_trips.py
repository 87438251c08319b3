"""Storage round trips per request stay constant, whatever the page size (DataLoader).

Counted with the storage's own `round_trips` counter (statements on SQLite and
PostgreSQL, FQL queries on Fauna), on every selected backend.
"""

from __future__ import annotations

import pytest

from graphql_app.storage import Storage
from tests.support.graphql_client import PASSWORD, GraphQLClient, create_todo, sign_up

PAGE_WITH_CREATORS = """
query P($first: Int) {
  todos(first: $first) {
    totalCount
    edges { cursor node { id name creator { id email todos(first: 3) { totalCount } } } }
  }
}
"""
ME_NESTED = """
query M($first: Int) {
  me { todos(first: $first) { edges { node { creator { todos { totalCount } } } } } }
}
"""


@pytest.mark.parametrize("query", [PAGE_WITH_CREATORS, ME_NESTED])
async def test_a_page_with_its_creators_costs_the_same_at_any_size(
    gql: GraphQLClient, storage: Storage, query: str
) -> None:
    ada = await sign_up(gql, "trips@example.com")
    for i in range(100):
        await create_todo(gql, ada.token, f"t{i}")
    costs = {}
    for first in (5, 100):
        before = storage.round_trips
        data = (await gql(query, {"first": first}, token=ada.token)).ok()
        costs[first] = storage.round_trips - before
        edges = data["todos"]["edges"] if "todos" in data else data["me"]["todos"]["edges"]
        assert len(edges) == first  # the page really grew
    assert costs[5] == costs[100] <= 3, costs


async def test_log_in_returns_the_user_it_read_without_reading_it_again(
    gql: GraphQLClient, storage: Storage
) -> None:
    """`logIn { user }` costs what `logIn { token }` costs: the user read to check the
    password is the one returned. Mutant graphql_app.services.users
    xǁAccountServiceǁlog_in__mutmut_34 (the user dropped, so read a second time).
    """
    await sign_up(gql, "trips-login@example.com")
    costs = {}
    for selection in ("token", "token user { id email fullname }"):
        before = storage.round_trips
        data = (
            await gql(
                f"mutation L($i: LogInInput!) {{ logIn(input: $i) {{ {selection} }} }}",
                {"i": {"email": "trips-login@example.com", "password": PASSWORD}},
            )
        ).ok()
        costs[selection] = storage.round_trips - before
        assert data["logIn"]["token"]
    assert len(set(costs.values())) == 1, costs


async def test_sign_up_returns_the_user_it_wrote_without_reading_it(
    gql: GraphQLClient, storage: Storage
) -> None:
    """`createUser { user }` costs what `createUser { token }` costs: the user written
    is the one returned. Mutant graphql_app.services.users
    xǁAccountServiceǁsign_up__mutmut_48 (the user not handed on, so read back).
    """
    costs = {}
    for n, selection in enumerate(("token", "token user { id email fullname }")):
        before = storage.round_trips
        email = f"trips-signup-{n}@example.com"
        data = (
            await gql(
                f"mutation C($i: CreateUserInput!) {{ createUser(input: $i) {{ {selection} }} }}",
                {"i": {"email": email, "fullname": "Trips", "password": PASSWORD}},
            )
        ).ok()
        costs[selection] = storage.round_trips - before
        assert data["createUser"]["token"]
    assert len(set(costs.values())) == 1, costs


BACKWARD_WITH_CREATORS = """
query B($first: Int) {
  todos(last: $first) {
    totalCount
    pageInfo { hasPreviousPage startCursor }
    edges { node { id creator { id todos(last: 3) { totalCount } } } }
  }
}
"""
NODES = """
query N($ids: [ID!]!) {
  nodes(ids: $ids) {
    id
    ... on Todo { name creator { email } }
    ... on User { todos(first: 2) { totalCount } }
  }
}
"""


async def test_a_backward_page_costs_the_same_at_any_size(
    gql: GraphQLClient, storage: Storage
) -> None:
    ada = await sign_up(gql, "back-trips@example.com")
    for i in range(100):
        await create_todo(gql, ada.token, f"t{i}")
    costs = {}
    for last in (5, 100):
        before = storage.round_trips
        data = (await gql(BACKWARD_WITH_CREATORS, {"first": last}, token=ada.token)).ok()
        costs[last] = storage.round_trips - before
        assert len(data["todos"]["edges"]) == last
    assert costs[5] == costs[100] <= 3, costs


async def test_node_and_nodes_cost_the_same_for_any_number_of_ids(
    gql: GraphQLClient, storage: Storage
) -> None:
    ada = await sign_up(gql, "node-trips@example.com")
    ids = [(await create_todo(gql, ada.token, f"t{i}"))["id"] for i in range(100)]
    costs = {}
    for count in (1, 99):
        before = storage.round_trips
        data = (await gql(NODES, {"ids": [*ids[:count], ada.id]}, token=ada.token)).ok()
        costs[count] = storage.round_trips - before
        assert sum(1 for n in data["nodes"] if n and "name" in n) == count
    # The todos in one read, the caller in another, the caller's page in a third.
    assert costs[1] == costs[99] <= 3, costs
    before = storage.round_trips
    node = "query T($id: ID!) { node(id: $id) { id ... on Todo { name } } }"
    assert (await gql(node, {"id": ids[0]}, token=ada.token)).ok()["node"]["name"] == "t0"
    assert storage.round_trips - before == 1
