"""Every third-party package the code imports is a dependency pyproject.toml declares.

A package that only arrives through another one (Strawberry brings cross-web,
faunadb brings requests) can leave with that one's next release, or be pinned
where the code no longer fits: whatever graphql_app/ imports, it declares.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "graphql_app"


def imported_top_level_modules() -> dict[str, str]:
    """Each top-level module graphql_app/ imports (absolute imports), and one file importing it."""
    modules: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                modules.setdefault(name.partition(".")[0], str(path.relative_to(ROOT)))
    return modules


def declared_distributions() -> set[str]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    return {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}


def test_every_imported_package_is_a_declared_dependency() -> None:
    declared = declared_distributions()
    distributions = importlib.metadata.packages_distributions()
    third_party = {
        module: path
        for module, path in imported_top_level_modules().items()
        if module not in sys.stdlib_module_names and module != PACKAGE.name
    }
    assert {"strawberry", "graphql", "uvicorn"} <= third_party.keys()  # the scan sees imports
    undeclared = []
    for module, path in sorted(third_party.items()):
        providers = {canonicalize_name(name) for name in distributions.get(module, [])}
        if not providers & declared:
            undeclared.append(f"{module} (from {sorted(providers) or 'nothing installed'}: {path})")
    assert undeclared == []
