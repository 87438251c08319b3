"""Prepared operations (schema/prepared.py) answer what Strawberry's path answers.

Two apps on one storage, one with the fast execution (prepared operations and
the fast executor), one without (Strawberry's view and Schema.execute, and
graphql-core's executor), get the same requests: plain POSTs the prepared
path runs, and every kind of request it must leave to Strawberry's path
(other content types, Accept headers that ask for a stream or refuse JSON,
batches, persisted queries, bad parameters, documents that do not parse or
validate, several operations, subscriptions). Status, headers, body bytes,
the request-log line and the operation metrics must be the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from graphql import get_operation_ast, parse
from starlette.applications import Starlette

from graphql_app.app import create_app
from graphql_app.models import NewSession
from graphql_app.schema import build_schema
from graphql_app.schema import execution as fast_execution
from graphql_app.schema.execution import FastExecutor
from graphql_app.schema.observability import Observe
from graphql_app.schema.parsing import MAX_CACHED_QUERY
from graphql_app.schema.plans import (
    MAX_PLAN_FIELDS,
    MutationPlan,
    QueryPlan,
    compile_plan,
    plannable,
)
from graphql_app.schema.prepared import PlanRuns
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import backend_factory
from tests.support.clock import Clock
from tests.support.environment import TEST_SECRET
from tests.support.graphql_client import GraphQLClient

JSON = {"content-type": "application/json"}
PAGE = "query Page { todos(first: 2) { totalCount edges { cursor node { id name createdAt } } } }"
ME = "{ me { fullname todos(first: 2) { edges { node { name creator { email } } } } } }"
TWO = "query A { me { id } } query B { todos { totalCount } }"
CREATE = "mutation C($i: CreateTodoInput!) { createTodo(input: $i) { id } }"


def body(**payload: Any) -> str:
    return json.dumps(payload)


# (what, headers beyond the token, body); each answered by both apps in turn.
REQUESTS: list[tuple[str, dict[str, str], str]] = [
    ("a page", JSON, body(query=PAGE)),
    ("the page again", JSON, body(query=PAGE, operationName="Page")),
    ("me with creators", JSON, body(query=ME, variables=None, extensions={"trace": 1})),
    ("charset", {"content-type": "application/json; charset=utf-8"}, body(query=PAGE)),
    ("other spacing", {"content-type": "application/json;charset=UTF-8"}, body(query=PAGE)),
    (
        "graphql-response+json",
        {**JSON, "accept": "application/graphql-response+json"},
        body(query=PAGE),
    ),
    ("named of two", JSON, body(query=TWO, operationName="B")),
    ("two, no name", JSON, body(query=TWO)),
    ("unknown name", JSON, body(query=PAGE, operationName="Nope")),
    ("empty name", JSON, body(query=PAGE, operationName="")),
    ("syntax error", JSON, body(query="{ todos { totalCount ")),
    ("validation error", JSON, body(query="{ nope }")),
    (
        "validation error, spec media type",
        {**JSON, "accept": "application/graphql-response+json"},
        body(query="{ nope }"),
    ),
    ("empty query", JSON, body(query="")),
    ("no query", JSON, body(variables={})),
    ("query not a string", JSON, body(query=3)),
    ("variables not an object", JSON, body(query=PAGE, variables=[1])),
    ("name not a string", JSON, body(query=PAGE, operationName=3)),
    ("extensions not an object", JSON, body(query=PAGE, extensions="x")),
    ("variable of the wrong type", JSON, body(query=CREATE, variables={"i": {"name": 3}})),
    ("variable missing", JSON, body(query=CREATE, variables={})),
    ("a resolver's error", JSON, body(query=CREATE, variables={"i": {"name": "   "}})),
    (
        "persisted, unknown",
        JSON,
        body(extensions={"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}),
    ),
    (
        "persisted, wrong hash",
        JSON,
        body(query=PAGE, extensions={"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}),
    ),
    ("persisted, malformed", JSON, body(query=PAGE, extensions={"persistedQuery": 3})),
    ("a batch", JSON, json.dumps([{"query": PAGE}])),
    ("a JSON string", JSON, json.dumps("x")),
    ("not JSON", JSON, "{"),
    ("text/plain (CSRF)", {"content-type": "text/plain"}, body(query=PAGE)),
    ("no content type", {}, body(query=PAGE)),
    ("form content", {"content-type": "application/x-www-form-urlencoded"}, "query=x"),
    ("JSON refused", {**JSON, "accept": "text/html"}, body(query=PAGE)),
    ("a query asking for events", {**JSON, "accept": "text/event-stream"}, body(query=PAGE)),
    ("a subscription", JSON, body(query="subscription { todoEvents { kind } }")),
    ("introspection", JSON, body(query="{ __schema { queryType { name } } }")),
]


@dataclass
class Twins:
    standard: GraphQLClient
    fast: GraphQLClient
    standard_app: Starlette
    fast_app: Starlette
    token: str


@pytest.fixture
async def twins(tmp_path: Path, settings: Settings) -> AsyncIterator[Twins]:
    async with make_twins(tmp_path, settings) as made:
        yield made


@contextlib.asynccontextmanager
async def make_twins(tmp_path: Path, settings: Settings) -> AsyncIterator[Twins]:
    clock = Clock()
    clock.now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    async with backend_factory("sqlite")(tmp_path) as storage:
        apps = [_app(settings, clock, storage, fast) for fast in (False, True)]
        clients = [
            GraphQLClient(
                httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")
            )
            for app in apps
        ]
        # Stored directly, so that the apps' metrics count only the requests compared.
        session = NewSession("family", "hash", clock.now + timedelta(days=1))
        user = await storage.create_user("ada@example.com", "Ada", "x", session, clock.now)
        for n in range(3):
            await storage.create_todo(user.id, f"todo {n}", n == 1, clock())
        token, _ = apps[1].state.deps.tokens.issue_access(user.id, clock.now)
        try:
            yield Twins(clients[0], clients[1], apps[0], apps[1], token)
        finally:
            for client in clients:
                await client.http.aclose()


def _app(settings: Settings, clock: Clock, storage: Storage, fast: bool) -> Starlette:
    return create_app(settings, clock=clock, storage=storage, fast_execution=fast)


async def answer(
    client: GraphQLClient, token: str, headers: dict[str, str], content: str, caplog: Any
) -> tuple[Any, ...]:
    caplog.clear()
    response = await client.http.post(
        "/graphql", content=content, headers={**headers, "authorization": f"Bearer {token}"}
    )
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "graphql_app.access"]
    for line in lines:
        del line["request_id"], line["duration_ms"]
    kept = ("content-type", "cache-control", "allow")
    return (
        response.status_code,
        {name: response.headers.get(name) for name in kept},
        response.content,
        lines,
    )


async def test_every_kind_of_request_answers_as_strawberrys_path(
    twins: Twins, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="graphql_app.access")
    for what, headers, content in REQUESTS:
        want = await answer(twins.standard, twins.token, headers, content, caplog)
        got = await answer(twins.fast, twins.token, headers, content, caplog)
        assert got == want, what
    # The operations' metrics agree too (durations aside).
    assert _counts(twins.fast_app) == _counts(twins.standard_app)
    assert any(line.startswith("graphql_errors_total{") for line in _counts(twins.fast_app))


def _counts(app: Starlette) -> list[str]:
    counted = (
        "graphql_operations_total",
        "graphql_errors_total",
        "graphql_operation_duration_seconds_count",
    )
    exposition = app.state.metrics.exposition().decode()
    return [line for line in exposition.splitlines() if line.startswith(counted)]


async def test_plain_posts_take_the_prepared_path(twins: Twins) -> None:
    """The path the differential tests compare is really the one plain requests take."""
    fast, token = twins.fast, twins.token
    prepared = twins.fast_app.state.schema.prepared
    assert prepared is not None
    before = prepared.cache_info()
    for query in (PAGE, ME, PAGE):
        assert (await fast(query, token=token)).ok()
    after = prepared.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (2, 1)
    assert prepared.prepare(PAGE, None) is not None
    for query, name in ((TWO, None), (PAGE, "Nope"), ("{ nope }", None), ("{ todos {", None)):
        assert prepared.prepare(query, name) is None, query


async def test_texts_longer_than_the_parse_cache_keeps_are_not_kept(
    twins: Twins, caplog: pytest.LogCaptureFixture
) -> None:
    """The prepared cache's keys are the requests' texts: a document longer than
    MAX_CACHED_QUERY, or an operation name longer than its document, is answered
    as on Strawberry's path and never kept (1,000 of them held 100 MB)."""
    prepared = twins.fast_app.state.schema.prepared
    assert prepared is not None
    before = prepared.cache_info().currsize
    for n in range(3):
        long_query = "{ me { id } }" + " " * MAX_CACHED_QUERY + f"# {n}"
        long_name = "N" * 20_000 + str(n)
        for content in (
            body(query=long_query),
            body(query="{ me { id } }", operationName=long_name),
            body(query=f"query {long_name} {{ me {{ id }} }}", operationName=long_name),
        ):
            want = await answer(twins.standard, twins.token, JSON, content, caplog)
            assert await answer(twins.fast, twins.token, JSON, content, caplog) == want
    assert prepared.cache_info().currsize == before


