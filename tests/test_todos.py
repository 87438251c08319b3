"""Todos through HTTP: every contract operation, isolation and pagination (PRODUCT.md §4)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from graphql_app.events.memory import InProcessEventBus
from graphql_app.models import TodoEventKind
from tests.support.graphql_client import TODOS_PAGE, GraphQLClient, create_todo, sign_up

TODO = (
    "query T($id: ID!) { todo(id: $id) { id name isCompleted createdAt updatedAt creator { id } } }"
)
UPDATE = """
mutation U($id: ID!, $input: UpdateTodoInput!) {
  updateTodo(id: $id, input: $input) { id name isCompleted createdAt updatedAt }
}
"""
DELETE = "mutation D($id: ID!) { deleteTodo(id: $id) { id message } }"
SET_ALL = "mutation S($c: Boolean!) { setAllTodosCompleted(isCompleted: $c) }"
CLEAR = "mutation { clearCompletedTodos }"


async def walk(
    gql: GraphQLClient, token: str, first: int, **variables: Any
) -> list[dict[str, Any]]:
    """Every page, following endCursor; returns the pages' connection objects."""
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        data = (
            await gql(TODOS_PAGE, {"first": first, "after": after, **variables}, token=token)
        ).ok()
        pages.append(data["todos"])
        if not data["todos"]["pageInfo"]["hasNextPage"]:
            return pages
        after = data["todos"]["pageInfo"]["endCursor"]


