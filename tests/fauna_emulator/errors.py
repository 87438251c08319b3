"""Query errors with the core's codes, descriptions and HTTP statuses (fauna-notes §2, §6)."""

from __future__ import annotations

from typing import Any

from .values import type_name

Pos = list[str | int]


class QueryError(Exception):
    """One entry of the response's `errors` list; raising it aborts the whole transaction."""

    def __init__(
        self,
        code: str,
        description: str,
        position: Pos | None,
        *,
        status: int = 400,
        failures: list[dict[str, Any]] | None = None,
        cause: list[QueryError] | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.position = position
        self.status = status
        self.failures = failures
        self.cause = cause

    def to_json(self) -> dict[str, Any]:
        # Key order as the core writes it: position, code, description (then failures, cause).
        out: dict[str, Any] = {}
        if self.position is not None:
            out["position"] = list(self.position)
        out["code"] = self.code
        out["description"] = self.description
        if self.failures:
            out["failures"] = self.failures
        if self.cause:
            out["cause"] = [c.to_json() for c in self.cause]
        return out


def invalid_expression(pos: Pos, description: str) -> QueryError:
    return QueryError("invalid expression", description, pos)


def invalid_form(pos: Pos, keys: list[str]) -> QueryError:
    return invalid_expression(
        pos, f"No form/function found, or invalid argument keys: {{ {', '.join(keys)} }}."
    )


def unsupported(pos: Pos, what: str) -> QueryError:
    # Same code and status as an unknown form: the emulator does not implement `what`.
    return invalid_expression(pos, f"{what} is not supported by this emulator.")


def invalid_argument(pos: Pos, description: str) -> QueryError:
    return QueryError("invalid argument", description, pos)


def expected(pos: Pos, types: list[str], value: Any) -> QueryError:
    if len(types) == 1:
        want = types[0]
    elif len(types) == 2:
        want = f"{types[0]} or {types[1]}"
    else:
        want = f"{', '.join(types[:-1])}, or {types[-1]}"
    return invalid_argument(pos, f"{want} expected, {type_name(value)} provided.")


def invalid_ref(pos: Pos, kind: str, name: str) -> QueryError:
    return QueryError("invalid ref", f"Ref refers to undefined {kind} '{name}'", pos)


def not_found(pos: Pos, description: str) -> QueryError:
    return QueryError("instance not found", description, pos, status=404)


def already_exists(pos: Pos, what: str) -> QueryError:
    return QueryError("instance already exists", f"{what} already exists.", pos)


def not_unique(pos: Pos) -> QueryError:
    return QueryError("instance not unique", "document is not unique.", pos)


def validation_failed(pos: Pos, field: list[str], code: str, description: str) -> QueryError:
    failure = {"field": field, "code": code, "description": description}
    return QueryError("validation failed", "document data is not valid.", pos, failures=[failure])


def invalid_type_failure(pos: Pos, field: list[str], want: str, value: Any) -> QueryError:
    got = {"Integer": "Long"}.get(type_name(value), type_name(value))
    return validation_failed(
        pos, field, "invalid type", f"Invalid type {got}, expected type {want}."
    )