@pytest.fixture
def production() -> Settings:
    return Settings(
        secret_key=TEST_SECRET,
        bcrypt_rounds=4,
        environment="production",
        auth_rate_limit="",
        login_account_rate_limit="",
        login_account_ceiling="",
    )


TYPED = "query Q($f: Int) { todos(first: $f) { totalCount } }"
# What production answers differently: introspection off, no "Did you mean".
PRODUCTION_REQUESTS = [
    ("introspection", body(query="{ __schema { queryType { name } } }")),
    ("__type", body(query='{ __type(name: "Todo") { name } }')),
    ("__typename", body(query="{ __typename }")),
    ("a field's suggestion", body(query="{ todo }")),
    ("a variable's type", body(query=TYPED, variables={"f": "x"})),
    ("an input field's suggestion", body(query=CREATE, variables={"i": {"nam": "x"}})),
    ("a page", body(query=PAGE)),
]


async def test_production_answers_as_strawberrys_path(
    tmp_path: Path, production: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="graphql_app.access")
    async with make_twins(tmp_path, production) as twins:
        for what, content in PRODUCTION_REQUESTS * 2:  # the second time, prepared
            want = await answer(twins.standard, twins.token, JSON, content, caplog)
            got = await answer(twins.fast, twins.token, JSON, content, caplog)
            assert got == want, what
        refused = await twins.fast("{ __schema { queryType { name } } }", token=twins.token)
        assert refused.data is None and "introspection" in refused.errors[0]["message"]