async def test_create_read_update_delete(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada@example.com")
    created = await create_todo(gql, ada.token, "  Write the notes  ")
    assert created["name"] == "Write the notes"
    assert created["isCompleted"] is False
    assert created["creator"] == {"id": ada.id}
    assert created["createdAt"] == created["updatedAt"]

    fetched = (await gql(TODO, {"id": created["id"]}, token=ada.token)).ok()["todo"]
    assert fetched == created

    updated = (
        await gql(UPDATE, {"id": created["id"], "input": {"isCompleted": True}}, token=ada.token)
    ).ok()["updateTodo"]
    assert updated["name"] == "Write the notes" and updated["isCompleted"] is True
    assert updated["updatedAt"] > created["updatedAt"]
    assert updated["createdAt"] == created["createdAt"]
    renamed = (
        await gql(UPDATE, {"id": created["id"], "input": {"name": "Publish"}}, token=ada.token)
    ).ok()["updateTodo"]
    assert renamed["name"] == "Publish" and renamed["isCompleted"] is True

    deleted = (await gql(DELETE, {"id": created["id"]}, token=ada.token)).ok()["deleteTodo"]
    assert deleted["id"] == created["id"] and deleted["message"]
    assert (await gql(TODO, {"id": created["id"]}, token=ada.token)).ok() == {"todo": None}
    again = await gql(DELETE, {"id": created["id"]}, token=ada.token)
    assert again.codes == ["NOT_FOUND"]


async def test_create_completed_and_me_todos(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "me@example.com")
    done = await create_todo(gql, ada.token, "done", done=True)
    assert done["isCompleted"] is True
    me = (
        await gql(
            "{ me { id email fullname createdAt todos { totalCount edges { node { id } } } } }",
            token=ada.token,
        )
    ).ok()["me"]
    assert me["todos"]["totalCount"] == 1
    assert me["todos"]["edges"] == [{"node": {"id": done["id"]}}]


async def test_another_users_todo_is_indistinguishable_from_a_missing_one(
    gql: GraphQLClient,
) -> None:
    ada = await sign_up(gql, "owner@example.com")
    bob = await sign_up(gql, "intruder@example.com")
    todo = await create_todo(gql, ada.token, "private")
    for todo_id in (todo["id"], uuid.uuid4().hex, "not-an-id", ""):
        assert (await gql(TODO, {"id": todo_id}, token=bob.token)).ok() == {"todo": None}
        update = await gql(UPDATE, {"id": todo_id, "input": {"name": "mine"}}, token=bob.token)
        delete = await gql(DELETE, {"id": todo_id}, token=bob.token)
        assert (update.codes, update.data) == (["NOT_FOUND"], None)
        assert (delete.codes, delete.data) == (["NOT_FOUND"], None)
        assert update.errors[0]["message"] == delete.errors[0]["message"] == "Todo not found"
    assert (await gql(SET_ALL, {"c": True}, token=bob.token)).ok() == {"setAllTodosCompleted": 0}
    after = (await gql(TODO, {"id": todo["id"]}, token=ada.token)).ok()["todo"]
    assert after["name"] == "private" and after["isCompleted"] is False
    assert after["updatedAt"] == todo["updatedAt"]
    bobs_list = (await gql(TODOS_PAGE, {"first": 10}, token=bob.token)).ok()["todos"]
    assert bobs_list["totalCount"] == 0 and bobs_list["edges"] == []


async def test_45_todos_in_pages_of_20_newest_first(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "pages@example.com")
    names = [f"todo {i}" for i in range(45)]
    for name in names:
        await create_todo(gql, ada.token, name)
    pages = await walk(gql, ada.token, 20)
    assert [len(p["edges"]) for p in pages] == [20, 20, 5]
    seen = [e["node"]["name"] for p in pages for e in p["edges"]]
    assert seen == list(reversed(names))
    assert all(p["totalCount"] == 45 for p in pages)
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    for page in pages:
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_pages_stay_exact_when_todos_are_added_between_fetches(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "moving@example.com")
    for i in range(45):
        await create_todo(gql, ada.token, f"old {i}")
    seen: list[str] = []
    after = None
    while True:
        data = (await gql(TODOS_PAGE, {"first": 20, "after": after}, token=ada.token)).ok()["todos"]
        seen.extend(e["node"]["name"] for e in data["edges"])
        await create_todo(gql, ada.token, f"new after page {len(seen)}")
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert seen == [f"old {i}" for i in reversed(range(45))]


async def test_filter_and_total_count_agree(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "filter@example.com")
    for i in range(25):
        await create_todo(gql, ada.token, f"t{i}", done=i % 3 == 0)
    done_pages = await walk(gql, ada.token, 4, filter={"isCompleted": True})
    open_pages = await walk(gql, ada.token, 7, filter={"isCompleted": False})
    done = [e["node"] for p in done_pages for e in p["edges"]]
    active = [e["node"] for p in open_pages for e in p["edges"]]
    assert all(n["isCompleted"] for n in done) and not any(n["isCompleted"] for n in active)
    assert {p["totalCount"] for p in done_pages} == {len(done)} == {9}
    assert {p["totalCount"] for p in open_pages} == {len(active)} == {16}
    everything = (await gql(TODOS_PAGE, {"first": 100}, token=ada.token)).ok()["todos"]
    assert everything["totalCount"] == 25 == len(everything["edges"])


async def test_bad_cursor_and_first_are_bad_user_input(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "cursor@example.com")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"first": 5, "after": "garbage"}, "after"),
        ({"first": 5, "after": "cDE6eHl6"}, "after"),  # base64 of a malformed position
        ({"first": 0}, "first"),
        ({"first": 101}, "first"),
        ({"first": -1}, "first"),
    ]
    for variables, field in cases:
        result = await gql(TODOS_PAGE, variables, token=ada.token)
        assert result.codes == ["BAD_USER_INPUT"], variables
        fields = result.errors[0]["extensions"]["fields"]
        assert list(fields) == [field]
        # Named with a message, whatever its text. Mutant
        # graphql_app.validation.x_check_first__mutmut_6 (first's message lost: `null`).
        assert isinstance(fields[field], str) and fields[field].strip()


async def test_a_cursor_from_another_users_list_only_pages_the_callers_todos(
    gql: GraphQLClient,
) -> None:
    ada = await sign_up(gql, "ada-cursor@example.com")
    bob = await sign_up(gql, "bob-cursor@example.com")
    for i in range(3):
        await create_todo(gql, ada.token, f"ada {i}")
        await create_todo(gql, bob.token, f"bob {i}")
    bobs = (await gql(TODOS_PAGE, {"first": 1}, token=bob.token)).ok()["todos"]
    cursor = bobs["pageInfo"]["endCursor"]
    adas = (await gql(TODOS_PAGE, {"first": 10, "after": cursor}, token=ada.token)).ok()["todos"]
    names = [e["node"]["name"] for e in adas["edges"]]
    assert names and all(name.startswith("ada") for name in names)


