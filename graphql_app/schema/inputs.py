"""GraphQL input types of the contract."""

from __future__ import annotations

import strawberry


@strawberry.input(name="CreateUserInput")
class CreateUserInput:
    email: str
    fullname: str
    password: str


@strawberry.input(name="LogInInput")
class LogInInput:
    email: str
    password: str


@strawberry.input(name="CreateTodoInput")
class CreateTodoInput:
    name: str
    is_completed: bool | None = False


@strawberry.input(name="UpdateTodoInput")
class UpdateTodoInput:
    name: str | None = None
    is_completed: bool | None = None