async def test_each_app_prepares_under_its_own_limits(tmp_path: Path, settings: Settings) -> None:
    """One process, two apps: a document one app's limits let through, which it
    prepared, the other's stricter limits still refuse, however often it is sent."""
    deep = "{ me { todos { edges { node { creator { todos { totalCount } } } } } } }"  # 22 tokens
    wide = "{ me { " + " ".join(f"a{n}: id" for n in range(9)) + " } }"  # 33 tokens
    strict = settings.model_copy(update={"max_query_depth": 5, "max_tokens": 25})
    async with backend_factory("sqlite")(tmp_path) as storage:
        apps = [create_app(s, storage=storage) for s in (settings, strict)]
        clients = [
            GraphQLClient(httpx.AsyncClient(transport=httpx.ASGITransport(a), base_url="http://t"))
            for a in apps
        ]
        try:
            for _ in range(2):
                for query, refusal in (
                    (deep, "GRAPHQL_VALIDATION_FAILED"),
                    (wide, "GRAPHQL_PARSE_FAILED"),
                ):
                    assert (await clients[0](query)).codes == ["UNAUTHENTICATED"]
                    assert apps[0].state.schema.prepared.prepare(query, None) is not None
                    assert (await clients[1](query)).codes == [refusal], query
                    assert apps[1].state.schema.prepared.prepare(query, None) is None
        finally:
            for client in clients:
                await client.http.aclose()


