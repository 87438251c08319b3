"""The fast executor never skips what graphql-core's path would run (issue 11, finding 9).

A small schema served with the app's executor and error extension: a field
with a denying permission, a field extension or a resolver gets exactly what
Strawberry gives it on graphql-core's path; only plain attribute reads are
answered inline. Whatever the executor cannot recognise turns it off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest
import strawberry
from graphql import GraphQLField, GraphQLResolveInfo, GraphQLString
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.permission import BasePermission
from strawberry.types import Info

from graphql_app.schema import AppSchema
from graphql_app.schema import execution as fast_execution
from graphql_app.schema.error_formatting import error_codes
from graphql_app.schema.execution import (
    TESTED_VERSIONS,
    FastExecutor,
    fast_path_problems,
    plain_attribute,
    plan_of,
)


class Deny(BasePermission):
    message = "Denied"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return False


class Shout(FieldExtension):
    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Secret:
    plain: str
    denied: str | None = strawberry.field(permission_classes=[Deny])
    shouted: str = strawberry.field(extensions=[Shout()])

    @strawberry.field
    def resolved(self) -> str:
        return f"resolved {self.plain}"


@strawberry.type
class Holder:
    secret: Secret
    secrets: list[Secret]
    denied_secret: Secret | None = strawberry.field(permission_classes=[Deny])


def a_secret(n: int = 0) -> Secret:
    return Secret(plain=f"p{n}", denied=f"d{n}", shouted=f"s{n}")


@strawberry.type
class Query:
    @strawberry.field
    def holder(self) -> Holder:
        return Holder(
            secret=a_secret(), secrets=[a_secret(1), a_secret(2)], denied_secret=a_secret()
        )


SECRET = "{ plain denied shouted resolved }"
QUERY = f"{{ holder {{ secret {SECRET} secrets {SECRET} deniedSecret {{ plain }} }} }}"


class CountingExecutor(FastExecutor):
    """The app's executor, remembering whether it took the fast path."""

    fast_runs: ClassVar[list[bool]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        CountingExecutor.fast_runs.append(self._fast)


def small_schema(
    executor: type[FastExecutor] | None, extensions: tuple[Any, ...] = ()
) -> AppSchema:
    return AppSchema(
        query=Query,
        extensions=[error_codes(hide_suggestions=False), *extensions],
        execution_context_class=executor,
    )


async def run(schema: AppSchema) -> tuple[Any, list[dict[str, Any]]]:
    result = await schema.execute(QUERY)
    errors = sorted(
        (
            {"path": e.path, "message": e.message, **(e.extensions or {})}
            for e in result.errors or []
        ),
        key=str,
    )
    return result.data, errors


@pytest.fixture(autouse=True)
def fresh_runs() -> None:
    CountingExecutor.fast_runs = []


async def test_a_denied_field_gets_its_error_through_the_apps_executor() -> None:
    data, errors = await run(small_schema(CountingExecutor))
    assert CountingExecutor.fast_runs == [True]  # the fast path ran, and still:
    secret = {"plain": "p0", "denied": None, "shouted": "S0", "resolved": "resolved p0"}
    assert data == {
        "holder": {
            "secret": secret,
            "secrets": [
                {"plain": "p1", "denied": None, "shouted": "S1", "resolved": "resolved p1"},
                {"plain": "p2", "denied": None, "shouted": "S2", "resolved": "resolved p2"},
            ],
            "deniedSecret": None,
        }
    }
    # Strawberry's permission error is not one of the app's: masked, but an error.
    assert [e["path"] for e in errors] == sorted(
        [
            ["holder", "secret", "denied"],
            ["holder", "secrets", 0, "denied"],
            ["holder", "secrets", 1, "denied"],
            ["holder", "deniedSecret"],
        ],
        key=str,
    )
    # The same answer as graphql-core's own executor, error for error.
    assert (data, errors) == await run(small_schema(None))


def test_only_plain_attribute_reads_qualify() -> None:
    fields = small_schema(FastExecutor)._schema.type_map["Secret"].fields  # type: ignore[attr-defined]
    assert plain_attribute(fields["plain"]) == "plain"
    assert plan_of(fields["plain"]) is not None
    for name in ("denied", "shouted", "resolved"):
        assert plain_attribute(fields[name]) is None, name
        assert plan_of(fields[name]) is None, name
    holder = small_schema(FastExecutor)._schema.type_map["Holder"].fields  # type: ignore[attr-defined]
    assert plan_of(holder["deniedSecret"]) is None


def test_a_field_the_code_cannot_read_does_not_qualify() -> None:
    """A field graphql-core knows but Strawberry did not describe, or whose resolver
    lost the marks it is recognised by (a renamed private attribute)."""
    bare = GraphQLField(GraphQLString)
    assert plain_attribute(bare) is None
    schema_field = small_schema(FastExecutor)._schema.type_map["Secret"].fields["plain"]  # type: ignore[attr-defined]

    def renamed(source: Any, *args: Any, **kwargs: Any) -> Any:
        return schema_field.resolve(source, *args, **kwargs)

    unmarked = GraphQLField(
        GraphQLString, resolve=renamed, extensions=dict(schema_field.extensions)
    )
    assert plain_attribute(unmarked) is None
    renamed._is_default = True  # type: ignore[attr-defined]
    assert plain_attribute(unmarked) is None  # still not Strawberry's basic resolver


class Recorder(SchemaExtension):
    """Wraps every resolver, as tracing or a custom directive does."""

    calls: ClassVar[list[str]] = []

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: str,
        **kwargs: Any,
    ) -> Any:
        Recorder.calls.append(info.field_name)
        return _next(root, info, *args, **kwargs)