async def test_set_all_completed_and_clear_completed(gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "bulk@example.com")
    bob = await sign_up(gql, "bystander@example.com")
    for i in range(5):
        await create_todo(gql, ada.token, f"a{i}", done=i < 2)
    bobs = await create_todo(gql, bob.token, "bob's", done=True)
    assert (await gql(SET_ALL, {"c": True}, token=ada.token)).ok() == {"setAllTodosCompleted": 3}
    assert (await gql(SET_ALL, {"c": True}, token=ada.token)).ok() == {"setAllTodosCompleted": 0}
    assert (await gql(CLEAR, token=ada.token)).ok() == {"clearCompletedTodos": 5}
    assert (await gql(TODOS_PAGE, {"first": 10}, token=ada.token)).ok()["todos"]["totalCount"] == 0
    assert (await gql(TODO, {"id": bobs["id"]}, token=bob.token)).ok()["todo"]["id"] == bobs["id"]
    await create_todo(gql, ada.token, "again", done=True)
    assert (await gql(SET_ALL, {"c": False}, token=ada.token)).ok() == {"setAllTodosCompleted": 1}


async def test_todo_operations_need_a_token(gql: GraphQLClient) -> None:
    operations: list[tuple[str, dict[str, Any] | None]] = [
        (TODO, {"id": "x"}),
        (TODOS_PAGE, {"first": 1}),
        (UPDATE, {"id": "x", "input": {"name": "n"}}),
        (DELETE, {"id": "x"}),
        (SET_ALL, {"c": True}),
        (CLEAR, None),
        ('mutation { createTodo(input: {name: "n"}) { id } }', None),
    ]
    for query, variables in operations:
        result = await gql(query, variables)
        assert result.codes == ["UNAUTHENTICATED"], query
        assert result.data is None or set(result.data.values()) == {None}  # todo(id) is nullable


async def test_every_change_reaches_the_owners_event_stream(
    gql: GraphQLClient, events: InProcessEventBus
) -> None:
    """Each mutation publishes what changed, for its owner only: the todo as it now is, or
    (bulk changes) the filter matched and how many todos changed.

    Read from the app's own bus (the subscription transports, which relay it, are
    tested end to end in the slow tests). Written for the mutants of
    graphql_app.services.todos that publish an event with no kind, no user, no todo id
    or no todo (xǁTodoServiceǁupdate__mutmut_28-31, delete__mutmut_10-12 in the first run).
    """
    ada = await sign_up(gql, "events@example.com")
    bob = await sign_up(gql, "events-bystander@example.com")
    stream = await events.subscribe(ada.id)
    others = await events.subscribe(bob.id)
    first = await create_todo(gql, ada.token, "first")
    second = await create_todo(gql, ada.token, "second")
    await gql(UPDATE, {"id": first["id"], "input": {"name": "renamed"}}, token=ada.token)
    await gql(DELETE, {"id": second["id"]}, token=ada.token)
    await gql(SET_ALL, {"c": True}, token=ada.token)
    await gql(CLEAR, token=ada.token)
    seen = []
    for _ in range(6):
        async with asyncio.timeout(5):
            event = await anext(stream)
        assert event.user_id == ada.id
        assert event.todo_id
        todo = (event.todo.id, event.todo.name, event.todo.is_completed) if event.todo else None
        todo_id = event.todo_id if event.todo or event.kind is TodoEventKind.DELETED else "-"
        # A bulk update says when it happened (subscribers set updatedAt from it).
        # Mutants xǁTodoServiceǁset_all_completed__mutmut_15 and 22 (no time).
        assert (event.updated_at is not None) == (event.kind is TodoEventKind.BULK_UPDATED)
        seen.append((event.kind, todo_id, todo, event.matched, event.count))
    assert seen == [
        (TodoEventKind.CREATED, first["id"], (first["id"], "first", False), None, None),
        (TodoEventKind.CREATED, second["id"], (second["id"], "second", False), None, None),
        (TodoEventKind.UPDATED, first["id"], (first["id"], "renamed", False), None, None),
        (TodoEventKind.DELETED, second["id"], None, None, None),
        (TodoEventKind.BULK_UPDATED, "-", None, False, 1),
        (TodoEventKind.CLEARED, "-", None, True, 1),
    ]
    with pytest.raises(TimeoutError):  # bob heard nothing of it
        async with asyncio.timeout(0.05):
            await anext(others)
    await stream.aclose()
    await others.aclose()