def test_prepared_operations_only_for_the_apps_own_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_schema().prepared is not None
    assert build_schema(fast_execution=False).prepared is None
    assert build_schema(extra_extensions=[lambda: Observe(None)]).prepared is None
    monkeypatch.setattr(fast_execution, "FAST_PATH_PROBLEMS", ["graphql-core 9.9.9 is untested"])
    assert build_schema().prepared is None


# Queries with a plan (schema/plans.py), each answered by it or handed to graphql-core.
PLANNED: list[tuple[str, str, dict[str, Any] | None, bool]] = [
    ("a page", PAGE, None, True),
    ("me with creators", ME, None, True),
    (
        "aliases, the same field twice with other arguments, fragments",
        "query Q($f: Int) { a: todos(first: $f) { ...C } b: todos(first: 1, "
        "filter: {isCompleted: true}) { edges { node { ... on Todo { id isCompleted } } } "
        "pageInfo { hasNextPage endCursor } } } fragment C on TodoConnection "
        "{ totalCount __typename edges { cursor n: node { __typename name } } }",
        {"f": 2},
        True,
    ),
    (
        "creators' own pages",
        "{ todos(last: 2) { edges { node { creator { id email todos(first: 1) { totalCount } } "
        "updatedAt } } } }",
        None,
        True,
    ),
    ("a null todo", '{ todo(id: "nope") { id name } }', None, True),
    ("a resolver's error", '{ todos(after: "junk") { totalCount } }', None, False),
    (
        "an error after a page",
        '{ todos { totalCount } todo(id: "") { creator { email } } }',
        None,
        True,
    ),
    (
        "an unknown variable value",
        "query Q($f: Int) { todos(first: $f) { totalCount } }",
        {"f": -1},
        False,
    ),
]


async def test_query_plans_answer_as_graphql_core(
    twins: Twins, caplog: pytest.LogCaptureFixture
) -> None:
    """The plans answer the queries they cover, and give the others (errors) to
    graphql-core, which answers them as on the standard path."""
    for what, query, variables, answered in PLANNED:
        before = (PlanRuns.answered, PlanRuns.handed_over)
        content = body(query=query, variables=variables)
        want = await answer(twins.standard, twins.token, JSON, content, caplog)
        got = await answer(twins.fast, twins.token, JSON, content, caplog)
        assert got == want, what
        assert (PlanRuns.answered, PlanRuns.handed_over) == (
            before[0] + answered,
            before[1] + (not answered),
        ), what
    # Without a token every query's resolver refuses: handed over, answered the same.
    anonymous = await twins.fast(ME)
    assert anonymous.codes == ["UNAUTHENTICATED"] and anonymous.data is None


async def test_a_plan_serves_concurrent_callers_each_their_own(twins: Twins) -> None:
    """A plan is compiled with the first request's executor and shared: concurrent
    requests of two users, with other variables, each get their own data."""
    storage = twins.fast_app.state.deps.storage
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    bob = await storage.create_user(
        "bob@example.com", "Bob", "x", NewSession("bob", "bob-hash", now + timedelta(days=1)), now
    )
    await storage.create_todo(bob.id, "bob's", False, now)
    bob_token, _ = twins.fast_app.state.deps.tokens.issue_access(bob.id, now)
    query = (
        "query Q($f: Int) { me { email todos(first: $f) { edges { node { name "
        "creator { email } } } } } }"
    )
    calls = [(twins.token, 1 + n % 3) if n % 2 else (bob_token, 2) for n in range(20)]
    before = PlanRuns.answered
    results = await asyncio.gather(*(twins.fast(query, {"f": f}, token=t) for t, f in calls))
    assert PlanRuns.answered - before == len(calls)
    for (token, first), result in zip(calls, results, strict=True):
        email, count = (
            ("ada@example.com", first) if token == twins.token else ("bob@example.com", 1)
        )
        me = result.ok()["me"]
        assert me["email"] == email
        assert len(me["todos"]["edges"]) == count
        assert {e["node"]["creator"]["email"] for e in me["todos"]["edges"]} == {email}


