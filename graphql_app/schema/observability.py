"""Metrics and the request log's GraphQL facts, taken from each operation.

Listed before `ErrorCodes` in the schema's extensions, so that it leaves the
operation after the errors have their codes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult, StreamExecutionResult
from strawberry.types.graphql import OperationType

from graphql_app.metrics import Metrics
from graphql_app.request_record import OperationRecord, current_record

# The log keeps a client's operation name only when it is a GraphQL name.
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


def error_codes_of(result: object) -> list[str]:
    """The `extensions.code` of each error of a result."""
    if not isinstance(result, (GraphQLExecutionResult, ExecutionResult)) or not result.errors:
        return []
    return [str((e.extensions or {}).get("code", "UNKNOWN")) for e in result.errors]


def loggable_name(name: str | None) -> str | None:
    """The operation name if it is a GraphQL name, else a placeholder: it comes from clients."""
    if name is None:
        return None
    return name if NAME.fullmatch(name) else "<invalid>"


def record_operation(
    metrics: Metrics | None,
    operation_name: str | None,
    operation_type: str,
    seconds: float | None,
    codes: list[str],
    context: object,
) -> None:
    """An operation's facts into the request log's record and the metrics.

    Also what schema/prepared.py calls for the operations it runs itself.
    """
    name = loggable_name(operation_name)
    record = current_record()
    if record is not None:
        record.operations.append(OperationRecord(name, operation_type, codes))
        user_id = getattr(context, "user_id", None)
        if isinstance(user_id, str):
            record.user_id = user_id
    if metrics is not None:
        metrics.observe_operation(name, operation_type, seconds, codes)


class Observe(SchemaExtension):
    """Counts operations, their duration, their errors by code and live subscriptions."""

    def __init__(self, metrics: Metrics | None) -> None:
        self.metrics = metrics
        self._subscription = False
        self._stream_codes: list[str] = []

    def _operation_type(self) -> str:
        try:
            return self.execution_context.operation_type.value
        except Exception:  # an unparsable document, or an unknown operation name
            return "unknown"

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self._finish(time.perf_counter() - started)

    def _finish(self, seconds: float) -> None:
        context = self.execution_context
        operation_type = self._operation_type()
        codes = self._stream_codes if self._subscription else error_codes_of(context.result)
        if self.metrics is not None and self._subscription:
            self.metrics.active_subscriptions.dec()
        # A subscription's lifetime is not a latency: count it, don't time it.
        record_operation(
            self.metrics,
            context.operation_name,
            operation_type,
            None if self._subscription else seconds,
            codes,
            context.context,
        )

    def on_execute(self) -> Iterator[None]:
        if self._operation_type() == OperationType.SUBSCRIPTION.value:
            self._subscription = True
            if self.metrics is not None:
                self.metrics.active_subscriptions.inc()
        yield

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        yield
        # After the yield: ErrorCodes (listed after this) has coded the errors by now.
        self._stream_codes.extend(error_codes_of(result))


def observe(metrics: Metrics | None) -> Callable[[], Any]:
    """A factory of the extension: Strawberry makes one per operation."""
    return lambda: Observe(metrics)
