"""Production defaults: no GraphiQL, no introspection, no "Did you mean" suggestion of any kind.

Suggestions would hand out the schema that disabled introspection hides:
fields, arguments, types, input fields (in the document and in variables),
directive arguments and enum values are each checked.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import strawberry

from graphql_app.app import create_app
from graphql_app.schema.error_formatting import error_codes
from graphql_app.schema.limits import QueryLimits, bounded_validation
from graphql_app.settings import Settings
from graphql_app.storage import Storage
from tests.support.backends import sqlite_backend
from tests.support.clock import Clock
from tests.support.environment import TEST_SECRET
from tests.support.graphql_client import GraphQLClient

# Each document draws one kind of suggestion from graphql-core in development;
# the last item is the client's mistake, which the error must still name.
SUGGESTING = {
    "field": ("{ me { emial } }", None, "Did you mean 'email'?", "'emial'"),
    "argument": ("{ todos(frist: 2) { totalCount } }", None, "Did you mean 'first'", "'frist'"),
    "type": (
        "query Q($f: TodoFiltr) { todos(filter: $f) { totalCount } }",
        None,
        "Did you mean 'TodoFilter'?",
        "'TodoFiltr'",
    ),
    "input field": (
        "{ todos(filter: {isComplete: true}) { totalCount } }",
        None,
        "Did you mean 'isCompleted'?",
        "'isComplete'",
    ),
    "input field in variables": (
        "query Q($f: TodoFilter) { todos(filter: $f) { totalCount } }",
        {"f": {"isComplete": True}},
        "Did you mean 'isCompleted'?",
        "'isComplete'",
    ),
    "directive argument": (
        "{ __typename @include(iff: true) }",
        None,
        "Did you mean 'if'?",
        "'iff'",
    ),
    "sub-selection": ("{ me }", None, "Did you mean 'me { ... }'?", "'me'"),
}


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with sqlite_backend(tmp_path) as store:
        yield store


@pytest.fixture
def settings() -> Settings:
    return Settings(
        environment="production",
        secret_key=TEST_SECRET,
        bcrypt_rounds=4,
        auth_rate_limit="",
        login_account_rate_limit="",
    )


@pytest.fixture
async def development(storage: Storage, clock: Clock) -> AsyncIterator[GraphQLClient]:
    app = create_app(
        Settings(secret_key=TEST_SECRET, auth_rate_limit="", login_account_rate_limit=""),
        clock=clock,
        storage=storage,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        yield GraphQLClient(http)
    await app.state.deps.rate_limits.close()


async def test_no_graphiql(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "text/html" not in page.headers["content-type"]
    assert (await http.get("/graphiql/app.js")).status_code == 404


@pytest.mark.parametrize(
    "query",
    ["{ __schema { types { name } } }", '{ __type(name: "Todo") { fields { name } } }'],
)
async def test_no_introspection(gql: GraphQLClient, query: str) -> None:
    result = await gql(query)
    assert result.data is None
    assert set(result.codes) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "introspection has been disabled" in result.errors[0]["message"]


async def test_typename_still_works(gql: GraphQLClient) -> None:
    assert (await gql("{ __typename }")).ok() == {"__typename": "Query"}


@pytest.mark.parametrize("kind", SUGGESTING)
async def test_no_suggestions(gql: GraphQLClient, development: GraphQLClient, kind: str) -> None:
    query, variables, suggestion, mistake = SUGGESTING[kind]
    shown = await development(query, variables)
    assert suggestion in shown.errors[0]["message"]  # the development server suggests
    hidden = await gql(query, variables)
    assert hidden.codes == shown.codes
    for error in hidden.errors:
        assert "Did you mean" not in error["message"]
    assert mistake in hidden.errors[0]["message"]  # still a clear error


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class PaletteQuery:
    @strawberry.field
    def paint(self, colour: Colour) -> str:
        return colour.value


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ paint(colour: REDD) }", None),
        ("query P($c: Colour!) { paint(colour: $c) }", {"c": "REDD"}),
    ],
)
async def test_no_enum_value_suggestions(query: str, variables: dict[str, str] | None) -> None:
    # The todo schema takes no enum as input, so the same extensions on a small one.
    def schema(hide: bool) -> strawberry.Schema:
        return strawberry.Schema(
            query=PaletteQuery,
            extensions=[
                error_codes(hide_suggestions=hide),
                bounded_validation(QueryLimits(hide_suggestions=hide)),
            ],
        )

    shown = await schema(False).execute(query, variable_values=variables)
    assert shown.errors and "Did you mean the enum value 'RED'?" in shown.errors[0].message
    hidden = await schema(True).execute(query, variable_values=variables)
    assert hidden.errors and "Did you mean" not in hidden.errors[0].message
    assert hidden.errors[0].extensions == shown.errors[0].extensions