@pytest.mark.parametrize(
    "query",
    [
        PAGE,
        ME,
        '{ todo(id: "x") { id creator { fullname } } }',
        "{ __typename me { __typename id } }",
        'mutation { createTodo(input: {name: "x"}) { id name isCompleted createdAt } }',
        "mutation { clearCompletedTodos }",
        'mutation { d: deleteTodo(id: "x") { ... on DeleteTodoPayload { id message } } }',
    ],
)
def test_the_common_operations_have_plans(query: str) -> None:
    plan = _plan(query)
    assert plan is not None
    assert isinstance(plan, MutationPlan) == query.startswith("mutation")


@pytest.mark.parametrize(
    "query",
    [
        '{ node(id: "x") { id } }',  # an interface: the runtime type varies
        '{ nodes(ids: ["x"]) { id } }',
        "query Q($s: Boolean!) { me { id @skip(if: $s) } }",  # fields depend on the variables
        "{ me @include(if: true) { id } }",
        "{ __schema { queryType { name } } }",
        # A mutation of two root fields, or with a resolver below its root field.
        "mutation { clearCompletedTodos setAllTodosCompleted(isCompleted: true) }",
        'mutation { logIn(input: {email: "a", password: "b"}) { token user { id } } }',
        "mutation { __typename }",
    ],
)
def test_what_plans_do_not_cover_has_no_plan(query: str) -> None:
    assert _plan(query) is None


def test_a_plan_compiles_at_most_max_plan_fields() -> None:
    """A plan is compiled on the event loop, and kept, for any client's query: past
    MAX_PLAN_FIELDS fields (fragments inlined) it has none. (Unbounded, a 1.2 KB
    query of 1,000 fields took 110 ms to compile and kept 1.1 MB.)"""

    def typenames(count: int) -> str:
        return "{ " + " ".join(f"a{n}: __typename" for n in range(count)) + " }"

    assert _plan(typenames(MAX_PLAN_FIELDS)) is not None
    assert _plan(typenames(MAX_PLAN_FIELDS + 1)) is None
    spread = " ".join(f"t{n}: todos(first: {n + 1}) {{ ...C }}" for n in range(8))
    fragment = "fragment C on TodoConnection { totalCount edges { cursor node { id name } } }"
    assert _plan(f"{{ {spread} }} {fragment}") is None  # 8 × 7 fields


def test_what_the_plan_compiler_cannot_build_has_no_plan() -> None:
    """Fails closed: Python's compiler refuses more than 20 nested blocks (here, lists
    nested 25 deep); the query then has no plan, rather than failing."""
    nested: Any = int
    for _ in range(25):
        nested = list[nested] | None

    @strawberry.type
    class Query:
        deep: Any = strawberry.field(graphql_type=nested, default=None)

    schema = strawberry.Schema(Query)
    executor = FastExecutor.build(schema._schema, parse("{ deep }"), None, None, {}, None)
    assert not isinstance(executor, list)
    assert compile_plan(executor) is None


def _plan(query: str) -> QueryPlan | MutationPlan | None:
    schema = build_schema()
    document = parse(query)
    operation = get_operation_ast(document)
    assert operation is not None
    if not plannable(document, operation):
        return None
    executor = FastExecutor.build(schema._schema, document, None, None, {}, None)
    assert not isinstance(executor, list)
    return compile_plan(executor)
