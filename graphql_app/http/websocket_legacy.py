"""The legacy graphql-ws protocol (subscriptions-transport-ws) as Strawberry serves it, plus:

- queries and mutations sent with `start` run, as on graphql-transport-ws
  (Strawberry subscribes to them, which fails);
- a refused `connection_init` gets `connection_error` (with `extensions.code`)
  and closes with 4403, the code graphql-transport-ws uses (Strawberry: 1011,
  which clients take for a server fault);
- a malformed message closes with 4400 instead of a traceback;
- "Subscription limit reached" carries `extensions.code`.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    ErrorMessage,
    OperationMessage,
    StartMessage,
)
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UnsetType

from graphql_app.http.websocket_messages import BAD_REQUEST_CLOSE, limit_reached, message_problem
from graphql_app.schema.context import Context

REFUSED_CLOSE = 4403


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """Strawberry's graphql-ws handler, running every operation type, refusing clearly."""

    async def handle_message(self, message: OperationMessage) -> None:
        problem = message_problem(cast("dict[str, object]", message), "start")
        if problem is not None:
            await self.websocket.close(BAD_REQUEST_CLOSE, problem)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            await self.websocket.close(
                BAD_REQUEST_CLOSE, "The connection_init payload must be an object"
            )
            return
        self.context.connection_params = payload
        try:
            ack_payload = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as exc:
            await self.send_message({"type": "connection_error", "payload": exc.payload})
            await self.websocket.close(REFUSED_CLOSE, "Forbidden")
            return
        if isinstance(ack_payload, UnsetType) or ack_payload is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": ack_payload})
        self.connection_acknowledged = True
        if self.keep_alive and self.keep_alive_task is None:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())

    async def handle_start(self, message: StartMessage) -> None:
        limit = self.max_subscriptions_per_connection
        operation_id = message["id"]
        # Checked before Strawberry's own check, which sends an error without a code.
        running = len(self.tasks) - (operation_id in self.tasks)
        if self.connection_acknowledged and limit is not None and running >= limit:
            await self.send_message(
                ErrorMessage(type="error", id=operation_id, payload=limit_reached(limit))
            )
            return
        self.context.read_afresh()
        await super().handle_start(message)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        # Strawberry's, with `stream` (any operation type) for `subscribe`.
        try:
            result_source: Any = await self.schema.stream(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=self.context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = result_source
            is_first_result = True
            async for result in result_source:
                if is_first_result and isinstance(result, PreExecutionError):
                    assert result.errors
                    await self.send_message(
                        ErrorMessage(
                            type="error", id=operation_id, payload=result.errors[0].formatted
                        )
                    )
                    return
                await self.send_data_message(result, operation_id)
                is_first_result = False
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        except asyncio.CancelledError:
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)
