"""Relay through HTTP: Node, node(id:), nodes(ids:) and backward paging (last/before)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.graphql_client import GraphQLClient, create_todo, sign_up

BACKWARD = """
query Back($last: Int, $before: String, $filter: TodoFilter) {
  todos(last: $last, before: $before, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
  }
}
"""
ME_BACKWARD = """
query MeBack($last: Int, $before: String) {
  me {
    todos(last: $last, before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id name } }
    }
  }
}
"""
PAGE = """
query Page($first: Int, $after: String, $last: Int, $before: String) {
  todos(first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { name } }
  }
}
"""
NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Todo { name isCompleted creator { id } }
    ... on User { email }
  }
}
"""
NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Todo { name } } }"


def connection(data: dict[str, Any]) -> dict[str, Any]:
    return dict(data["me"]["todos"] if "me" in data else data["todos"])


async def walk_back(
    gql: GraphQLClient, token: str, query: str, last: int, between: Any = None
) -> list[dict[str, Any]]:
    """Every page from the end, following startCursor; `between` runs before each next fetch."""
    pages: list[dict[str, Any]] = []
    before = None
    while True:
        data = (await gql(query, {"last": last, "before": before}, token=token)).ok()
        pages.append(connection(data))
        if not pages[-1]["pageInfo"]["hasPreviousPage"]:
            return pages
        before = pages[-1]["pageInfo"]["startCursor"]
        if between is not None:
            await between()


@pytest.mark.parametrize("query", [BACKWARD, ME_BACKWARD], ids=["todos", "me.todos"])
async def test_last_pages_backward_from_the_end(gql: GraphQLClient, query: str) -> None:
    ada = await sign_up(gql, "back@example.com")
    names = [f"todo {i}" for i in range(45)]
    for name in names:
        await create_todo(gql, ada.token, name)
    pages = await walk_back(gql, ada.token, query, 20)
    assert [len(p["edges"]) for p in pages] == [20, 20, 5]
    # Each page in list order (newest first); the pages themselves from the end.
    seen = [e["node"]["name"] for p in reversed(pages) for e in p["edges"]]
    assert seen == list(reversed(names))
    info = [p["pageInfo"] for p in pages]
    assert [i["hasPreviousPage"] for i in info] == [True, True, False]
    assert [i["hasNextPage"] for i in info] == [False, True, True]
    for page in pages:
        assert page["totalCount"] == 45
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_backward_pages_stay_exact_when_todos_are_added_between_fetches(
    gql: GraphQLClient,
) -> None:
    ada = await sign_up(gql, "moving-back@example.com")
    for i in range(25):
        await create_todo(gql, ada.token, f"old {i}")
    added: list[str] = []

    async def add() -> None:
        added.append(f"new {len(added)}")
        await create_todo(gql, ada.token, added[-1])

    pages = await walk_back(gql, ada.token, BACKWARD, 10, between=add)
    # New todos are newer than every cursor: a backward walk reaches them at the start.
    seen = [e["node"]["name"] for p in reversed(pages) for e in p["edges"]]
    assert added
    assert seen == [*reversed(added), *(f"old {i}" for i in reversed(range(25)))]


async def test_cursors_lead_both_ways(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "both-ways@example.com")
    for i in range(9):
        await create_todo(gql, ada.token, f"t{i}")
    first = (await gql(PAGE, {"first": 3}, token=ada.token)).ok()["todos"]
    second = (
        await gql(PAGE, {"first": 3, "after": first["pageInfo"]["endCursor"]}, token=ada.token)
    ).ok()["todos"]
    back = (
        await gql(PAGE, {"last": 3, "before": second["pageInfo"]["startCursor"]}, token=ada.token)
    ).ok()["todos"]
    assert back["edges"] == first["edges"]
    # Relay's cursor spec: paging backward, hasPreviousPage says whether more
    # lie before; hasNextPage that the client came from a page after it.
    assert (back["pageInfo"]["hasPreviousPage"], back["pageInfo"]["hasNextPage"]) == (False, True)
    assert back["pageInfo"]["startCursor"] == first["pageInfo"]["startCursor"]
    # `last` alone: the end of the list, whatever `first` defaults to.
    end = (await gql("{ todos(last: 2) { edges { node { name } } } }", token=ada.token)).ok()
    assert [e["node"]["name"] for e in end["todos"]["edges"]] == ["t1", "t0"]


