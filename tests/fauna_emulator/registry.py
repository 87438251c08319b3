"""The form table: each FQL form is a primary key plus an exact set of allowed keys.

Dispatch is by the expression's exact key set (fauna-notes §6.4): `{"get":..}` and
`{"get":..,"ts":..}` are the same form with an optional key; any key set that no form accepts is
the core's "No form/function found, or invalid argument keys" error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import Pos
    from .evaluator import Env, Evaluator

Handler = Callable[["Evaluator", dict[str, Any], "Env", "Pos"], Any]


@dataclass(frozen=True)
class Form:
    required: frozenset[str]
    optional: frozenset[str]
    exclusive: tuple[frozenset[str], ...]
    handler: Handler

    def fits(self, keys: frozenset[str]) -> bool:
        if not self.required <= keys or not keys <= self.required | self.optional:
            return False
        return not any(group <= keys for group in self.exclusive)


FORMS: dict[str, Form] = {}


def form(
    name: str,
    *required: str,
    optional: tuple[str, ...] = (),
    exclusive: tuple[tuple[str, ...], ...] = (),
) -> Callable[[Handler], Handler]:
    """Register a handler for the form whose primary key is `name`."""

    def register(handler: Handler) -> Handler:
        assert name not in FORMS, name
        FORMS[name] = Form(
            frozenset((name, *required)),
            frozenset(optional),
            tuple(frozenset(g) for g in exclusive),
            handler,
        )
        return handler

    return register


def find_form(keys: list[str]) -> Form | None:
    keyset = frozenset(keys)
    found = [FORMS[k] for k in keys if k in FORMS and FORMS[k].fits(keyset)]
    return found[0] if len(found) == 1 else None
