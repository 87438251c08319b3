"""Abuse limits: each classic attack is refused with a clear error, and the server carries on.

Depth, aliases (fragments included), fields once fragments are expanded,
tokens, validation errors, batch size, body size (declared and chunked),
the per-request time limit, and rate limits that count operations (aliases
and batched operations), not HTTP requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from graphql_app.app import create_app
from graphql_app.schema.limits import BoundedValidation
from graphql_app.schema.parsing import MAX_CACHED_QUERY
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import sqlite_backend
from tests.support.clock import Clock
from tests.support.environment import TEST_SECRET
from tests.support.graphql_client import (
    PASSWORD,
    SIGN_UP,
    TODOS_PAGE,
    Account,
    GraphQLClient,
    Result,
    create_todo,
    sign_up,
)

Client = Callable[..., Awaitable[GraphQLClient]]


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    # The limits sit in front of storage: one backend is enough.
    async with sqlite_backend(tmp_path) as store:
        yield store


@pytest.fixture
async def client(storage: Storage, clock: Clock) -> AsyncIterator[Client]:
    """A GraphQL client of an app with these settings changed from the defaults."""
    clients: list[httpx.AsyncClient] = []
    apps = []

    async def make(**changes: Any) -> GraphQLClient:
        defaults: dict[str, Any] = {
            "secret_key": TEST_SECRET,
            "bcrypt_rounds": 4,
            "auth_rate_limit": "",
            "login_account_rate_limit": "",
        }
        settings = Settings(**{**defaults, **changes})
        app = create_app(settings, clock=clock, storage=storage)
        apps.append(app)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        clients.append(http)
        return GraphQLClient(http)

    yield make
    for http in clients:
        await http.aclose()
    for app in apps:
        await app.state.deps.rate_limits.close()


async def still_serves(gql: GraphQLClient, account: Account) -> None:
    """A contract operation right after the attack works."""
    page = (await gql(TODOS_PAGE, {"first": 5}, token=account.token)).ok()["todos"]
    assert page["totalCount"] >= 1


@pytest.fixture
async def victim(client: Client) -> tuple[GraphQLClient, Account]:
    gql = await client()
    account = await sign_up(gql, "ada@example.com")
    await create_todo(gql, account.token, "keep serving")
    return gql, account


def refused(result: Result, code: str = "GRAPHQL_VALIDATION_FAILED") -> str:
    assert result.data is None, result.body
    assert result.codes == [code], result.body
    return str(result.errors[0]["message"])


async def test_deep_nesting_is_refused(victim: tuple[GraphQLClient, Account]) -> None:
    gql, account = victim
    # todos > edges > node > creator > todos ... : 13 levels, the limit is 10.
    nested = "id"
    for _ in range(3):
        nested = f"todos {{ edges {{ node {{ creator {{ {nested} }} }} }} }}"
    message = refused(await gql(f"{{ {nested} }}", token=account.token))
    assert message == "'anonymous' exceeds maximum operation depth of 10"
    await still_serves(gql, account)


async def test_depth_counts_through_fragments(victim: tuple[GraphQLClient, Account]) -> None:
    gql, account = victim
    query = """
    query Deep { todos { edges { node { ...Creator } } } }
    fragment Creator on Todo { creator { todos { edges { node { ...Again } } } } }
    fragment Again on Todo { creator { todos { edges { node { creator { id } } } } } }
    """
    assert "exceeds maximum operation depth" in refused(await gql(query, token=account.token))
    await still_serves(gql, account)


async def test_alias_flood_is_refused(victim: tuple[GraphQLClient, Account]) -> None:
    gql, account = victim
    flood = " ".join(f"a{i}: todos {{ totalCount }}" for i in range(31))
    message = refused(await gql(f"{{ {flood} }}", token=account.token))
    assert message == "31 aliases found. Allowed: 30"
    await still_serves(gql, account)


async def test_aliases_inside_fragments_count(victim: tuple[GraphQLClient, Account]) -> None:
    gql, account = victim
    aliases = " ".join(f"a{i}: __typename" for i in range(16))
    # 16 aliases in a fragment spread twice: 32 aliases executed, over the 30 allowed.
    query = f"{{ ...F ... on Query {{ ...F }} }} fragment F on Query {{ {aliases} }}"
    assert refused(await gql(query)) == "32 aliases found. Allowed: 30"
    await still_serves(gql, account)


async def test_fragment_fan_out_is_counted_not_walked(
    victim: tuple[GraphQLClient, Account],
) -> None:
    gql, account = victim
    # Each fragment spreads the next twice: 2**60 fields once expanded, in a 1.5 kB
    # document. The count is exact because each fragment is sized once.
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(60))
    query = f"{{ ...F0 }} {fragments} fragment F60 on Query {{ __typename }}"
    message = refused(await gql(query))
    assert message == (
        f"The operation selects {2**60} fields once fragments are expanded. Allowed: 2000"
    )
    await still_serves(gql, account)


ELEVEN_FIELDS = [
    "{ me { id email fullname todos(first: 1) { totalCount edges { node { id"
    " ... on Todo { name isCompleted } } } } } }",
    "{ me { ...U } } fragment U on User { id email fullname todos(first: 1) {"
    " totalCount edges { node { id ... on Todo { name isCompleted } } } } }",
]


@pytest.mark.parametrize("document", ELEVEN_FIELDS)
async def test_fields_are_counted_exactly_through_nesting_and_fragments(
    client: Client, document: str
) -> None:
    """Eleven fields, nested and in inline and named fragments: over a limit of 10, and
    within it once one field goes. Mutants graphql_app.schema.limits.x_count_fields__mutmut_6,
    9, 10, 12 and 13 (nested or fragment fields miscounted)."""
    gql = await client(max_fields=10)
    message = refused(await gql(document))
    assert message.startswith("The operation selects 11 fields")
    within = await gql(document.replace(" fullname", ""))
    assert within.codes == ["UNAUTHENTICATED"], within.body  # validated, then ran


async def test_directive_flood_yields_a_handful_of_errors(
    victim: tuple[GraphQLClient, Account],
) -> None:
    gql, account = victim
    directives = " ".join(f"@bogus{i}" for i in range(100))
    result = await gql(f"{{ __typename {directives} }}")
    assert result.data is None
    # MAX_VALIDATION_ERRORS (5) errors, then graphql-core's notice that it stopped.
    assert len(result.errors) == 6
    assert result.errors[0]["message"] == "Unknown directive '@bogus0'."
    assert result.errors[-1]["message"] == (
        "Too many validation errors, error limit reached. Validation aborted."
    )
    await still_serves(gql, account)


async def test_field_duplication_is_refused_before_validation(
    victim: tuple[GraphQLClient, Account],
) -> None:
    gql, account = victim
    # graphql-core's overlap check compares every pair of repeats: 1,990 of them took
    # it most of a second; now the count refuses them first.
    for document in (
        "{ " + "__typename " * 1990 + "}",
        "{ todos { " + "totalCount " * 11 + "} }",
        "{ todos { " + "n: totalCount " * 11 + "} }",
        "query { ...F } fragment F on Query { " + "__typename " * 11 + "}",
    ):
        message = refused(await gql(document, token=account.token))
        assert message.startswith("The field `")
        assert message.endswith("in one selection set. Allowed: 10"), message
    # Ten are fine, as are many distinct fields and the same field in several sets.
    ok = await gql("{ " + "__typename " * 10 + "}")
    assert ok.ok() == {"__typename": "Query"}
    nested = await gql("{ a: todos { totalCount } b: todos { totalCount } }", token=account.token)
    assert nested.ok()["a"]["totalCount"] == 1
    await still_serves(gql, account)


def validation_check(app: Starlette) -> Any:
    """The (cached) check BoundedValidation runs for the app: functools.lru_cache's
    cache_info() counts the verdicts it remembers."""
    for factory in app.state.schema.extensions:
        extension = factory()
        if isinstance(extension, BoundedValidation):
            return extension.check
    raise AssertionError("no BoundedValidation among the schema's extensions")


async def test_validation_remembers_documents_up_to_the_cached_size_and_no_larger(
    storage: Storage, clock: Clock, settings: Settings
) -> None:
    """A document of up to MAX_CACHED_QUERY characters is validated once however often
    it is sent; a larger one afresh each time, and never kept (each kept verdict pins
    its parsed document, megabytes for a large one). Sent by GET, which Strawberry's
    path answers (BoundedValidation). Mutants
    graphql_app.schema.limits.xǁBoundedValidationǁon_validate__mutmut_21 and
    xǁBoundedValidationǁon_validate__mutmut_24 (nothing remembered),
    xǁBoundedValidationǁon_validate__mutmut_22 (a document of exactly MAX_CACHED_QUERY
    not remembered), xǁBoundedValidationǁon_validate__mutmut_25 (any size remembered)."""
    app = create_app(settings, clock=clock, storage=storage)
    check = validation_check(app)

    def padded(length: int) -> str:
        query = "{ __typename } # "
        return query + "x" * (length - len(query))

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:

        async def remembered(query: str) -> tuple[int, int]:
            """(verdicts kept, verdicts reused) once `query` was sent three times."""
            before = check.cache_info()
            for _ in range(3):
                response = await http.get(
                    "/graphql",
                    params={"query": query},
                    headers={"apollo-require-preflight": "1"},
                )
                assert response.json() == {"data": {"__typename": "Query"}}
            after = check.cache_info()
            return after.currsize - before.currsize, after.hits - before.hits

        assert await remembered(padded(MAX_CACHED_QUERY)) == (1, 2)
        assert await remembered(padded(MAX_CACHED_QUERY + 1)) == (0, 0)


async def test_token_flood_stops_at_the_token_limit(client: Client) -> None:
    # With the body limit raised out of the way, a 2 MB document of a million
    # tokens is refused once the parser reaches token 2001.
    gql = await client(max_body_bytes=4_000_000)
    account = await sign_up(gql, "ada@example.com")
    await create_todo(gql, account.token, "keep serving")
    flood = "{ " + "a " * 1_000_000 + "}"
    message = refused(await gql(flood), "GRAPHQL_PARSE_FAILED")
    assert message == "Syntax Error: Document contains more than 2000 tokens. Parsing aborted."
    await still_serves(gql, account)


async def test_large_batch_is_refused(client: Client) -> None:
    gql = await client(batch_requests=True)
    account = await sign_up(gql, "ada@example.com")
    await create_todo(gql, account.token, "keep serving")
    batch = [{"query": "{ __typename }"}] * 11
    response = await gql.http.post("/graphql", json=batch)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "message": "A batch may hold at most 10 operations; this one holds 11",
            "extensions": {"code": "BAD_REQUEST"},
        }
    ]
    await still_serves(gql, account)


async def test_body_over_the_limit_is_refused_by_its_length(
    victim: tuple[GraphQLClient, Account],
) -> None:
    gql, account = victim
    body = b'{"query": "{ __typename }", "variables": {"pad": "' + b"x" * 200_000 + b'"}}'
    response = await gql.http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["message"] == (
        "The request body is larger than the limit of 100000 bytes"
    )
    # The unread rest of the body must not be taken for the next request.
    # (Mutants graphql_app.http.body_limit.xǁBodyLimitMiddlewareǁ_refuse__mutmut_7, 10, 12, 14, 15.)
    assert response.headers["connection"] == "close"
    await still_serves(gql, account)


async def test_a_body_of_exactly_the_limit_is_served_declared_or_streamed(client: Client) -> None:
    """Mutants graphql_app.http.body_limit.xǁBodyLimitMiddlewareǁ__call____mutmut_21 (a
    declared length at the limit refused), 29 and 40 (a streamed one)."""
    gql = await client(max_body_bytes=1024)
    head, tail = b'{"query": "{ __typename }", "variables": {"pad": "', b'"}}'
    body = head + b"x" * (1024 - len(head) - len(tail)) + tail
    assert len(body) == 1024

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    for content in (body, chunks()):
        response = await gql.http.post(
            "/graphql", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    victim: tuple[GraphQLClient, Account],
) -> None:
    """Mutants graphql_app.http.body_limit.xǁBodyLimitMiddlewareǁ__call____mutmut_14 and 15
    (Content-Length not looked at: the body read up to the limit first)."""
    gql, account = victim
    read = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(20):
            read += 1
            yield b"x" * 10_000

    response = await gql.http.post(
        "/graphql",
        content=chunks(),
        headers={"content-type": "application/json", "content-length": "200000"},
    )
    assert response.status_code == 413
    assert read <= 1
    await still_serves(gql, account)


async def test_chunked_body_over_the_limit_is_refused_while_streaming(
    victim: tuple[GraphQLClient, Account],
) -> None:
    gql, account = victim
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(1000):  # 10 MB if it were all read
            sent += 1
            yield b"x" * 10_000

    response = await gql.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert "content-length" not in response.request.headers
    # Refused at the limit (about 10 chunks in), not after reading all 10 MB.
    assert sent < 20
    await still_serves(gql, account)


async def test_slow_request_is_cut_at_the_time_limit_before_it_writes(client: Client) -> None:
    # A password hash at cost 13 takes most of a second or more: the limit passes
    # before the user is stored.
    slow = await client(request_timeout=0.2, bcrypt_rounds=13)
    response = await slow.http.post(
        "/graphql",
        json={
            "query": SIGN_UP,
            "variables": {
                "input": {"email": "ada@example.com", "fullname": "Ada", "password": PASSWORD}
            },
        },
    )
    assert response.status_code == 503
    assert response.json()["errors"] == [
        {
            "message": "The request took longer than 0.2 seconds and was cancelled",
            "extensions": {"code": "SERVICE_UNAVAILABLE"},
        }
    ]
    # SERVICE_UNAVAILABLE meant it: nothing was stored, the email is free.
    gql = await client(request_timeout=0.5)
    account = await sign_up(gql, "ada@example.com")
    await create_todo(gql, account.token, "keep serving")
    await still_serves(gql, account)
    # A write past the limit answers what it committed: tests/test_time_limit.py.


LOG_IN = 'logIn(input: {{email: "{email}", password: "{password}"}}) {{ token }}'


async def test_rate_limits_count_each_alias(client: Client) -> None:
    gql = await client(auth_rate_limit="3/minute")
    log_in = LOG_IN.format(email="ada@example.com", password=PASSWORD)
    await sign_up(gql, "ada@example.com")  # the first of the three
    # One HTTP request, three logIns (run in order): a and b pass, c is over the budget
    # (logIn is non-null, so c's error nulls the whole data).
    result = await gql(f"mutation {{ a: {log_in} b: {log_in} c: {log_in} }}")
    assert result.codes == ["RATE_LIMITED"]
    assert result.errors[0]["path"] == ["c"]


async def test_rate_limits_count_each_operation_of_a_batch(client: Client) -> None:
    gql = await client(auth_rate_limit="3/minute", batch_requests=True)
    log_in = LOG_IN.format(email="ada@example.com", password=PASSWORD)
    await sign_up(gql, "ada@example.com")
    batch = [{"query": f"mutation {{ {log_in} }}"}] * 3
    response = await gql.http.post("/graphql", json=batch)
    assert response.status_code == 200
    codes = [
        error["extensions"]["code"]
        for result in response.json()
        for error in result.get("errors", [])
    ]
    # Sign-up plus three batched logIns is four operations for a budget of three.
    assert codes == ["RATE_LIMITED"]