@pytest.mark.parametrize("field", ["todos", "me { todos"])
async def test_bad_combinations_name_the_argument(gql: GraphQLClient, field: str) -> None:
    ada = await sign_up(gql, "combos@example.com")
    await create_todo(gql, ada.token, "one")
    cursor = (await gql(PAGE, {"first": 1}, token=ada.token)).ok()["todos"]["pageInfo"]["endCursor"]
    close = " }" if field.startswith("me") else ""
    for args, argument in [
        ("first: 2, last: 2", "first"),
        ("first: 20, last: 2", "first"),  # written out, even at the default
        (f'last: 2, after: "{cursor}"', "after"),
        (f'first: 2, before: "{cursor}"', "before"),
        (f'before: "{cursor}"', "before"),
        ("last: 0", "last"),
        ("last: 101", "last"),
        ('last: 2, before: "garbage"', "before"),
    ]:
        result = await gql(f"{{ {field}({args}) {{ totalCount }} }}{close}", token=ada.token)
        assert result.codes == ["BAD_USER_INPUT"], args
        fields = result.errors[0]["extensions"]["fields"]
        assert list(fields) == [argument], args
        # Named with a message, whatever its text. Mutant graphql_app.services.todos
        # x_parse_page_args__mutmut_49 (after's message lost: `null`).
        assert isinstance(fields[argument], str) and fields[argument].strip(), args
    # A null first (as Relay sends for the other direction) is no first at all.
    fine = await gql(PAGE, {"first": None, "after": None, "last": 1}, token=ada.token)
    assert [e["node"]["name"] for e in fine.ok()["todos"]["edges"]] == ["one"]
    # Both null: forward, by the default page size. Mutant graphql_app.services.todos
    # x_parse_page_args__mutmut_4 (the null taken for the size: a 500).
    fine = await gql(PAGE, {"first": None, "after": None, "last": None}, token=ada.token)
    assert [e["node"]["name"] for e in fine.ok()["todos"]["edges"]] == ["one"]


async def test_node_fetches_the_callers_todo_and_the_caller(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "node@example.com")
    todo = await create_todo(gql, ada.token, "refetch me")
    got = (await gql(NODE, {"id": todo["id"]}, token=ada.token)).ok()["node"]
    assert got == {
        "__typename": "Todo",
        "id": todo["id"],
        "name": "refetch me",
        "isCompleted": False,
        "creator": {"id": ada.id},
    }
    me = (await gql(NODE, {"id": ada.id}, token=ada.token)).ok()["node"]
    assert me == {"__typename": "User", "id": ada.id, "email": "node@example.com"}


async def test_anything_else_is_null_alike(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "node-owner@example.com")
    bob = await sign_up(gql, "node-intruder@example.com")
    todo = await create_todo(gql, ada.token, "private")
    others = [todo["id"], ada.id, uuid.uuid4().hex, "not-an-id", "", "\x00"]
    for node_id in others:
        assert (await gql(NODE, {"id": node_id}, token=bob.token)).ok() == {"node": None}
    result = await gql(NODES, {"ids": [*others, bob.id]}, token=bob.token)
    assert result.ok()["nodes"] == [None] * len(others) + [{"__typename": "User", "id": bob.id}]


async def test_nodes_keeps_order_and_is_bounded(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "nodes@example.com")
    todos = [await create_todo(gql, ada.token, f"n{i}") for i in range(3)]
    ids = [todos[2]["id"], "missing", todos[0]["id"], todos[2]["id"]]
    got = (await gql(NODES, {"ids": ids}, token=ada.token)).ok()["nodes"]
    assert [n and n["name"] for n in got] == ["n2", None, "n0", "n2"]
    assert (await gql(NODES, {"ids": []}, token=ada.token)).ok() == {"nodes": []}
    too_many = await gql(NODES, {"ids": [todos[0]["id"]] * 101}, token=ada.token)
    assert too_many.codes == ["BAD_USER_INPUT"]
    assert too_many.errors[0]["extensions"]["fields"] == {"ids": "At most 100 ids"}


async def test_node_needs_a_token(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "node-anon@example.com")
    todo = await create_todo(gql, ada.token, "x")
    assert (await gql(NODE, {"id": todo["id"]})).codes == ["UNAUTHENTICATED"]
    assert (await gql(NODES, {"ids": [todo["id"]]})).codes == ["UNAUTHENTICATED"]
