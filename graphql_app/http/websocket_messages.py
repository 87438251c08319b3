"""Checks and refusals both WebSocket protocols share.

A message the protocol cannot act on closes the socket with 4400 (Bad
Request) and a reason, instead of failing inside Strawberry with a traceback;
a refused operation carries an `extensions.code` like every other error.
"""

from __future__ import annotations

from graphql import GraphQLFormattedError

from graphql_app.errors import BadRequest

BAD_REQUEST_CLOSE = 4400


def operation_problem(message: dict[str, object]) -> str | None:
    """Why an operation message (graphql-transport-ws `subscribe`, graphql-ws `start`)
    cannot run, or None: a string id, a payload object with a string query."""
    operation_id = message.get("id")
    if not isinstance(operation_id, str) or not operation_id:
        return "An operation needs a string id"
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return "An operation's payload must be an object"
    if not isinstance(payload.get("query"), str):
        return "An operation's payload needs a string query"
    if not isinstance(payload.get("variables"), (dict, type(None))):
        return "An operation's variables must be an object"
    if not isinstance(payload.get("operationName"), (str, type(None))):
        return "An operation's operationName must be a string"
    return None


def message_problem(message: dict[str, object], operation_type: str) -> str | None:
    """Why a message cannot be handled, or None."""
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message needs a string type"
    if kind == operation_type:
        return operation_problem(message)
    if kind in ("stop", "complete") and not isinstance(message.get("id"), str):
        return "An operation needs a string id"
    return None


def limit_reached(limit: int) -> GraphQLFormattedError:
    """The refusal of one operation too many on a connection."""
    error = BadRequest(
        f"Subscription limit reached: at most {limit} operations at once on one connection"
    )
    return {"message": error.message, "extensions": error.extensions}
