"""The Strawberry internals the transports lean on, pinned: if an upgrade renames or
reshapes one, this fails first, naming it (pyproject.toml declares the range run).

Public hooks (class attributes, the handlers' `handle_*` methods) are pinned
too: an override that silently stops being called would lose a check.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.http.base import BaseView
from strawberry.http.streaming import (
    HTTPStreamTransport,
    MultipartSubscriptionTransport,
    SSETransport,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from graphql_app.http.http_view import HTTPGraphQLView
from graphql_app.http.view import GraphQLView


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize(
    ("owner", "name", "expected"),
    [
        # Public hooks of the view.
        (
            AsyncBaseHTTPView,
            "execute_operation",
            [
                "self",
                "request",
                "request_adapter",
                "request_data",
                "context",
                "root_value",
                "sub_response",
            ],
        ),
        # What the view's prepared-operation path calls as Strawberry's run() does
        # (http_view.py: HTTPGraphQLView._run).
        (AsyncBaseHTTPView, "_handle_errors", ["self", "errors", "response_data"]),
        (AsyncBaseHTTPView, "process_result", ["self", "request", "result"]),
        (GraphQL, "get_sub_response", ["self", "request"]),
        (GraphQL, "get_context", ["self", "request", "response"]),
        (BaseView, "decode_json", ["self", "data"]),
        # The WebSocket adapter: the only place frames are read and written.
        (ASGIWebSocketAdapter, "__init__", ["self", "view", "request", "response"]),
        (ASGIWebSocketAdapter, "iter_json", ["self", "ignore_parsing_errors"]),
        (ASGIWebSocketAdapter, "send_json", ["self", "message"]),
        # Legacy graphql-ws handler methods overridden whole.
        (BaseGraphQLWSHandler, "handle_message", ["self", "message"]),
        (BaseGraphQLWSHandler, "handle_connection_init", ["self", "message"]),
        (BaseGraphQLWSHandler, "handle_start", ["self", "message"]),
        (
            BaseGraphQLWSHandler,
            "handle_async_results",
            ["self", "operation_id", "query", "operation_name", "variables"],
        ),
        (BaseGraphQLWSHandler, "handle_keep_alive", ["self"]),
        (BaseGraphQLWSHandler, "send_data_message", ["self", "execution_result", "operation_id"]),
        (BaseGraphQLTransportWSHandler, "handle_message", ["self", "message"]),
        (BaseGraphQLTransportWSHandler, "handle_subscribe", ["self", "message"]),
        # The stream framing overridden, and which transport a request's Accept header picks.
        (HTTPStreamTransport, "accepts", ["self", "accept"]),
        (SSETransport, "encode_event", ["self", "event", "data"]),
        (SSETransport, "encode_comment", ["self", "comment"]),
    ],
)
def test_overridden_hooks_keep_their_signature(owner: type, name: str, expected: list[str]) -> None:
    assert parameters(getattr(owner, name)) == expected


def test_the_private_batch_check_the_view_overrides_is_still_called() -> None:
    """No public hook runs between parsing a JSON array and building its operations:
    http_view.py refuses empty batches and non-object items in `_validate_batch_request`."""
    expected = ["self", "request_data", "protocol"]
    assert parameters(BaseView._validate_batch_request) == expected
    assert parameters(HTTPGraphQLView._validate_batch_request) == expected
    assert "self._validate_batch_request(" in inspect.getsource(AsyncBaseHTTPView.parse_http_body)


def test_the_view_plugs_in_through_class_attributes_strawberry_reads() -> None:
    for name in (
        "websocket_adapter_class",
        "graphql_ws_handler_class",
        "graphql_transport_ws_handler_class",
        "stream_transport_classes_by_protocol",
    ):
        declared = {**BaseView.__annotations__, **AsyncBaseHTTPView.__annotations__}
        assert name in declared or hasattr(BaseView, name), name
        assert getattr(GraphQLView, name) is not getattr(GraphQL, name), name


def test_the_handlers_state_we_read_is_where_we_read_it() -> None:
    legacy = inspect.getsource(BaseGraphQLWSHandler.__init__)
    for attribute in ("self.tasks", "self.subscriptions", "self.keep_alive_task"):
        assert attribute in legacy
    assert "self.operations" in inspect.getsource(BaseGraphQLTransportWSHandler.__init__)
    # The multipart transport's Content-Type comes from its `headers` property.
    assert isinstance(inspect.getattr_static(MultipartSubscriptionTransport, "headers"), property)
