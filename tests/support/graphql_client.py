"""A tiny GraphQL-over-HTTP client for the tests, on httpx."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Result:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    def ok(self) -> Any:
        """The data, after checking there is no error."""
        assert not self.errors, self.errors
        assert self.status == 200, self.status
        return self.data


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient
    path: str = "/graphql"
    headers: dict[str, str] = field(default_factory=dict)

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Result:
        sent = {"content-type": "application/json", **self.headers, **(headers or {})}
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        # json.dumps escapes to ASCII, so even a lone surrogate travels as valid JSON.
        response = await self.http.post(self.path, content=json.dumps(payload), headers=sent)
        return Result(response.status_code, response.json())


SIGN_UP = """
mutation SignUp($input: CreateUserInput!) {
  createUser(input: $input) { token refreshToken expiresAt user { id email fullname createdAt } }
}
"""

LOG_IN = """
mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { token refreshToken expiresAt user { id email } }
}
"""

CREATE_TODO = """
mutation Create($input: CreateTodoInput!) {
  createTodo(input: $input) { id name isCompleted createdAt updatedAt creator { id } }
}
"""

TODOS_PAGE = """
query Page($first: Int, $after: String, $filter: TodoFilter) {
  todos(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name isCompleted createdAt } }
  }
}
"""

PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: str
    email: str
    token: str
    refresh_token: str


async def sign_up(gql: GraphQLClient, email: str, password: str = PASSWORD) -> Account:
    data = (
        await gql(
            SIGN_UP, {"input": {"email": email, "fullname": "Test User", "password": password}}
        )
    ).ok()["createUser"]
    return Account(data["user"]["id"], data["user"]["email"], data["token"], data["refreshToken"])


async def create_todo(
    gql: GraphQLClient, token: str, name: str, done: bool = False
) -> dict[str, Any]:
    result = await gql(CREATE_TODO, {"input": {"name": name, "isCompleted": done}}, token=token)
    return dict(result.ok()["createTodo"])
