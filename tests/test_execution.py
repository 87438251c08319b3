"""The fast executor answers exactly as graphql-core's standard one.

Two apps, one per executor, each on its own fresh storage with its own clock
set to the same instant, run the same script of every contract operation
(happy paths and errors). Ids, tokens and cursors differ between the two
runs only because storage makes random ids, so those are replaced, in order
of appearance, by placeholders; everything else must match byte for byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphql_app.app import create_app
from graphql_app.settings import Settings
from tests.support.backends import backend_factory
from tests.support.clock import Clock
from tests.support.graphql_client import PASSWORD, GraphQLClient

RANDOM_VALUE = re.compile(r"^[0-9a-f]{32}$|^eyJ[\w-]+\.[\w-]+\.[\w-]+$|^[\w-]{43}$|^cDE6[\w-]+$")

TODO_FIELDS = "id name isCompleted createdAt updatedAt creator { id email fullname createdAt }"
Step = tuple[str, str, Callable[[dict[str, Any]], dict[str, Any] | None]]
LOG_IN = (
    "mutation L($i: LogInInput!) "
    "{ logIn(input: $i) { token refreshToken expiresAt user { id email } } }"
)
CHANGE = (
    "mutation C($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
)
DELETE_ACCOUNT = "mutation D($p: String!) { deleteAccount(password: $p) }"


def create_todo_step(n: int) -> Step:
    return (
        "user",
        f"mutation C($i: CreateTodoInput!) {{ createTodo(input: $i) {{ {TODO_FIELDS} }} }}",
        lambda s: {"i": {"name": f"todo {n}", "isCompleted": n % 3 == 0}},
    )


SCRIPT: list[tuple[str, str, Callable[[dict[str, Any]], dict[str, Any] | None]]] = [
    (
        "anon",
        "mutation S($i: CreateUserInput!) { createUser(input: $i) { token refreshToken expiresAt "
        "user { id email fullname createdAt todos { totalCount edges { cursor } } } } }",
        lambda s: {"i": {"email": "Ada@Example.com", "fullname": "Ada", "password": PASSWORD}},
    ),
    (
        "anon",
        "mutation S($i: CreateUserInput!) { createUser(input: $i) { token } }",
        lambda s: {"i": {"email": "ada@example.com", "fullname": "Dup", "password": PASSWORD}},
    ),
    (
        "anon",
        "mutation S($i: CreateUserInput!) { createUser(input: $i) { token } }",
        lambda s: {"i": {"email": "bad", "fullname": "", "password": "short"}},
    ),
    (
        "anon",
        LOG_IN,
        lambda s: {"i": {"email": "ada@example.com", "password": PASSWORD}},
    ),
    (
        "anon",
        "mutation L($i: LogInInput!) { logIn(input: $i) { token } }",
        lambda s: {"i": {"email": "ada@example.com", "password": "wrong password"}},
    ),
    *[create_todo_step(n) for n in range(7)],
    (
        "user",
        "{ todos(first: 2) { __typename edges { __typename cursor node { __typename id name } } "
        "pageInfo { __typename startCursor endCursor hasNextPage } } }",
        lambda s: None,
    ),
    (
        "user",
        "query P($f: Int, $a: String) { todos(first: $f, after: $a) { totalCount "
        "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } "
        f"edges {{ cursor node {{ {TODO_FIELDS} }} }} }} }}",
        lambda s: {"f": 3, "a": None},
    ),
    (
        "user",
        "query P($f: Int, $a: String) { todos(first: $f, after: $a) { totalCount "
        "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } "
        "edges { cursor node { id name } } } }",
        lambda s: {"f": 3, "a": s["last_cursor"]},
    ),
    (
        "user",
        "query B($l: Int, $b: String) { todos(last: $l, before: $b) { totalCount "
        "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } "
        f"edges {{ cursor node {{ {TODO_FIELDS} }} }} }} }}",
        lambda s: {"l": 2, "b": s["last_cursor"]},
    ),
    ("user", "{ me { todos(last: 2) { edges { node { __typename id } } } } }", lambda s: None),
    (
        "user",
        "query N($id: ID!) { node(id: $id) { __typename id "
        "... on Todo { name isCompleted creator { id email } } ... on User { email } } }",
        lambda s: {"id": s["first_todo"]},
    ),
    (
        "user",
        "query N($ids: [ID!]!) { nodes(ids: $ids) { __typename id "
        "... on Todo { name } ... on User { fullname todos(first: 1) { totalCount } } } }",
        lambda s: {"ids": [s["first_todo"], "nope", s["user_id"], s["first_todo"]]},
    ),
    ("user", "{ todos(first: 2, last: 2) { totalCount } }", lambda s: None),
    (
        "user",
        "{ me { id email fullname createdAt todos(first: 4, filter: {isCompleted: true}) { "
        "totalCount edges { node { name isCompleted "
        "creator { email todos { totalCount } } } } } } }",
        lambda s: None,
    ),
    (
        "user",
        "query T($id: ID!) { todo(id: $id) { " + TODO_FIELDS + " } }",
        lambda s: {"id": s["first_todo"]},
    ),
    ("user", "query T($id: ID!) { todo(id: $id) { id } }", lambda s: {"id": "nope"}),
    (
        "user",
        "mutation U($id: ID!, $i: UpdateTodoInput!) { updateTodo(id: $id, input: $i) { "
        + TODO_FIELDS
        + " } }",
        lambda s: {"id": s["first_todo"], "i": {"name": "renamed", "isCompleted": True}},
    ),
    (
        "user",
        "mutation U($id: ID!, $i: UpdateTodoInput!) { updateTodo(id: $id, input: $i) { id } }",
        lambda s: {"id": "nope", "i": {"name": "x"}},
    ),
    (
        "user",
        "mutation U($id: ID!, $i: UpdateTodoInput!) { updateTodo(id: $id, input: $i) { id } }",
        lambda s: {"id": s["first_todo"], "i": {"name": "   "}},
    ),
    # The bench's write mix: selections of plain fields only (mutation plans).
    (
        "user",
        "mutation C($i: CreateTodoInput!) { createTodo(input: $i) "
        "{ id name isCompleted createdAt updatedAt } }",
        lambda s: {"i": {"name": "bench todo"}},
    ),
    (
        "user",
        "mutation U($id: ID!) { updateTodo(id: $id, input: {isCompleted: true}) "
        "{ id name isCompleted createdAt updatedAt } }",
        lambda s: {"id": s["first_todo"]},
    ),
    ("user", "mutation { setAllTodosCompleted(isCompleted: false) }", lambda s: None),
    ("user", "mutation { setAllTodosCompleted(isCompleted: true) }", lambda s: None),
    (
        "user",
        "mutation D($id: ID!) { deleteTodo(id: $id) { id message } }",
        lambda s: {"id": s["first_todo"]},
    ),
    ("user", "mutation { clearCompletedTodos }", lambda s: None),
    ("user", "{ todos { totalCount edges { cursor } pageInfo { hasNextPage } } }", lambda s: None),
    (
        "user",
        "{ todos(first: 2) { __typename edges { __typename cursor node { __typename id name } } "
        "pageInfo { __typename startCursor endCursor hasNextPage } } }",
        lambda s: None,
    ),
    ("anon", "{ me { id } }", lambda s: None),
    ("anon", "{ todos { totalCount } }", lambda s: None),
    ("user", "{ todos(first: 0) { totalCount } }", lambda s: None),
    ("user", '{ todos(after: "junk") { totalCount } }', lambda s: None),
    ("user", "{ nope }", lambda s: None),
    ("user", "{ todos { totalCount ", lambda s: None),
    (
        "anon",
        "mutation R($t: String!) { refreshToken(refreshToken: $t) { token refreshToken expiresAt "
        "user { email } } }",
        lambda s: {"t": s["refresh"]},
    ),
    (
        "anon",
        "mutation R($t: String!) { refreshToken(refreshToken: $t) { token } }",
        lambda s: {"t": s["refresh"]},
    ),
    ("anon", "mutation L($t: String!) { logOut(refreshToken: $t) }", lambda s: {"t": "x"}),
    (
        "user",
        CHANGE,
        lambda s: {"c": "wrong one!", "n": "a new password"},
    ),
    (
        "user",
        CHANGE,
        lambda s: {"c": PASSWORD, "n": "a new password"},
    ),
    # The change revoked the token (TOKEN_REVOKED): log in with the new password.
    ("user", "{ me { id } }", lambda s: None),
    (
        "anon",
        LOG_IN,
        lambda s: {"i": {"email": "ada@example.com", "password": "a new password"}},
    ),
    (
        "user",
        "mutation D($p: String!) { deleteAccount(password: $p) }",
        lambda s: {"p": "nope nope"},
    ),
    (
        "user",
        "mutation D($p: String!) { deleteAccount(password: $p) }",
        lambda s: {"p": "a new password"},
    ),
    ("user", "{ me { id } }", lambda s: None),
]


class Normaliser:
    """Replaces random values with placeholders numbered by first appearance."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str) and RANDOM_VALUE.match(value):
            return self.seen.setdefault(value, f"<random {len(self.seen)}>")
        return value