async def test_middleware_turns_the_fast_path_off() -> None:
    Recorder.calls = []
    await run(small_schema(CountingExecutor, (Recorder,)))
    fast_calls = sorted(Recorder.calls)
    Recorder.calls = []
    await run(small_schema(None, (Recorder,)))
    assert CountingExecutor.fast_runs == [False]
    assert fast_calls == sorted(Recorder.calls) and "plain" in fast_calls


def test_the_installed_versions_are_the_tested_ones() -> None:
    """Fails when a dependency moved: run the suite on it, then add it to TESTED_VERSIONS."""
    assert fast_path_problems() == []
    assert fast_execution.FAST_PATH_PROBLEMS == []


def test_an_untested_version_turns_the_fast_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    tested = {name: sorted(versions)[0] for name, versions in TESTED_VERSIONS.items()}
    assert fast_path_problems(tested) == []
    for name in TESTED_VERSIONS:
        problems = fast_path_problems({**tested, name: "99.0.0"})
        assert problems and name in problems[0]
    assert fast_path_problems({**tested, "graphql-core": None})


async def test_known_problems_keep_every_field_on_the_standard_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fast_execution, "FAST_PATH_PROBLEMS", ["graphql-core 9.9.9 is untested"])
    data, errors = await run(small_schema(CountingExecutor))
    assert CountingExecutor.fast_runs == [False]
    assert (data, errors) == await run(small_schema(None))


def test_pyproject_declares_the_tested_versions() -> None:
    """graphql-core is declared (it was only a transitive dependency), and every
    range the project allows holds the versions the suite ran."""
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    declared = {}
    for line in pyproject["project"]["dependencies"]:
        requirement = Requirement(line)
        declared[requirement.name] = requirement.specifier
    for name in (*TESTED_VERSIONS, "uvicorn"):
        assert name in declared, f"{name} is not declared"
        assert not declared[name].contains("99.0.0"), f"{name} has no upper bound"
    for name, versions in TESTED_VERSIONS.items():
        assert all(declared[name].contains(v) for v in versions), name
