"""The README's Layout section and bench/README.md's file table name every module.

A module added without a word in the layout is found here, not by the next
engineer looking for it.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def section(path: Path, heading: str) -> str:
    """The text under `heading` (a `## ` line) up to the next `## ` heading."""
    text = path.read_text()
    assert f"\n{heading}\n" in text, f"{path.name} has no {heading!r}"
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def modules(package: str) -> list[Path]:
    """The package's Python modules and script files, __init__.py aside."""
    return sorted(
        path
        for pattern in ("*.py", "*.sh", "*.js")
        for path in (ROOT / package).rglob(pattern)
        if path.name != "__init__.py"
        and "node_modules" not in path.parts
        and "static" not in path.parts  # GraphiQL's vendored assets: graphiql.py (+ static/)
    )


def named(text: str, path: Path) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(path.name)}(?!\w)", text) is not None


def test_the_layout_names_every_module_of_the_package_and_scripts() -> None:
    layout = section(ROOT / "README.md", "## Layout")
    missing = [
        str(path.relative_to(ROOT))
        for package in ("graphql_app", "scripts")
        for path in modules(package)
        if not named(layout, path) and path.parent.name != "migrations"
    ]
    assert not missing, f"README's Layout section does not name: {missing}"


def test_the_bench_readme_names_every_bench_file() -> None:
    table = section(ROOT / "bench" / "README.md", "## Files")
    missing = [
        str(path.relative_to(ROOT))
        for path in modules("bench")
        # A Node peer's server.js is named by its folder (`apollo/`, `yoga/`, …).
        if not named(table, path) and f"`{path.parent.name}/" not in table
    ]
    assert not missing, f"bench/README.md's Files table does not name: {missing}"
