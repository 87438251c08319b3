"""Mutation fields: thin resolvers over the services."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from graphql_app.schema.context import Context
from graphql_app.schema.inputs import CreateTodoInput, CreateUserInput, LogInInput, UpdateTodoInput
from graphql_app.schema.types import AuthPayload, DeleteTodoPayload, TodoType
from graphql_app.services.users import AuthResult


def auth_payload(result: AuthResult) -> AuthPayload:
    return AuthPayload(
        token=result.token,
        refresh_token=result.refresh_token,
        expires_at=result.expires_at,
        user_id=result.user_id,
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Sign up; the new user is logged in at once.")
    async def create_user(self, info: Info[Context, None], input: CreateUserInput) -> AuthPayload:
        context = info.context
        result = await context.services.accounts.sign_up(
            input.email, input.fullname, input.password, context.client
        )
        return auth_payload(result)

    @strawberry.mutation(description="Trade email and password for tokens.")
    async def log_in(self, info: Info[Context, None], input: LogInInput) -> AuthPayload:
        context = info.context
        result = await context.services.accounts.log_in(input.email, input.password, context.client)
        return auth_payload(result)

    @strawberry.mutation(
        description="Trade a refresh token for new tokens; the old refresh token stops working."
    )
    async def refresh_token(self, info: Info[Context, None], refresh_token: str) -> AuthPayload:
        context = info.context
        result = await context.services.accounts.refresh(refresh_token, context.client)
        return auth_payload(result)

    @strawberry.mutation(description="Revoke a refresh token (log out this device).")
    async def log_out(self, info: Info[Context, None], refresh_token: str) -> bool:
        return await info.context.services.accounts.log_out(refresh_token)

    @strawberry.mutation(
        description=(
            "Change the password. Every access and refresh token of the user issued "
            "before it stops working (TOKEN_REVOKED), on every server: log in again."
        )
    )
    async def change_password(
        self, info: Info[Context, None], current_password: str, new_password: str
    ) -> bool:
        user_id = info.context.require_user_id()
        return await info.context.services.accounts.change_password(
            user_id, current_password, new_password
        )

    @strawberry.mutation(
        description=(
            "Delete the caller's account and all of its todos; its tokens stop working "
            "(TOKEN_REVOKED)."
        )
    )
    async def delete_account(self, info: Info[Context, None], password: str) -> bool:
        user_id = info.context.require_user_id()
        return await info.context.services.accounts.delete_account(user_id, password)

    @strawberry.mutation(
        description=(
            "Log out on every device: every access and refresh token of the caller issued "
            "until now stops working (TOKEN_REVOKED), on every server."
        )
    )
    async def log_out_everywhere(self, info: Info[Context, None]) -> bool:
        user_id = info.context.require_user_id()
        return await info.context.services.accounts.log_out_everywhere(user_id)

    @strawberry.mutation
    async def create_todo(self, info: Info[Context, None], input: CreateTodoInput) -> TodoType:
        user_id = info.context.require_user_id()
        todo = await info.context.services.todos.create(
            user_id, input.name, bool(input.is_completed)
        )
        return TodoType.from_model(todo)

    @strawberry.mutation(
        description="NOT_FOUND error when the todo does not exist or is someone else's."
    )
    async def update_todo(
        self, info: Info[Context, None], id: strawberry.ID, input: UpdateTodoInput
    ) -> TodoType:
        user_id = info.context.require_user_id()
        todo = await info.context.services.todos.update(
            user_id, str(id), input.name, input.is_completed
        )
        return TodoType.from_model(todo)

    @strawberry.mutation(
        description="NOT_FOUND error when the todo does not exist or is someone else's."
    )
    async def delete_todo(self, info: Info[Context, None], id: strawberry.ID) -> DeleteTodoPayload:
        user_id = info.context.require_user_id()
        deleted = await info.context.services.todos.delete(user_id, str(id))
        return DeleteTodoPayload(id=strawberry.ID(deleted), message="Todo deleted")

    @strawberry.mutation(
        description="Mark every todo of the caller completed or active; returns how many changed."
    )
    async def set_all_todos_completed(self, info: Info[Context, None], is_completed: bool) -> int:
        user_id = info.context.require_user_id()
        return await info.context.services.todos.set_all_completed(user_id, is_completed)

    @strawberry.mutation(
        description="Delete every completed todo of the caller; returns how many were deleted."
    )
    async def clear_completed_todos(self, info: Info[Context, None]) -> int:
        user_id = info.context.require_user_id()
        return await info.context.services.todos.clear_completed(user_id)