async def run_script(gql: GraphQLClient) -> list[bytes]:
    state: dict[str, Any] = {}
    normalise = Normaliser()
    answers = []
    for who, query, variables in SCRIPT:
        result = await gql(
            query, variables(state), token=state.get("token") if who == "user" else None
        )
        body = result.body
        data = body.get("data") or {}
        for auth in ("createUser", "logIn"):
            if (data.get(auth) or {}).get("refreshToken"):
                state["token"] = data[auth]["token"]
                state["refresh"] = data[auth]["refreshToken"]
        if (data.get("createUser") or {}).get("user"):
            state["user_id"] = data["createUser"]["user"]["id"]
        if data.get("createTodo"):
            state.setdefault("first_todo", data["createTodo"]["id"])
        if data.get("todos") and data["todos"].get("pageInfo"):
            state["last_cursor"] = data["todos"]["pageInfo"].get("endCursor")
        answers.append(json.dumps([result.status, normalise(body)], sort_keys=False).encode())
    return answers


@pytest.fixture
async def two_apps(
    backend: str, tmp_path: Path, settings: Settings
) -> AsyncIterator[tuple[GraphQLClient, GraphQLClient]]:
    start = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    clients = []
    async with (
        backend_factory(backend)(tmp_path / "standard") as standard_storage,
        backend_factory(backend)(tmp_path / "fast") as fast_storage,
    ):
        for storage, fast in ((standard_storage, False), (fast_storage, True)):
            clock = Clock()
            clock.now = start
            app = create_app(settings, clock=clock, storage=storage, fast_execution=fast)
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            clients.append(GraphQLClient(http))
        try:
            yield clients[0], clients[1]
        finally:
            for client in clients:
                await client.http.aclose()


