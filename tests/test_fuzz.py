"""Generated requests against a real server: never a 5xx, never INTERNAL_SERVER_ERROR,
every error with an `extensions.code`.

Documents come from hypothesis-graphql, generated from the served schema:
valid queries and mutations with arbitrary argument values (POSITIVE), and
documents with one schema violation each (NEGATIVE); cursors and variables
are generated too. They run against `python -m graphql_app serve` as an
authenticated user. The example budget is fixed (EXAMPLES per case), so
the run stays bounded (about 20 s here) whatever the machine.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries

from graphql_app.schema import schema_sdl
from tests.support.environment import sqlite_env
from tests.support.graphql_client import PASSWORD, TODOS_PAGE
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.slow

EXAMPLES = 120
SCHEMA = schema_sdl()
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a real server on a shared machine: durations are not the point
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Target:
    def __init__(self, server: LiveServer) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=30)
        sign_up = self.post(
            {
                "query": "mutation($i: CreateUserInput!) { createUser(input: $i) { token } }",
                "variables": {
                    "i": {"email": "fuzz@example.com", "fullname": "F", "password": PASSWORD}
                },
            },
            token=False,
        )
        self.token = sign_up.json()["data"]["createUser"]["token"]
        for name in ("one", "two", "three"):
            self.post({"query": f'mutation {{ createTodo(input: {{name: "{name}"}}) {{ id }} }}'})

    def post(self, body: Any, token: bool = True) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if token is True:
            headers["authorization"] = f"Bearer {self.token}"
        # json.dumps (not orjson) so that lone surrogates travel as valid \\u escapes.
        return self.http.post("/graphql", content=json.dumps(body), headers=headers)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    workdir = tmp_path_factory.mktemp("fuzz")
    with live_server(workdir, sqlite_env(workdir, "fuzz")) as server:
        target = Target(server)
        yield target
        target.http.close()


def check(response: httpx.Response, sent: object) -> None:
    """What must hold for any request: a client error at worst, always coded."""
    assert response.status_code < 500, (response.status_code, response.text, sent)
    body = response.json()
    for result in body if isinstance(body, list) else [body]:
        for error in result.get("errors") or []:
            code = (error.get("extensions") or {}).get("code")
            assert isinstance(code, str), (error, sent)
            assert code != "INTERNAL_SERVER_ERROR", (error, sent)


@FUZZ
@given(document=queries(SCHEMA) | mutations(SCHEMA))
def test_generated_valid_documents(target: Target, document: str) -> None:
    check(target.post({"query": document}), document)


@FUZZ
@given(
    document=queries(SCHEMA, mode=Mode.NEGATIVE) | mutations(SCHEMA, mode=Mode.NEGATIVE),
    authenticated=st.booleans(),
)
def test_generated_invalid_documents(target: Target, document: str, authenticated: bool) -> None:
    check(target.post({"query": document}, token=authenticated), document)


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


cursors = st.one_of(
    st.text(),
    st.binary().map(_cursor),
    st.builds(
        lambda micros, todo_id: _cursor(f"p1:{micros}:{todo_id}".encode("utf-8", "surrogatepass")),
        st.one_of(st.integers(min_value=-(10**30), max_value=10**30), st.text(max_size=25)),
        st.text(),
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@FUZZ
@given(
    first=st.one_of(st.integers(min_value=-(2**63), max_value=2**64), json_values),
    after=st.one_of(cursors, json_values),
    filter=json_values,
)
def test_generated_variables(target: Target, first: Any, after: Any, filter: Any) -> None:
    variables = {"first": first, "after": after, "filter": filter}
    check(target.post({"query": TODOS_PAGE, "variables": variables}), variables)


int_literals = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=1, max_value=6000).map(lambda digits: "9" * digits),
    st.floats().map(repr).filter(lambda text: text[-1].isdigit()),  # 1e+300, 0.5, ...
)


@FUZZ
@given(after=cursors, first=int_literals)
def test_generated_literals(target: Target, after: str, first: str) -> None:
    # The same values written into the document, where graphql-core reads them itself.
    arguments = f"first: {first}, after: {json.dumps(after)}"
    document = f"{{ todos({arguments}) {{ totalCount edges {{ cursor }} }} }}"
    check(target.post({"query": document}), document)
