"""What each scenario sends to each kind of server.

Scenario ids: a, b, c (reads), d (write mix), e (logIn), f (a user with
1,000,000 todos, and the bulk mutations over 200,000). Targets: the REST
baseline, graphql_app, PostGraphile in its `edges` and `nodes` forms, and the
peers that serve graphql_app's own fields (Apollo Server, graphql-yoga, stock
Strawberry), which are sent graphql_app's requests unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bench.data import READER_EMAIL, READER_PASSWORD

TODO_FIELDS = "id name isCompleted createdAt updatedAt"

SCENARIOS: dict[str, str] = {
    "a": "todos(first: 20) with totalCount and edges",
    "b": "todos(first: 100) with totalCount and edges",
    "c": "me { fullname todos(first: 20) { ... creator { email } } }",
    "d": "write mix: createTodo, updateTodo, deleteTodo",
    "e": "logIn at bcrypt cost 12, 2 workers; fixed-rate (a) beside it",
    "f": "(a) as a user of 1,000,000 todos; setAllTodosCompleted and clearCompletedTodos "
    "over 200,000",
}
READ_SCENARIOS = ("a", "b", "c")

BASELINE = "baseline"
GRAPHQL_APP = "graphql_app"
POSTGRAPHILE_EDGES = "postgraphile-edges"
POSTGRAPHILE_NODES = "postgraphile-nodes"
APOLLO = "apollo"
YOGA = "yoga"
STRAWBERRY_STOCK = "strawberry-stock"
# Servers of graphql_app's schema (its read fields, same names and shapes).
SAME_SCHEMA = (GRAPHQL_APP, APOLLO, YOGA, STRAWBERRY_STOCK)
PEERS = (APOLLO, YOGA, STRAWBERRY_STOCK)


def todos_query(first: int) -> str:
    return (
        f"query Todos {{ todos(first: {first}) {{ totalCount "
        f"edges {{ cursor node {{ {TODO_FIELDS} }} }} }} }}"
    )


def me_query(first: int) -> str:
    return (
        f"query Me {{ me {{ fullname todos(first: {first}) "
        f"{{ edges {{ node {{ name creator {{ email }} }} }} }} }} }}"
    )


def postgraphile_query(first: int, form: str) -> str:
    order = "orderBy: [CREATED_AT_DESC, ID_DESC]"
    if form == "edges":
        selection = f"edges {{ cursor node {{ {TODO_FIELDS} }} }}"
    else:
        selection = f"nodes {{ {TODO_FIELDS} }}"
    return f"query Todos {{ allTodos(first: {first}, {order}) {{ totalCount {selection} }} }}"


LOG_IN = "mutation LogIn($input: LogInInput!) { logIn(input: $input) { token expiresAt } }"


@dataclass(frozen=True)
class HttpCall:
    """One request: method, path and JSON body (None for GET)."""

    method: str
    path: str
    body: bytes | None = None

    @staticmethod
    def graphql(query: str, variables: dict[str, object] | None = None) -> HttpCall:
        payload: dict[str, object] = {"query": query}
        if variables:
            payload["variables"] = variables
        return HttpCall("POST", "/graphql", json.dumps(payload).encode())


FIRST = {"a": 20, "b": 100, "c": 20, "f": 20}
SET_ALL_COMPLETED = "mutation SetAll { setAllTodosCompleted(isCompleted: true) }"
CLEAR_COMPLETED = "mutation Clear { clearCompletedTodos }"


def read_call(scenario: str, target: str) -> HttpCall | None:
    """The request of read scenario a/b/c for `target`; None where it has no equivalent."""
    first = FIRST[scenario]
    if scenario == "f":  # graphql_app's own cost of data size: no other server
        return HttpCall.graphql(todos_query(first)) if target == GRAPHQL_APP else None
    if target == BASELINE:
        route = "/me" if scenario == "c" else "/todos"
        return HttpCall("GET", f"{route}?first={first}")
    if target in SAME_SCHEMA:
        query = me_query(first) if scenario == "c" else todos_query(first)
        return HttpCall.graphql(query)
    if target in (POSTGRAPHILE_EDGES, POSTGRAPHILE_NODES):
        # (c) needs a current-user function in the database; PostGraphile is
        # compared on the plain connection, (a) and (b).
        if scenario == "c" or (scenario == "b" and target == POSTGRAPHILE_NODES):
            return None
        form = "edges" if target == POSTGRAPHILE_EDGES else "nodes"
        return HttpCall.graphql(postgraphile_query(first, form))
    raise ValueError(f"unknown target {target!r}")


def log_in_call() -> HttpCall:
    return HttpCall.graphql(LOG_IN, {"input": {"email": READER_EMAIL, "password": READER_PASSWORD}})