async def test_every_contract_operation_answers_identically(
    two_apps: tuple[GraphQLClient, GraphQLClient],
) -> None:
    standard, fast = two_apps
    expected = await run_script(standard)
    actual = await run_script(fast)
    assert len(expected) == len(SCRIPT)
    for step, (want, got) in enumerate(zip(expected, actual, strict=True)):
        assert got == want, f"step {step}: {SCRIPT[step][1][:60]}"
    # The script really ran: data, errors and each kind of code appear in it.
    text = b"".join(expected)
    for code in (b"CONFLICT", b"BAD_USER_INPUT", b"NOT_FOUND", b"UNAUTHENTICATED"):
        assert code in text
    assert b'"totalCount": 7' in text


def test_the_served_schema_uses_the_fast_executor() -> None:
    from graphql_app.schema import build_schema
    from graphql_app.schema.execution import FastExecutor

    assert build_schema().execution_context_class is FastExecutor
    assert build_schema(fast_execution=False).execution_context_class is not FastExecutor


def test_node_types_keep_the_fast_path() -> None:
    """Implementing Node gives User and Todo an is_type_of check; InstanceTyped's is
    one the fast path makes itself, so a page's todos still take it."""
    from graphql_app.schema import build_schema
    from graphql_app.schema.execution import OBJECT, OBJECT_LIST, exact_class, plan_of
    from graphql_app.schema.types import TodoType, UserType

    schema = build_schema()._schema
    todo, user = schema.get_type("Todo"), schema.get_type("User")
    assert todo.is_type_of is not None and user.is_type_of is not None  # type: ignore[union-attr]
    assert exact_class(todo) is TodoType and exact_class(user) is UserType  # type: ignore[arg-type]
    edge, connection = schema.get_type("TodoEdge"), schema.get_type("TodoConnection")
    assert plan_of(edge.fields["node"])[:3] == (OBJECT, "node", todo)  # type: ignore[union-attr,index]
    assert plan_of(connection.fields["edges"])[0] == OBJECT_LIST  # type: ignore[union-attr,index]
