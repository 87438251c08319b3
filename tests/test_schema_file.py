"""schema.graphql is exported from the code and honours the public contract."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema, find_breaking_changes

from graphql_app.schema import schema_sdl

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "docs" / "spec" / "contract.graphql"


def test_schema_file_is_fresh() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == schema_sdl(), "run `make schema` and commit schema.graphql"


def test_served_schema_does_not_break_the_contract() -> None:
    contract = build_schema(CONTRACT.read_text(encoding="utf-8"))
    served = build_schema(schema_sdl())
    assert [c.description for c in find_breaking_changes(contract, served)] == []
